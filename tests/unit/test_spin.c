/*
 * test_spin.c - the adaptive spin (src/common/spin.c): how long it looks,
 * how its budget follows what it finds, and its rest.
 */
#define _GNU_SOURCE
#include "common/spin.h"

#include <stdint.h>

#include "../tap.h"

static int calls;

static int now_ready(void *arg)
{
	(void)arg;
	calls++;
	return 7;
}

static int never_ready(void *arg)
{
	(void)arg;
	calls++;
	return 0;
}

/* Ready from the third look on. */
static int third_ready(void *arg)
{
	(void)arg;
	return ++calls >= 3;
}

int main(void)
{
	unsigned budget = 0;
	int64_t t0, took;
	int r;

	calls = 0;
	is_int(ushm__spin(&budget, now_ready, NULL), 7,
	       "what ready returns is returned");
	is_int(calls, 1, "one look when it is ready at once");
	is_int(budget, USHM__SPIN_MAX_NS, "a fresh budget is the maximum");

	/* (On a loaded machine a look can take the whole budget: what is
	 * checked is what the spin did with the time it had.) */
	calls = 0;
	budget = USHM__SPIN_MAX_NS;
	t0 = ushm__mono_ns();
	r = ushm__spin(&budget, third_ready, NULL);
	took = ushm__mono_ns() - t0;
	ok((r == 1 && calls == 3 && budget == USHM__SPIN_MAX_NS) ||
		   (r == 0 && took >= (int64_t)USHM__SPIN_MAX_NS &&
		    budget == USHM__SPIN_MAX_NS / 2),
	   "it looks until ready, or until its time is out (%d looks, %lld ns)",
	   calls, (long long)took);

	/* Nothing comes: each spin lasts its budget, which halves. */
	calls = 0;
	budget = USHM__SPIN_MAX_NS;
	t0 = ushm__mono_ns();
	r = ushm__spin(&budget, never_ready, NULL);
	took = ushm__mono_ns() - t0;
	is_int(r, 0, "nothing came: 0");
	ok(calls >= 1 && took >= (int64_t)USHM__SPIN_MAX_NS &&
		   took < 1000000000,
	   "it looked for its budget and not much longer (%d looks, %lld ns)",
	   calls, (long long)took);
	is_int(budget, USHM__SPIN_MAX_NS / 2, "the budget halves");
	for (int i = 0; i < 8 && budget > USHM__SPIN_MIN_NS; i++)
		(void)ushm__spin(&budget, never_ready, NULL);
	is_int(budget, USHM__SPIN_MIN_NS, "down to the minimum");

	/* A spin of the minimum that finds nothing: a rest of one look a
	 * call, then the minimum again. */
	(void)ushm__spin(&budget, never_ready, NULL);
	is_int(budget, USHM__SPIN_REST, "then a rest");
	calls = 0;
	for (unsigned i = 0; i < USHM__SPIN_REST; i++)
		(void)ushm__spin(&budget, never_ready, NULL);
	is_int(calls, (int)USHM__SPIN_REST, "resting: one look a call");
	is_int(budget, USHM__SPIN_MIN_NS, "after the rest, the minimum");
	calls = 0;
	is_int(ushm__spin(&budget, now_ready, NULL), 7,
	       "a look that finds it");
	is_int(budget, USHM__SPIN_MIN_NS * 2, "doubles the budget");
	for (int i = 0; i < 8; i++)
		(void)ushm__spin(&budget, now_ready, NULL);
	is_int(budget, USHM__SPIN_MAX_NS, "up to the maximum, no further");

	budget = USHM__SPIN_REST;
	calls = 0;
	is_int(ushm__spin(&budget, now_ready, NULL), 7,
	       "a resting look still sees what is there");
	is_int(budget, USHM__SPIN_REST - 1, "and counts down the rest");
	return done_testing();
}
