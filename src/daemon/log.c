/*
 * log.c - one line per event, to stderr in the foreground or to the log
 * file in the state directory when daemonized.  Until a daemonized ushmd
 * is ready, errors and warnings are echoed to stderr too, so that whoever
 * started it sees why it did not come up.  The settings are the daemon's
 * process-wide state, set by main() at start-up (one thread).
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int log_level = USHM__LOG_INFO;
static int log_fd = 2;
static int echo_fd = -1;

void ushm__log_setup(int level, int fd, int echo)
{
	log_level = level;
	log_fd = fd;
	echo_fd = echo;
}

void ushm__log(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;
	int n, m;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "ushmd[%ld]: %s: ", (long)getpid(),
		     names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A lost log line must not stop the daemon. */
	if (write(log_fd, line, (size_t)n) < 0)
		return;
	if (echo_fd >= 0 && level <= USHM__LOG_WARN &&
	    write(echo_fd, line, (size_t)n) < 0)
		return;
}

int64_t ushm__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int ushm__log_limit_pass(struct ushm__log_limit *l, uid_t uid,
			 const char *what)
{
	int64_t now = ushm__now();

	if (now - l->when < 1 && l->uid == uid && l->what == what)
		return 0;
	l->when = now;
	l->uid = uid;
	l->what = what;
	return 1;
}
