/*
 * wait_test - ushm_wait/ushm_wake between processes, on a ushm segment
 * and on a kernel System V segment.
 */
#include "chantest.h"

#include <limits.h>
#include <sys/shm.h>

struct area {
	ushm_atomic_u32 word;
	ushm_atomic_u32 ack;
	unsigned char bytes[8];
};

static void *attach_new(int kernel, int *id)
{
	void *p;

	*id = kernel ? shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) :
		       ushm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (*id < 0)
		die("get");
	p = kernel ? shmat(*id, NULL, 0) : ushm_at(*id, NULL, 0);
	if (p == (void *)-1)
		die("at");
	/* Removed now: it lives while attached, and never leaks. */
	if ((kernel ? shmctl(*id, IPC_RMID, NULL) :
		      ushm_ctl(*id, IPC_RMID, NULL)) < 0)
		die("rmid");
	return p;
}

/* The child waits on word for value 0 to change, then acknowledges. */
static int waiter(struct area *a)
{
	struct timespec ten = { 10, 0 };

	atomic_store(&a->ack, 1);
	(void)ushm_wake(&a->ack, 1);
	while (atomic_load(&a->word) == 0)
		if (ushm_wait(&a->word, 0, &ten) < 0 && errno != EINTR)
			return 1;
	atomic_store(&a->ack, 2);
	(void)ushm_wake(&a->ack, 1);
	return atomic_load(&a->word) == 7 ? 0 : 2;
}

static void run(int kernel)
{
	const char *on = kernel ? "kernel segment" : "ushm segment";
	struct timespec t200 = { 0, 200000000 }, zero = { 0, 0 };
	struct timespec bad = { 0, 1000000000L }, five = { 5, 0 };
	struct area *a;
	double t0, dt;
	pid_t pid;
	int id, r, woke = 0;

	a = attach_new(kernel, &id);
	memset(a, 0, sizeof(*a));

	t0 = mono();
	r = ushm_wait(&a->word, 0, &t200);
	dt = mono() - t0;
	ok(r < 0 && errno == ETIMEDOUT, "%s: wait times out (%s)",
	       on, r < 0 ? strerror(errno) : "returned 0");
	ok(dt >= 0.2 && dt < 0.2 + LATE_OK,
	       "%s: after 200 ms (%.3f s)", on, dt);
	r = ushm_wait(&a->word, 0, &zero);
	ok(r < 0 && errno == ETIMEDOUT, "%s: zero timeout", on);
	t0 = mono();
	r = ushm_wait(&a->word, 5, &five);
	ok(r == 0 && mono() - t0 < 1.0,
	       "%s: a word that differs returns 0 at once", on);
	r = ushm_wait((ushm_atomic_u32 *)(a->bytes + 1), 0, &t200);
	ok(r < 0 && errno == EINVAL, "%s: misaligned word: EINVAL",
	       on);
	r = ushm_wake((ushm_atomic_u32 *)(a->bytes + 2), 1);
	ok(r < 0 && errno == EINVAL, "%s: misaligned wake: EINVAL",
	       on);
	r = ushm_wait(&a->word, 0, &bad);
	ok(r < 0 && errno == EINVAL, "%s: bad timeout: EINVAL", on);
	r = ushm_wake(&a->word, 1);
	ok(r == 0, "%s: wake with nobody waiting wakes 0", on);

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(waiter(a));
	/* Wait (properly) until the child is about to sleep. */
	while (atomic_load(&a->ack) == 0)
		if (ushm_wait(&a->ack, 0, &five) < 0 && errno == ETIMEDOUT)
			break;
	/* Wake until the child, asleep or not yet, has seen the word. */
	atomic_store(&a->word, 7);
	while (atomic_load(&a->ack) != 2) {
		r = ushm_wake(&a->word, INT_MAX);
		if (r > 0)
			woke += r;
		if (ushm_wait(&a->ack, 1, &t200) < 0 && errno != ETIMEDOUT)
			break;
	}
	ok(reap(pid) == 0, "%s: another process woke on the word",
	       on);
	ok(woke <= 1, "%s: wake reported %d sleeper(s)", on, woke);

	if ((kernel ? shmdt(a) : ushm_dt(a)) < 0)
		die("dt");
}

int main(void)
{

	run(0);
	run(1);
	return done_testing();
}
