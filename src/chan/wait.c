/*
 * wait.c - ushm_wait and ushm_wake: futexes on a word of shared memory.
 *
 * The futexes are shared (no FUTEX_PRIVATE_FLAG): the kernel keys them by
 * the page behind the address, so processes that map the same file or
 * System V segment at different addresses meet on the same futex.  That
 * is all this needs; the daemon is never involved.
 */
#define _GNU_SOURCE
#include "wait.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

static long futex(const volatile void *uaddr, int op, uint32_t val,
		  const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

int ushm__membarrier_register(void)
{
	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) < 0)
		return -errno;
	return 0;
}

int ushm__membarrier(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) < 0)
		return -errno;
	return 0;
}

void ushm__monotonic_now(struct timespec *ts)
{
	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, ts);
}

static int valid_ts(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

int ushm__deadline(const struct timespec *rel, struct timespec *abs,
		   int *has)
{
	*has = 0;
	if (!rel)
		return 0;
	if (!valid_ts(rel))
		return -EINVAL;
	ushm__monotonic_now(abs);
	/* Saturate instead of overflowing on absurd timeouts. */
	if (rel->tv_sec > INT_MAX) {
		return 0;
	}
	abs->tv_sec += rel->tv_sec;
	abs->tv_nsec += rel->tv_nsec;
	if (abs->tv_nsec >= 1000000000L) {
		abs->tv_sec++;
		abs->tv_nsec -= 1000000000L;
	}
	*has = 1;
	return 0;
}

int ushm__expired(const struct timespec *deadline)
{
	struct timespec now;

	ushm__monotonic_now(&now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
}

int ushm__wait_until(const ushm_atomic_u32 *word, uint32_t expected,
		     const struct timespec *deadline)
{
	long r;

	if ((uintptr_t)word % 4)
		return -EINVAL;
	/*
	 * FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a
	 * loop that wakes early (EINTR, spurious wakes) keeps its deadline.
	 */
	r = futex(word, FUTEX_WAIT_BITSET, expected, deadline,
		  FUTEX_BITSET_MATCH_ANY);
	if (r == 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

int ushm__wake(ushm_atomic_u32 *word, int count)
{
	long r;

	if ((uintptr_t)word % 4 || count < 1)
		return -EINVAL;
	r = futex(word, FUTEX_WAKE, (uint32_t)count, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

USHM_API int ushm_wait(const ushm_atomic_u32 *word, uint32_t expected,
		       const struct timespec *timeout)
{
	struct timespec abs;
	int has, r;

	if ((uintptr_t)word % 4) {
		errno = EINVAL;
		return -1;
	}
	r = ushm__deadline(timeout, &abs, &has);
	if (r == 0)
		r = ushm__wait_until(word, expected, has ? &abs : NULL);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

USHM_API int ushm_wake(ushm_atomic_u32 *word, int count)
{
	int r = ushm__wake(word, count);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}
