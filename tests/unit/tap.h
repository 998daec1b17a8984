/*
 * tap.h - a minimal TAP producer for the unit tests, header-only so that
 * each test is a single C file the Makefile can build on its own.
 *
 *   plan(n);                      optional: announce n checks up front
 *   ok(cond, fmt, ...);           one check; returns cond
 *   is_int(got, want, fmt, ...);  one check of two integers, with diagnostics
 *   diag(fmt, ...);               a "# " comment line (on stderr)
 *   todo_start(reason); ...; todo_end();
 *                                 checks in between are TODO: a failure
 *                                 marks a known bug and fails nothing
 *   return done_testing();        prints the plan if none was given and
 *                                 returns main's exit status
 *
 * Output goes to stdout, line-buffered even into a pipe, so that a crash
 * still shows how far the test got.
 */
#ifndef USHM_TAP_H
#define USHM_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;
static const char *tap_todo; /* reason, while inside todo_start/todo_end */

/* Line-buffered even into prove's pipe, whether or not plan() is used. */
__attribute__((constructor)) static void tap_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
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

/* Prints the "ok N - name" line; the caller adds diagnostics. */
static inline void tap_result(int pass, const char *fmt, va_list ap)
{
	tap_run++;
	if (!pass && !tap_todo)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	if (tap_todo)
		printf(" # TODO %s", tap_todo);
	putchar('\n');
}

static inline __attribute__((format(printf, 4, 5))) int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_result(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		tap_fail_diag("  Failed %scheck at %s line %d.",
			      tap_todo ? "(TODO) " : "", file, line);
	return pass;
}

static inline __attribute__((format(printf, 5, 6))) int
tap_is_int(long long got, long long want, const char *file, int line,
	   const char *fmt, ...)
{
	int pass = got == want;
	va_list ap;

	va_start(ap, fmt);
	tap_result(pass, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_fail_diag("  Failed %scheck at %s line %d.",
			      tap_todo ? "(TODO) " : "", file, line);
		tap_fail_diag("  got: %lld (%#llx)", got,
			      (unsigned long long)got);
		tap_fail_diag(" want: %lld (%#llx)", want,
			      (unsigned long long)want);
	}
	return pass;
}

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
