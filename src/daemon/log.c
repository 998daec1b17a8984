/*
 * log.c - one line per event, to stderr in the foreground or to the log
 * file in the state directory when daemonized.  The level and fd are the
 * daemon's process-wide settings, set once at start-up by main().
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int log_level = USHM__LOG_INFO;
static int log_fd = 2;

void ushm__log_setup(int level, int fd)
{
	log_level = level;
	log_fd = fd;
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
}

int64_t ushm__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}
