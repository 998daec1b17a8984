/*
 * conf.h - helpers shared by the conformance programs.
 *
 * The programs are plain System V programs: they use only libc,
 * <sys/ipc.h> and <sys/shm.h>, so the very same binary runs against the
 * kernel and under ushm-run.  Everything they print must be identical in
 * both runs, so nothing here ever prints an id, an address, a pid or a
 * time: only results ("ok" or "-1 ENAME") and relations.
 *
 * Every segment a program creates is recorded and removed at exit (and
 * on a timeout), because the kernel's table is global and outlives us.
 */
#ifndef CONF_H
#define CONF_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

/* Each program uses only some of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define CONF_MAX_IDS 8192
#define CONF_MAX_KEYS 256

/*
 * A program that hangs is killed (and cleaned up) after this long, times
 * USHM_TEST_TIME_SCALE when the suite says it runs slower (the sanitizer
 * pass: 3), as every time bound of the tests is.  Below conformance.t's
 * own bound (120 s, scaled the same), so that the program removes its
 * segments itself.  Not tighter: permmatrix, the longest (a few seconds
 * on the kernel), was stopped by a 20 s bound under ushm-run at load
 * 52-58 on a shared 2-core machine with 30% of its output done (70 s for
 * all of it), and at load 20 in the sanitizer pass (32 s there).
 */
#define CONF_TIMEOUT 100

static int conf_ids[CONF_MAX_IDS];
static int conf_nids;
static key_t conf_keys[CONF_MAX_KEYS];
static int conf_nkeys;
static pid_t conf_parent;

/* errno's name; an errno without a name shows its number. */
static const char *
ename(int e)
{
	static char buf[4][32];
	static int i;
	const char *n = strerrorname_np(e);
	char *b;

	if (n)
		return n;
	b = buf[i++ % 4];
	snprintf(b, 32, "errno %d", e);
	return b;
}

/* Formats an integer result: "ok" for anything but -1. */
static const char *
res(long r, int e)
{
	static char buf[8][64];
	static int i;
	char *b = buf[i++ % 8];

	if (r != -1)
		return "ok";
	snprintf(b, 64, "-1 %s", ename(e));
	return b;
}

/* Formats a shmat result: "ok" for anything but (void *)-1. */
static const char *
resp(const void *p, int e)
{
	return res(p == (void *)-1 ? -1 : 0, e);
}

/*
 * R(call) and RP(call) format a call's outcome, reading errno right
 * after the call: "res(f(), errno)" would leave the order of the two
 * argument evaluations unspecified.
 */
#define R(call) ({ long r_ = (long)(call); res(r_, errno); })
#define RP(call) ({ const void *p_ = (call); resp(p_, errno); })

static const char *
yesno(int cond)
{
	return cond ? "yes" : "no";
}

/*
 * Prints one check line and flushes: forked children must not inherit
 * unflushed output, and lines must interleave in program order.
 */
static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Something the test itself needs failed: stop, cleaning up. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fflush(stdout);
	va_start(ap, fmt);
	fprintf(stderr, "fatal: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%s)\n", ename(e));
	printf("FATAL\n");
	exit(2);
}

static void
track(int id)
{
	if (id < 0)
		return;
	for (int i = 0; i < conf_nids; i++)
		if (conf_ids[i] == id)
			return;
	if (conf_nids == CONF_MAX_IDS)
		die("too many segments to track");
	conf_ids[conf_nids++] = id;
}

/*
 * Removes everything we created.  Runs in the original process only:
 * children exit with _exit, but a child that returns through exit must
 * not remove the parent's segments.
 */
static void
cleanup(void)
{
	if (getpid() != conf_parent)
		return;
	for (int i = 0; i < conf_nkeys; i++) {
		int id = shmget(conf_keys[i], 0, 0);

		if (id >= 0)
			shmctl(id, IPC_RMID, NULL);
	}
	for (int i = 0; i < conf_nids; i++)
		shmctl(conf_ids[i], IPC_RMID, NULL);
	conf_nids = 0;
}

static void
on_alarm(int sig)
{
	(void)sig;
	cleanup();
	_exit(3);
}

/*
 * Keys are derived from our pid, so they collide neither with another
 * conformance program running at the same time nor with the machine's
 * own segments (bit 30 is our tag).  Numbers 0..255 per program.  A key
 * left behind by a crashed earlier process with our pid is removed.
 */
/* Registers key as this program's (removed at exit) and clears a
 * leftover of an earlier run; returns it. */
