/*
 * tap.h - the TAP producer of every C test (unit, channel), header-only
 * so that each test is a single C file the Makefile can build on its own;
 * the shell tests have the same in tests/lib.sh.
 *
 *   plan(n);                      optional: announce n checks up front
 *   ok(cond, fmt, ...);           one check; returns cond
 *   is_int(got, want, fmt, ...);  one check of two integers, with diagnostics
 *   is_below(got, limit, fmt, ...);  got < limit (doubles), both shown
 *   tap_waiting_for(what);        what the test waits for from now on
 *   tap_time_bound(seconds);      the whole test must end in time (the
 *                                 default: $USHM_TEST_TIMEOUT, 300 s)
 *   diag(fmt, ...);               a "# " comment line (on stderr)
 *   todo_start(reason); ...; todo_end();
 *                                 checks in between are TODO: a failure
 *                                 marks a known bug and fails nothing
 *   return done_testing();        prints the plan if none was given and
 *                                 returns main's exit status
 *
 * Output goes to stdout, line-buffered even into a pipe, so that a crash
 * still shows how far the test got.
 *
 * The watchdog: an alarm, armed before main for $USHM_TEST_TIMEOUT
 * seconds (300 by default) times $USHM_TEST_TIME_SCALE (a slow build sets
 * it), which prints a TAP failure naming what the test was waiting for,
 * then sends SIGTERM to the test's process group: the test and what it
 * forked (a child's alarm is not inherited: only the test's own fires).
 * Run on its own (by prove), the test makes that group its own first; run
 * by a shell test (which has one of its own, lib.sh), the group is the
 * shell test's, whose EXIT trap then stops its daemons.
 */
#ifndef USHM_TAP_H
#define USHM_TAP_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;
static const char *tap_todo; /* reason, while inside todo_start/todo_end */

/* What the test waits for; read by the alarm handler. */
static const char *volatile tap_waiting = "the test to end";
static unsigned tap_bound;

static inline void tap_waiting_for(const char *what)
{
	tap_waiting = what;
}

static inline void tap_write(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The alarm: async-signal-safe calls only. */
static void tap_expired(int sig)
{
	char num[16];
	int i = (int)sizeof(num) - 1;
	unsigned v = tap_bound;

	(void)sig;
	num[i] = '\0';
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	tap_write("\nnot ok - time bound of ");
	tap_write(num + i);
	tap_write(" s exceeded while waiting for: ");
	tap_write((const char *)tap_waiting);
	tap_write(" (stopping the test's processes)\n");
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	_exit(124);
}

/* The whole test must end within seconds from now (times the scale). */
static inline void tap_time_bound(unsigned seconds)
{
	const char *scale = getenv("USHM_TEST_TIME_SCALE");
	unsigned long k = scale ? strtoul(scale, NULL, 10) : 1;

	tap_bound = seconds * (unsigned)(k ? k : 1);
	signal(SIGALRM, tap_expired);
	alarm(tap_bound);
}

/* Line-buffered even into prove's pipe, whether or not plan() is used;
 * a group of its own unless a shell test gave it one; the watchdog. */
__attribute__((constructor)) static void tap_init(void)
{
	const char *limit = getenv("USHM_TEST_TIMEOUT");
	unsigned long s = limit ? strtoul(limit, NULL, 10) : 0;
	const char *group = getenv("USHM_TEST_GROUP");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!group || strtol(group, NULL, 10) != (long)getpgrp())
		(void)setpgid(0, 0); /* EPERM as a session leader: it is one */
	tap_time_bound(s ? (unsigned)s : 300);
}

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void todo_start(const char *reason)
{
	tap_todo = reason;
}

static inline void todo_end(void)
{
	tap_todo = NULL;
}

static inline void tap_vdiag(FILE *f, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("# ", f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

static inline __attribute__((format(printf, 1, 2))) void
diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(stderr, fmt, ap);
	va_end(ap);
}

/* Diagnostics of a failed check: on stderr, except for a TODO check,
 * whose failure is expected and goes with the TAP stream (as Perl's
 * Test::More does), where prove shows it only when asked. */
static inline __attribute__((format(printf, 1, 2))) void
tap_fail_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(tap_todo ? stdout : stderr, fmt, ap);
	va_end(ap);
}

/* Prints the "ok N - name" line and, for a failure, where the check
 * is; the caller adds the values. */
static inline void tap_result(int pass, const char *file, int line,
			      const char *fmt, va_list ap)
{
	tap_run++;
	if (!pass && !tap_todo)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	if (tap_todo)
		printf(" # TODO %s", tap_todo);
	putchar('\n');
	if (!pass)
		tap_fail_diag("  Failed %scheck at %s line %d.",
			      tap_todo ? "(TODO) " : "", file, line);
}

/* n checks this run cannot make, and why (TAP's SKIP: they pass). */
static inline void skip(int n, const char *why)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++tap_run, why);
}

static inline __attribute__((format(printf, 4, 5))) int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline __attribute__((format(printf, 5, 6))) int
tap_is_int(long long got, long long want, const char *file, int line,
	   const char *fmt, ...)
{
	int pass = got == want;
	va_list ap;

	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_fail_diag("  got: %lld (%#llx)", got,
			      (unsigned long long)got);
		tap_fail_diag(" want: %lld (%#llx)", want,
			      (unsigned long long)want);
	}
	return pass;
}

static inline __attribute__((format(printf, 5, 6))) int
tap_is_below(double got, double limit, const char *file, int line,
	     const char *fmt, ...)
{
	int pass = got < limit;
	va_list ap;

	va_start(ap, fmt);
	tap_result(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_fail_diag("    got: %g", got);
		tap_fail_diag("  below: %g (wanted)", limit);
	}
	return pass;
}

#define is_below(got, limit, ...)                                       \
	tap_is_below((double)(got), (double)(limit), __FILE__, __LINE__, \
		     __VA_ARGS__)
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                             \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, \
		   __VA_ARGS__)

/* 0 when every non-TODO check passed and the plan (if any) was kept. */
static inline int done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	else if (tap_run != tap_planned)
		diag("planned %d checks but ran %d", tap_planned, tap_run);
	if (tap_failed)
		diag("failed %d of %d checks", tap_failed, tap_run);
	fflush(stdout);
	return tap_failed || (tap_planned >= 0 && tap_run != tap_planned);
}

#endif /* USHM_TAP_H */
