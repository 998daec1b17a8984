/*
 * forkgap - a fork in one thread while another thread's fork is between
 * ushm's fork handler and the end of the shim's fork wrapper, where the
 * connection made for that other child is still open in the process
 * (src/lib/forkproto.c): the second child must not hold it.
 *
 *   forkgap
 *       Attaches a private segment and registers a fork handler of its
 *       own for the parent, which runs after ushm's.  Thread B forks
 *       once (a child that counts its sockets and exits with the count),
 *       as a reference.  Then thread A forks, and its parent handler
 *       waits there until B has forked again, and B's second child
 *       counts its sockets too.  Prints "same" when both of B's children
 *       held as many sockets, else "reference N, during another fork M".
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"

static pthread_t thread_a, a_self;
static int a_known;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int a_in_handler, b_forked;

static void wait_for(int *flag)
{
	pthread_mutex_lock(&mu);
	while (!*flag)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void raise_flag(int *flag)
{
	pthread_mutex_lock(&mu);
	*flag = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* In A's parent, after ushm's handler: hold the gap until B forked. */
static void parent_handler(void)
{
	int mine;

	pthread_mutex_lock(&mu);
	mine = a_known && pthread_equal(pthread_self(), a_self);
	pthread_mutex_unlock(&mu);
	if (!mine)
		return;
	raise_flag(&a_in_handler);
	wait_for(&b_forked);
}

/* Forks a child that exits with its count of sockets; returns it. */
static int child_sockets(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fds_named("socket:"));
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void *run_a(void *arg)
{
	pid_t pid;

	(void)arg;
	pthread_mutex_lock(&mu);
	a_self = pthread_self();
	a_known = 1;
	pthread_mutex_unlock(&mu);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
	return NULL;
}

int main(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	int reference, during;

	if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL) < 0) {
		perror("forkgap: shmget, shmat or IPC_RMID");
		return 2;
	}
	if (pthread_atfork(NULL, parent_handler, NULL) != 0)
		return 2;
	/* (This thread is B.) */
	reference = child_sockets();
	if (pthread_create(&thread_a, NULL, run_a, NULL) != 0)
		return 2;
	wait_for(&a_in_handler);
	during = child_sockets();
	raise_flag(&b_forked);
	pthread_join(thread_a, NULL);
	if (reference < 0 || during < 0) {
		fprintf(stderr, "forkgap: a child did not report\n");
		return 2;
	}
	if (reference == during)
		printf("same\n");
	else
		printf("reference %d, during another fork %d\n", reference,
		       during);
	return 0;
}
