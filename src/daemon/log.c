/*
 * log.c - one line per event, to stderr in the foreground or to the log
 * file in the state directory when daemonized.  Until a daemonized ushmd
 * is ready, errors and warnings are echoed to stderr too, so that whoever
 * started it sees why it did not come up.  The settings are the daemon's
 * process-wide state, set by main() at start-up (one thread).
 *
 * The log file sits on the filesystem that holds the segments, and
 * clients can make the daemon log: so it is bounded.  Past log_max bytes
 * it is renamed NAME.1 (replacing the previous one) and started afresh,
 * so it never holds more than twice log_max.  And lines a client causes
 * go through ushm__log_for, which lets each uid log LOG_UID_PER_SEC lines
 * a second and all of them LOG_ALL_PER_SEC, then counts what it drops
 * and says so once the next second begins.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_UID_SLOTS 64
#define LOG_UID_PER_SEC 10
#define LOG_ALL_PER_SEC 100

static int log_level = USHM__LOG_INFO;
static int log_fd = 2;
static int echo_fd = -1;
/* The file behind log_fd, for rotation (log_dirfd -1: none). */
static int log_dirfd = -1;
static const char *log_name;
static uint64_t log_max, log_size;

/* Lines a second, per uid (by uid modulo the slots: a collision only
 * shares a budget) and for all. */
struct rate {
	int64_t sec;
	uint64_t dropped;
	uid_t uid;
	unsigned n;
};
static struct rate uid_rate[LOG_UID_SLOTS];
static struct rate all_rate;

void ushm__log_setup(int level, int fd, int echo)
{
	log_level = level;
	log_fd = fd;
	echo_fd = echo;
}

void ushm__log_bound(int dirfd, const char *name, uint64_t max)
{
	struct stat sb;

	log_dirfd = dirfd;
	log_name = name;
	log_max = max;
	log_size = fstat(log_fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Starts a fresh file once log_max is reached, keeping the last one. */
static void rotate(void)
{
	char old[128];
	int fd;

	if (log_dirfd < 0 || !log_max || log_size < log_max)
		return;
	snprintf(old, sizeof(old), "%s.1", log_name);
	/* Renamed first, so the name opened below is a new file. */
	if (renameat(log_dirfd, log_name, log_dirfd, old) < 0)
		return;
	fd = openat(log_dirfd, log_name,
		    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW |
			    O_CLOEXEC,
		    0600);
	if (fd < 0)
		return;
	if (dup2(fd, log_fd) >= 0)
		log_size = 0;
	close(fd);
}

static void vlog(int level, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof(line), "ushmd[%ld]: %s: ", (long)getpid(),
		     names[level]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	rotate();
	/* A lost log line must not stop the daemon. */
	if (write(log_fd, line, (size_t)n) < 0)
		return;
	log_size += (uint64_t)n;
	if (echo_fd >= 0 && level <= USHM__LOG_WARN &&
	    write(echo_fd, line, (size_t)n) < 0)
		return;
}

void ushm__log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static void say_dropped(struct rate *r, const char *whose)
{
	if (r->dropped)
		ushm__log(USHM__LOG_WARN, "%s: %llu log line(s) dropped (more "
			  "than the rate allows)", whose,
			  (unsigned long long)r->dropped);
	r->dropped = 0;
}

/* Counts one line against r's budget of per_sec this second. */
static int rate_pass(struct rate *r, int64_t now, unsigned per_sec)
{
	if (r->sec != now) {
		r->sec = now;
		r->n = 0;
	}
	if (r->n >= per_sec) {
		r->dropped++;
		return 0;
	}
	r->n++;
	return 1;
}

void ushm__log_for(uid_t uid, int level, const char *fmt, ...)
{
	struct rate *u = &uid_rate[uid % LOG_UID_SLOTS];
	int64_t now = ushm__now();
	char whose[48];
	va_list ap;

	if (level > log_level)
		return;
	if (u->uid != uid || u->sec != now) {
		snprintf(whose, sizeof(whose), "uid %ld", (long)u->uid);
		say_dropped(u, whose);
		u->uid = uid;
	}
	if (all_rate.sec != now)
		say_dropped(&all_rate, "all users");
	if (!rate_pass(u, now, LOG_UID_PER_SEC) ||
	    !rate_pass(&all_rate, now, LOG_ALL_PER_SEC))
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* The seconds Linux stamps shm_atime, shm_dtime and shm_ctime with
 * (ktime_get_real_seconds: the clock as of the last tick) and time()
 * returns.  CLOCK_REALTIME's seconds may already be the next one for up
 * to a tick (probed: 71,695 of 20 million readings were ahead of a
 * time() made after them), and a program that brackets a shmat with
 * time() would see an atime from the future, as conformance's ctl did
 * once in CI. */
int64_t ushm__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
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
