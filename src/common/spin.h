/*
 * spin.h - waiting for another process without sleeping, for a while
 * (spin.c).
 *
 * A request to the daemon and its reply are each a wake-up of a process
 * that sleeps on the other side.  Across CPUs a wake-up costs more than
 * the work it waits for on a virtual machine (10-20 us against a few),
 * and the kernel's own calls pay none.  So both sides look again, for a
 * bounded time, before they sleep: the client for its reply, the daemon
 * for the next request after a pass.
 */
#ifndef USHM_SPIN_H
#define USHM_SPIN_H

#include <stdint.h>

/* How long a spin lasts, in ns, adapted to what it finds: doubled when
 * what was waited for came during a spin, halved when it did not, within
 * [USHM__SPIN_MIN_NS, USHM__SPIN_MAX_NS].  A spin of the minimum that
 * finds nothing makes the next USHM__SPIN_REST calls look once without
 * spinning (a peer that is never quick: a daemon busy with others, or a
 * realtime caller whose peer cannot run on its CPU meanwhile); then the
 * minimum is tried again.  0 means the maximum (a zeroed budget is a
 * fresh one); 1 to USHM__SPIN_REST, the calls left to rest.  Read and
 * written with relaxed atomics: a budget shared by threads is a hint
 * that a race leaves valid. */
#define USHM__SPIN_MIN_NS 10000u
#define USHM__SPIN_MAX_NS 50000u
#define USHM__SPIN_REST 16u

/* Now on CLOCK_MONOTONIC, in ns. */
int64_t ushm__mono_ns(void);

/* Calls ready(arg) until it returns nonzero or *budget_ns has passed,
 * yielding the CPU between tries (a peer on the same CPU of the same
 * priority runs then, so a spin does not hold up what it waits for).
 * Returns ready's last value: 0 when the time ran out. */
int ushm__spin(unsigned *budget_ns, int (*ready)(void *), void *arg);

#endif
