/*
 * manyexit - a plain System V program whose many children end at once:
 * the daemon then has more hang-ups and exits pending than one look at
 * its departures takes (64), and nattch must still be exact the moment
 * the last waitpid() returns.
 *
 *   manyexit N
 *       Attaches a new private segment, forks N children that hold the
 *       inherited attachment until the parent lets them all go at once,
 *       and prints nattch with them alive and once all are reaped.
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static int id = -1;

static void die(const char *what)
{
	fprintf(stderr, "manyexit: %s: %s\n", what, strerror(errno));
	if (id >= 0)
		(void)shmctl(id, IPC_RMID, NULL);
	exit(2);
}

static long nattch(void)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		die("IPC_STAT");
	return (long)ds.shm_nattch;
}

int main(int argc, char **argv)
{
	long n = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
	pid_t *kids;
	int go[2];
	char c;

	if (n < 1 || n > 4096) {
		fprintf(stderr, "usage: manyexit N (1 to 4096)\n");
		return 2;
	}
	kids = calloc((size_t)n, sizeof(*kids));
	if (!kids)
		die("calloc");
	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id < 0)
		die("shmget");
	if (shmat(id, NULL, 0) == (void *)-1)
		die("shmat");
	if (pipe(go) < 0)
		die("pipe");
	for (long i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			close(go[1]);
			while (read(go[0], &c, 1) > 0)
				;
			_exit(0);
		}
	}
	close(go[0]);
	printf("with %ld children: nattch %ld\n", n, nattch());
	close(go[1]);
	for (long i = 0; i < n; i++)
		if (waitpid(kids[i], NULL, 0) != kids[i])
			die("waitpid");
	printf("all reaped: nattch %ld\n", nattch());
	free(kids);
	if (shmctl(id, IPC_RMID, NULL) < 0)
		die("IPC_RMID");
	return 0;
}