static key_t
conf_claim(key_t key)
{
	for (int i = 0; i < conf_nkeys; i++)
		if (conf_keys[i] == key)
			return key;
	if (conf_nkeys == CONF_MAX_KEYS)
		die("too many keys");
	conf_keys[conf_nkeys++] = key;
	int id = shmget(key, 0, 0);

	if (id >= 0)
		shmctl(id, IPC_RMID, NULL);
	return key;
}

static key_t
conf_key(int n)
{
	key_t key = (key_t)(0x40000000u | ((unsigned)conf_parent << 8) |
			    (unsigned)(n & 0xff));

	return conf_claim(key);
}

/* The same key with the sign bit set: a negative key_t. */
static key_t
conf_negkey(int n)
{
	key_t key = (key_t)((unsigned)conf_key(n) | 0x80000000u);

	return conf_claim(key);
}

/* USHM_TEST_TIME_SCALE (a whole number, 1 when unset or not one). */
static unsigned
conf_time_scale(void)
{
	const char *v = getenv("USHM_TEST_TIME_SCALE");
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;

	return v && *v && !*end && n >= 1 && n <= 100 ? (unsigned)n : 1;
}

static void
conf_init(void)
{
	struct sigaction sa;

	conf_parent = getpid();
	if (atexit(cleanup) != 0)
		die("atexit");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction");
	alarm(CONF_TIMEOUT * conf_time_scale());
	/* Line buffering would do, but say() flushes anyway. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* shmget that records what it creates. */
static int
xget(key_t key, size_t size, int flg)
{
	int id = shmget(key, size, flg);

	track(id);
	return id;
}

/* A segment we need for a test; failing to get it is fatal. */
static int
mkseg(key_t key, size_t size, int flg)
{
	int id = xget(key, size, flg | IPC_CREAT);

	if (id < 0)
		die("shmget(size %zu, flags %#o)", size, flg);
	return id;
}

static void
rmseg(int id)
{
	if (shmctl(id, IPC_RMID, NULL) != 0)
		die("shmctl(IPC_RMID)");
}

static struct shmid_ds
stat_of(int id)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof(ds));
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("shmctl(IPC_STAT)");
	return ds;
}

static shmatt_t
nattch(int id)
{
	return stat_of(id).shm_nattch;
}

/* Names a wait status without pids or core-dump flags. */
static const char *
wstatus(int st)
{
	static char buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %s",
			 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st))
						    : "?");
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

static pid_t
xfork(void)
{
	fflush(stdout);
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	return pid;
}

static int
xwait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return st;
}

static void
xpipe(int fd[2])
{
	if (pipe(fd) != 0)
		die("pipe");
}

static void
xwrite1(int fd)
{
	char c = 'x';

	while (write(fd, &c, 1) != 1)
		if (errno != EINTR)
			die("write");
}

/* Returns 1 if a byte arrived, 0 at end of file. */
static int
xread1(int fd)
{
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0)
		if (errno != EINTR)
			die("read");
	return n == 1;
}

/* nobody/nogroup on Debian; the tests need a uid without privileges. */
#define NOBODY 65534

/* In a forked child of root: drop every privilege, become nobody. */
static void
become_nobody(void)
{
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
	    setuid(NOBODY) != 0) {
		fprintf(stderr, "fatal: cannot become nobody (%s)\n",
			ename(errno));
		_exit(99);
	}
}

/* For a child that touches memory it may not: reports the fault and
 * exits. */
static void
conf_segv_handler(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	printf("child: caught %s, code %s\n", sigabbrev_np(sig),
	       si->si_code == SEGV_ACCERR	 ? "SEGV_ACCERR"
	       : si->si_code == SEGV_MAPERR ? "SEGV_MAPERR"
					    : "other");
	fflush(stdout);
	_exit(0);
}

/* Create, attach, write, stat, detach and remove: 1 if all worked. */
static int
conf_round_trip(void)
{
	int id = shmget(IPC_PRIVATE, (size_t)sysconf(_SC_PAGESIZE),
			IPC_CREAT | 0600), ok;
	struct shmid_ds ds;
	char *p;

	if (id < 0)
		return 0;
	track(id);
	p = shmat(id, NULL, 0);
	ok = p != (void *)-1;
	if (ok) {
		p[0] = 1;
		ok = shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 &&
		     shmdt(p) == 0;
	}
	return shmctl(id, IPC_RMID, NULL) == 0 && ok;
}

/* The index (for SHM_STAT_ANY) of our segment id. */
static int
conf_find_index(int id)
{
	struct shm_info si;
	struct shmid_ds ds;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);

	if (max < 0)
		die("shmctl(SHM_INFO)");
	for (int i = 0; i <= max; i++)
		if (shmctl(i, SHM_STAT_ANY, &ds) == id)
			return i;
	die("own segment not found by SHM_STAT_ANY");
}

#endif
