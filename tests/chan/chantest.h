/*
 * chantest.h - TAP output and helpers for the channel tests.
 */
#ifndef CHANTEST_H
#define CHANTEST_H

#define _GNU_SOURCE
#include "ushm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tap {
	int n;
	int failed;
};

static inline void tap_ok(struct tap *t, int cond, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	if (!cond)
		t->failed++;
	printf("%sok %d - ", cond ? "" : "not ", t->n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline int tap_done(struct tap *t)
{
	printf("1..%d\n", t->n);
	return t->failed ? 1 : 0;
}

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

#endif
