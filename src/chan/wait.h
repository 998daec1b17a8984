/*
 * wait.h - futex helpers shared by wait.c and chan.c (internal).
 */
#ifndef USHM_CHAN_WAIT_H
#define USHM_CHAN_WAIT_H

#include "ushm.h"

#include <stdint.h>
#include <time.h>

/*
 * Sleeps while *word == expected, until the absolute CLOCK_MONOTONIC
 * time deadline (NULL: no limit).  Returns 0 or -errno (ETIMEDOUT,
 * EINTR, EFAULT, EINVAL); 0 also when the word already differs.
 */
int ushm__wait_until(const ushm_atomic_u32 *word, uint32_t expected,
		     const struct timespec *deadline);

/* Wakes up to count waiters; returns how many, or -errno. */
int ushm__wake(ushm_atomic_u32 *word, int count);

/*
 * Asymmetric fences (membarrier(2), global expedited): a process that
 * registered may order its stores and loads with a compiler barrier
 * only, because a sleeper calls ushm__membarrier() between raising its
 * flag and checking again, which puts a full fence on every CPU running
 * a registered process.  Both return 0 or -errno.
 */
int ushm__membarrier_register(void);
int ushm__membarrier(void);

/*
 * Now on CLOCK_MONOTONIC (the daemon's ushm__now is wall-clock seconds:
 * another meaning, another name).
 */
void ushm__monotonic_now(struct timespec *ts);

/*
 * Absolute deadline from a relative timeout; 0, or -EINVAL for a
 * malformed one.  *has is 0 for NULL (no limit).
 */
int ushm__deadline(const struct timespec *rel, struct timespec *abs,
		   int *has);

/* Has the deadline passed? */
int ushm__expired(const struct timespec *deadline);

#endif
