/*
 * spin.c - a bounded, adaptive wait without sleeping (spin.h).
 *
 * Each try is a system call that does not block (a receive, an
 * epoll_wait with no timeout) followed by sched_yield: cheap when the
 * CPU is ours alone, and the way a peer that shares the CPU gets to run
 * and answer.  The budget adapts so that a peer that answers slowly (or
 * a daemon with no next request) costs at most the minimum, now and
 * then.
 */
#define _GNU_SOURCE
#include "spin.h"

#include <sched.h>
#include <stdint.h>
#include <time.h>

int64_t ushm__mono_ns(void)
{
	struct timespec ts;

	/* (CLOCK_MONOTONIC cannot fail with a valid pointer.) */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ushm__spin(unsigned *budget_ns, int (*ready)(void *), void *arg)
{
	unsigned budget = __atomic_load_n(budget_ns, __ATOMIC_RELAXED);
	int64_t start = ushm__mono_ns();
	int r;

	if (budget == 0) {
		budget = USHM__SPIN_MAX_NS;
	} else if (budget <= USHM__SPIN_REST) {
		/* Resting: one look. */
		__atomic_store_n(budget_ns,
				 budget > 1 ? budget - 1 : USHM__SPIN_MIN_NS,
				 __ATOMIC_RELAXED);
		return ready(arg);
	}
	for (;;) {
		r = ready(arg);
		if (r)
			break;
		if (ushm__mono_ns() - start >= (int64_t)budget)
			break;
		(void)sched_yield();
	}
	if (r && budget < USHM__SPIN_MAX_NS)
		budget = budget * 2 < USHM__SPIN_MAX_NS ? budget * 2 :
							  USHM__SPIN_MAX_NS;
	else if (!r && budget > USHM__SPIN_MIN_NS)
		budget = budget / 2 > USHM__SPIN_MIN_NS ? budget / 2 :
							  USHM__SPIN_MIN_NS;
	else if (!r)
		budget = USHM__SPIN_REST;
	__atomic_store_n(budget_ns, budget, __ATOMIC_RELAXED);
	return r;
}
