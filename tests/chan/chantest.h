/*
 * chantest.h - helpers for the channel tests (TAP: ../tap.h).
 */
#ifndef CHANTEST_H
#define CHANTEST_H

#define _GNU_SOURCE
#include "ushm.h"
#include "../tap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Aborts the test program on a failed setup step. */
static inline void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(255);
}

static inline double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A key of our own: parallel tests use private daemons, but be sure. */
static inline key_t test_key(int n)
{
	return (key_t)(0x43000000 | ((getpid() & 0xfffff) << 4) | n);
}

/* Waits for child pid; its exit status, or -1. */
static inline int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) :
	       WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/*
 * Timing tolerance: a deadline may be overshot by the scheduler, and much
 * more under prove -j2 and valgrind; it is never undershot.
 */
#define LATE_OK 1.5

/*
 * A dead peer: EPIPE must come within USHM_CHAN_LIVENESS_MS (100 ms) of
 * blocking; the tests allow DEATH_MARGIN more for scheduling, and time
 * from the kill (the peer is dead before the survivor blocks, so this
 * only makes the bound stricter).  Measured on the shared 2-core machine
 * (EPIPE after the kill; producer and consumer killed), the lateness
 * beyond 100 ms: idle, 200 runs: at most 3 ms; 3 busy loops beside the
 * other users (load average 7), 120 runs: median 0, 99th percentile 6,
 * worst 8 ms; the ASan build beside 2 busy loops, 80 runs: 99th
 * percentile 9, worst 12 ms; the other users' make check at load
 * average 63, 60 runs: median 0.5, 90th percentile 36, worst 87 ms.
 * 150 ms covers the worst seen with room (1.7 times).
 */
#define DEATH_MARGIN 0.150

#endif
