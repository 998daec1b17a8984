/*
 * threads.c - shm calls from several threads at once, attachments made
 * by one thread and detached by another, and fork from a threaded
 * process.
 */
#include "conf.h"

#include <pthread.h>

#define THREADS 8
#define ROUNDS 100

static size_t page;
static int shared_id;
static char *attached[THREADS][ROUNDS];

static void *
attach_many(void *arg)
{
	long t = (long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		attached[t][i] = shmat(shared_id, NULL, 0);
		if (attached[t][i] == (void *)-1)
			return (void *)1;
		attached[t][i][t] = (char)i;
	}
	return NULL;
}

/* Detaches what another thread attached. */
static void *
detach_many(void *arg)
{
	long t = (long)arg, other = (t + 1) % THREADS;

	for (int i = 0; i < ROUNDS; i++)
		if (shmdt(attached[other][i]) != 0)
			return (void *)1;
	return NULL;
}

/* Creates, stats and removes private segments of its own. */
static void *
churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int id = shmget(IPC_PRIVATE, page, IPC_CREAT | 0600);
		struct shmid_ds ds;

		if (id < 0)
			return (void *)1;
		int bad = shmctl(id, IPC_STAT, &ds) != 0 ||
			  ds.shm_nattch != 0;

		/* Removed on every path: the kernel's table is global. */
		if (shmctl(id, IPC_RMID, NULL) != 0 || bad)
			return (void *)2;
	}
	return NULL;
}

static int
run(void *(*fn)(void *))
{
	pthread_t th[THREADS];
	int bad = 0;

	for (long t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, fn, (void *)t) != 0)
			die("pthread_create");
	for (int t = 0; t < THREADS; t++) {
		void *r;

		if (pthread_join(th[t], &r) != 0)
			die("pthread_join");
		bad += r != NULL;
	}
	return bad;
}

static void
many(void)
{
	shared_id = mkseg(IPC_PRIVATE, page, 0600);
	say("%d threads x %d shmat: failures %d", THREADS, ROUNDS,
	    run(attach_many));
	say("nattch %lu", (unsigned long)nattch(shared_id));
	int all = 1;

	for (int t = 0; t < THREADS; t++)
		if (attached[0][0][t] != ROUNDS - 1)
			all = 0;
	say("every thread's last write visible: %s", yesno(all));

	/* fork now: the child inherits all of them at once. */
	pid_t pid = xfork();

	if (pid == 0) {
		say("child of a threaded process: nattch %lu",
		    (unsigned long)nattch(shared_id));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(shared_id));

	say("%d threads detach each other's: failures %d", THREADS,
	    run(detach_many));
	say("nattch %lu", (unsigned long)nattch(shared_id));
	rmseg(shared_id);
	say("%d threads x %d create/stat/remove: failures %d", THREADS,
	    ROUNDS, run(churn));
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	many();
	return 0;
}
