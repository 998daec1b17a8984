/*
 * forkthreads - a fork in one thread while another forks through the
 * shim: the child must not use what the other thread left behind
 * (src/lib/forkproto.c publishes a pointer into the forking thread's
 * stack while it forks).
 *
 *   forkthreads ROUNDS [nocall]
 *       Makes and removes a segment (with "nocall", makes no call
 *       before the threads fork), starts a thread that forks and reaps
 *       children for ever, and ROUNDS times forks from the main thread through libc's
 *       own fork (found with dlsym in libc, as libc's daemon() forks).
 *       Each such child unmaps the other thread's stack (which does not
 *       exist in it: glibc may free it), makes and removes a segment,
 *       and forks once more through libc's fork.  Prints "ROUNDS rounds" when every child exited 0,
 *       else "round N: child STATUS" for the first that did not.
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *forker(void *arg)
{
	(void)arg;
	for (;;) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			(void)waitpid(pid, NULL, 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 300;
	int nocall = argc > 2 && strcmp(argv[2], "nocall") == 0;
	int id = nocall ? 0 : shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	pid_t (*libc_fork)(void) =
		libc ? (pid_t(*)(void))dlsym(libc, "fork") : NULL;
	pthread_attr_t attr;
	pthread_t t;
	void *stack;
	size_t size;

	if (id < 0 || (!nocall && shmctl(id, IPC_RMID, NULL) < 0) ||
	    !libc_fork) {
		perror("forkthreads: shmget, IPC_RMID or libc's fork");
		return 2;
	}
	if (pthread_create(&t, NULL, forker, NULL) != 0 ||
	    pthread_getattr_np(t, &attr) != 0 ||
	    pthread_attr_getstack(&attr, &stack, &size) != 0 ||
	    pthread_attr_destroy(&attr) != 0) {
		fprintf(stderr, "forkthreads: the forking thread\n");
		return 2;
	}
	for (int i = 0; i < rounds; i++) {
		pid_t pid = libc_fork();
		int st;

		if (pid == 0) {
			/* Without libc: its allocator's state is the parent's. */
			(void)syscall(SYS_munmap, stack, size);
			id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
			if (id < 0 || shmctl(id, IPC_RMID, NULL) < 0)
				_exit(3);
			pid = libc_fork();
			if (pid == 0)
				_exit(0);
			_exit(pid > 0 && waitpid(pid, &st, 0) == pid &&
					       WIFEXITED(st) && WEXITSTATUS(st) == 0 ?
				      0 :
				      1);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid) {
			perror("forkthreads: fork or waitpid");
			return 2;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("round %d: child %s %d\n", i,
			       WIFEXITED(st) ? "exit" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			return 0;
		}
	}
	printf("%d rounds\n", rounds);
	return 0;
}
