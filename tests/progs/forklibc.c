/*
 * forklibc - forks the shim sees, and a fork it does not: the fork
 * handlers must tell ushm__fork's forks from others (src/lib/forkproto.c).
 *
 *   forklibc
 *       Forks a child that exits at once, and reaps it, before any call
 *       (under ushm-run the shim's fork then finds no fork handlers
 *       installed).  Then makes a private segment and attaches it, and
 *       forks once more through libc's own fork, found with dlsym in
 *       libc itself (as libc's daemon() forks: the handlers run, the
 *       shim's fork does not).  Prints "child nattch N" (IPC_STAT in the
 *       child) and "parent nattch N" (in the parent, once the child is
 *       reaped).  It registered fork handlers of its own first thing,
 *       which call IPC_STAT once the segment exists (before the fork, in
 *       the parent and in the child); last it forks through the shim's
 *       fork and prints "prepare nattch N", "handler nattch N" and
 *       "child handler nattch N" (what they saw); removes the segment
 *       and prints "done".
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static long nattch(int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0) {
		perror("forklibc: IPC_STAT");
		exit(2);
	}
	return (long)ds.shm_nattch;
}

static int seg = -1;
static long in_prepare = -1, in_handler = -1;

/* The program's own fork handlers, which call shmctl. */
static long stat_seg(void)
{
	struct shmid_ds ds;

	if (seg < 0)
		return -1;
	return shmctl(seg, IPC_STAT, &ds) < 0 ? -2 : (long)ds.shm_nattch;
}

static void prepare_handler(void)
{
	in_prepare = stat_seg();
}

static void parent_handler(void)
{
	in_handler = stat_seg();
}

static void child_handler(void)
{
	long n = stat_seg();

	if (seg >= 0) {
		printf("child handler nattch %ld\n", n);
		fflush(stdout);
	}
}

static int reap(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		perror("forklibc: fork or waitpid");
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	pid_t (*libc_fork)(void);
	void *libc, *p;
	pid_t pid;
	int id, go[2];

	if (pthread_atfork(prepare_handler, parent_handler, child_handler) !=
	    0) {
		fprintf(stderr, "forklibc: pthread_atfork failed\n");
		return 2;
	}
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (reap(pid) != 0)
		return 2;
	libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	libc_fork = libc ? (pid_t(*)(void))dlsym(libc, "fork") : NULL;
	if (!libc_fork) {
		fprintf(stderr, "forklibc: libc's fork: %s\n", dlerror());
		return 2;
	}
	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	if (p == (void *)-1) {
		perror("forklibc: shmget or shmat");
		return 2;
	}
	fflush(stdout);
	pid = libc_fork();
	if (pid == 0) {
		printf("child nattch %ld\n", nattch(id));
		fflush(stdout);
		_exit(0);
	}
	if (reap(pid) != 0)
		return 2;
	printf("parent nattch %ld\n", nattch(id));
	seg = id;
	fflush(stdout);
	/* The child ends only once the parent's handler has looked: what
	 * that sees must not depend on which of the two runs first (on the
	 * kernel too, a slow parent saw the child gone). */
	if (pipe(go) != 0) {
		perror("forklibc: pipe");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		char b;

		close(go[1]);
		_exit(read(go[0], &b, 1) == 1 ? 0 : 3);
	}
	close(go[0]);
	if (pid > 0 && write(go[1], "x", 1) != 1) {
		perror("forklibc: write");
		return 2;
	}
	close(go[1]);
	if (reap(pid) != 0)
		return 2;
	printf("prepare nattch %ld\n", in_prepare);
	printf("handler nattch %ld\n", in_handler);
	if (shmdt(p) < 0 || shmctl(id, IPC_RMID, NULL) < 0) {
		perror("forklibc: shmdt or IPC_RMID");
		return 2;
	}
	printf("done\n");
	return 0;
}
