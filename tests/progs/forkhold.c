/*
 * forkhold - a parent that attaches a segment, forks a child that holds
 * the inherited attachment until told to go, and reports nattch as the
 * parent sees it.
 *
 *   forkhold ID [call]
 *       Attaches segment ID, forks, prints "forked N" (nattch right
 *       after fork() returned) and "child PID", then waits for a line on
 *       its standard input; lets the child exit, reaps it, prints
 *       "reaped N" (nattch right after waitpid() returned) and "child
 *       exit S" (the child's exit status), detaches and exits 0.  With
 *       "call", the child first makes and removes a segment of its own
 *       (exit status 3 if that fails).
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static long nattch(int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0) {
		perror("forkhold: IPC_STAT");
		exit(2);
	}
	return (long)ds.shm_nattch;
}

int main(int argc, char **argv)
{
	int go[2], id, st;
	char line[16];
	void *p;
	pid_t child;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "call"))) {
		fprintf(stderr, "usage: forkhold ID [call]\n");
		return 2;
	}
	id = atoi(argv[1]);
	p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		perror("forkhold: shmat");
		return 2;
	}
	if (pipe(go) < 0) {
		perror("forkhold: pipe");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("forkhold: fork");
		return 2;
	}
	if (child == 0) {
		char c;

		close(go[1]);
		if (argc == 3) {
			int own = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

			if (own < 0 || shmctl(own, IPC_RMID, NULL) < 0)
				_exit(3);
		}
		/* Until the parent closes its end. */
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(go[0]);
	printf("forked %ld\nchild %ld\n", nattch(id), (long)child);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	close(go[1]);
	if (waitpid(child, &st, 0) != child) {
		perror("forkhold: waitpid");
		return 2;
	}
	printf("reaped %ld\nchild exit %d\n", nattch(id),
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return shmdt(p) == 0 ? 0 : 2;
}
