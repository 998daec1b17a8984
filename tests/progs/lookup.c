/*
 * lookup - a plain System V program that answers questions on stdin, one
 * per line, so that a test can ask it the same thing before and after
 * something happens to the daemon (it knows nothing of ushm):
 *
 *   get KEY      shmget(KEY, 0, 0): the id, or the errno's name
 *   gets KEY N   the same N times: "N same ID", or the first that differs
 *   stat ID      IPC_STAT: "nattch N", or the errno's name
 *
 * Each answer is one line on stdout, flushed.  Exits at end of input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

static void get(key_t key, long n)
{
	int first = shmget(key, 0, 0), err = errno;

	for (long i = 1; i < n; i++) {
		int id = shmget(key, 0, 0);

		if (id != first) {
			printf("call %ld: %d, not %d\n", i, id, first);
			return;
		}
	}
	if (first < 0)
		printf("%s\n", strerrorname_np(err));
	else if (n > 1)
		printf("%ld same %d\n", n, first);
	else
		printf("%d\n", first);
}

int main(void)
{
	char line[128], cmd[16];
	long a, b;

	while (fgets(line, sizeof(line), stdin)) {
		int n = sscanf(line, "%15s %li %li", cmd, &a, &b);
		struct shmid_ds ds;

		if (n >= 2 && strcmp(cmd, "get") == 0) {
			get((key_t)a, 1);
		} else if (n == 3 && strcmp(cmd, "gets") == 0) {
			get((key_t)a, b);
		} else if (n == 2 && strcmp(cmd, "stat") == 0) {
			if (shmctl((int)a, IPC_STAT, &ds) < 0)
				printf("%s\n", strerrorname_np(errno));
			else
				printf("nattch %lu\n", (unsigned long)ds.shm_nattch);
		} else {
			printf("? %s", line);
		}
		fflush(stdout);
	}
	return 0;
}
