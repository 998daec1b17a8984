/*
 * reader - waits (up to TIMEOUT seconds, default 10) for the writer's
 * segment and its message, attached once and read-only, then prints it.
 * It polls with a growing pause between looks, never faster than every
 * 100 microseconds; ushm_wait() (see the channel examples) removes the
 * polling altogether.
 *
 *   reader [TIMEOUT]     exit 0 with the message, 1 on failure or timeout
 */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps a little longer each time, up to 10 ms. */
static void pause_for(long *ns)
{
	struct timespec ts = { 0, *ns };

	nanosleep(&ts, NULL);
	if (*ns < 10000000)
		*ns *= 2;
}

int main(int argc, char **argv)
{
	double deadline = now() + (argc > 1 ? atof(argv[1]) : 10.0);
	const struct message *m;
	long ns = 100000;
	int id;

	while ((id = shmget(EXAMPLE_KEY, 0, 0)) < 0) {
		if (errno != ENOENT || now() > deadline) {
			perror("reader: shmget");
			return 1;
		}
		pause_for(&ns);
	}
	m = shmat(id, NULL, SHM_RDONLY);
	if (m == (void *)-1) {
		perror("reader: shmat");
		return 1;
	}
	ns = 100000;
	while (!__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE)) {
		if (now() > deadline) {
			fprintf(stderr, "reader: no message within the time "
					"allowed\n");
			shmdt(m);
			return 1;
		}
		pause_for(&ns);
	}
	printf("reader: received \"%.*s\"\n", (int)m->len, m->text);
	if (shmdt(m) < 0) {
		perror("reader: shmdt");
		return 1;
	}
	return 0;
}
