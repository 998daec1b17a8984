/*
 * stress - the fault tests' driver: a plain System V program (run it
 * under ushm-run) that forks workers, kills them or the daemon with
 * SIGKILL at random moments, and then checks what the daemon reports
 * against what the survivors know they hold.
 *
 *   stress clients SEED VICTIMS CONC SURVIVORS
 *	SURVIVORS processes attach, write and churn for the whole run; up
 *	to CONC victims at a time do the same on shared and private
 *	segments (and fork) until they are SIGKILLed after a random delay,
 *	VICTIMS of them in all.  Then nattch of every segment must be what
 *	the survivors hold, no removed segment may outlive its holders, and
 *	every byte the survivors wrote must be intact.
 *   stress daemon SEED KILLS WORKERS
 *	Idle holders keep segments attached and make no call; WORKERS
 *	processes work on segments of their own; the daemon is SIGKILLed
 *	KILLS times at random moments (while it serves, or while it starts
 *	and recovers).  Every shmid_ds field of the idle segments must
 *	come back as it was, nattch must count the idle holders right after
 *	each restart, the workers' calls must keep succeeding, and every
 *	byte must be intact.
 *
 * Both print "name value" lines on stdout for the shell test to check,
 * and a line on stderr for every failure, saying what and where.  The
 * daemon's state directory is USHM_STATE_DIR (for its pid file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAILED ((void *)-1)

static long errors; /* this process's failed checks and calls */
static long gaveup; /* calls that failed for want of a daemon */

static void vreport(const char *fmt, va_list ap)
{
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "stress[%ld]: ", (long)getpid());
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write, so that lines of parallel processes do not mix. */
	n = (int)strlen(line);
	if (n < (int)sizeof(line) - 1)
		line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		errors++;
}

static void report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	errors++;
}

/*
 * A call failed with errno.  EPIPE and ECONNREFUSED are no SysV
 * answers: the library gave up on reaching a daemon (it tries a request
 * twice, and starts a daemon once per try).  Those are counted apart:
 * when daemons are killed one after another they are a known weakness
 * of the library, not a wrong answer of the daemon.
 */
static void call_failed(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	if (err == EPIPE || err == ECONNREFUSED || err == ECONNRESET)
		gaveup++;
	else
		errors++;
	errno = err;
}

/* splitmix64: small, seedable, good enough to pick moments and ops. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

/* The byte at offset i of a region written with tag: every (tag,
 * offset) pair gives its own value, so a byte that lands in the wrong
 * segment or at the wrong place is seen. */
static unsigned char pat(uint32_t tag, size_t i)
{
	uint32_t x = tag * 2654435761u ^ (uint32_t)(i >> 2) * 40503u;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return (unsigned char)(x >> (8 * (i & 3)));
}

static void fill(unsigned char *p, size_t off, size_t len, uint32_t tag)
{
	for (size_t i = off; i < off + len; i++)
		p[i] = pat(tag, i);
}

static long check(const unsigned char *p, size_t off, size_t len,
		  uint32_t tag)
{
	long bad = 0;

	for (size_t i = off; i < off + len; i++)
		bad += p[i] != pat(tag, i);
	return bad;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int say(int fd, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return n < 0 ? -1 : write_all(fd, line, (size_t)n);
}

/* Reads one line (without its newline) byte by byte: the pipes carry
 * several lines and nothing beyond a line may be consumed.  -1 at EOF. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* Blocks for one command byte from the driver; EOF (the driver died)
 * reads as 0. */
static char read_cmd(int fd)
{
	char c;
	ssize_t r;

	do
		r = read(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	return r == 1 ? c : 0;
}

/* Has the driver sent a command (or gone)?  Does not block. */
static int cmd_waiting(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

/* Has pid ended?  A zombie has: pid 1 of a container may never reap. */
static int pid_gone(pid_t pid)
{
	char path[64], buf[512], *rp, state;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %c", &state) != 1)
		return 1;
	return state == 'Z' || state == 'X';
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000),
			       (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int max_index(void)
{
	struct shm_info si;
	int r = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);

	if (r < 0)
		fail("SHM_INFO: %s", strerrorname_np(errno));
	return r;
}

/* Calls fn for every segment that exists (SHM_STAT_ANY by index). */
static void each_segment(void (*fn)(int id, const struct shmid_ds *ds,
				    void *arg),
			 void *arg)
{
	int max = max_index();

	for (int i = 0; i <= max; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT_ANY, &ds);

		if (id >= 0)
			fn(id, &ds, arg);
		else if (errno != EINVAL && errno != EIDRM)
			fail("SHM_STAT_ANY %d: %s", i, strerrorname_np(errno));
	}
}

static int get(key_t key, size_t size, int flags)
{
	int id = shmget(key, size, flags);

	if (id < 0)
		call_failed("shmget(%#x, %zu): %s", (unsigned)key, size,
		     strerrorname_np(errno));
	return id;
}

static unsigned char *at(int id, int flags)
{
	unsigned char *p = shmat(id, NULL, flags);

	if (p == FAILED) {
		call_failed("shmat(%d): %s", id, strerrorname_np(errno));
		return NULL;
	}
	return p;
}

static void dt(const void *p)
{
	if (p && shmdt(p) < 0) {
		call_failed("shmdt: %s", strerrorname_np(errno));
	}
}

static int stat_of(int id, struct shmid_ds *ds)
{
	if (shmctl(id, IPC_STAT, ds) < 0) {
		call_failed("IPC_STAT %d: %s", id, strerrorname_np(errno));
		memset(ds, 0, sizeof(*ds));
		return -1;
	}
	return 0;
}

static void rmid(int id)
{
	if (shmctl(id, IPC_RMID, NULL) < 0) {
		call_failed("IPC_RMID %d: %s", id, strerrorname_np(errno));
	}
}

/* ------------------------------------------------------------------ */
/* stress clients                                                      */

#define POOL_N 4
#define POOL_SZ 65536
#define SLICE 4096           /* a survivor's part of a shared segment */
#define MAX_SURV 8           /* their parts fill the first half */
#define VICTIM_AREA (POOL_SZ / 2) /* victims scribble in the second */
#define POOL_KEY 0x51000
#define SURV_KEY 0x52000
#define VICTIM_KEY 0x53000
#define VICTIM_KEYS 16
#define MAX_HOLD 16

/* What the survivors and victims share: ids made by the driver. */
struct shared {
	int pool[POOL_N];
	int dest; /* removed while the survivors hold it */
	int survivors; /* how many: each holds every shared segment */
};

static uint32_t tag_of(int s, int what)
{
	return (uint32_t)(s + 1) << 8 | (uint32_t)what;
}

/* Scribbles random bytes over a random part of the victims' half. */
static void scribble(unsigned char *p, uint64_t *rs)
{
	size_t off = VICTIM_AREA + below(rs, VICTIM_AREA);
	size_t len = below(rs, POOL_SZ - off) + 1;

	memset(p + off, (int)below(rs, 256), len);
}

/* A victim: shmget, shmat, writes, shmdt, IPC_RMID and fork, in a loop,
 * until the driver kills it.  Any answer Linux would not give is a
 * failure (exit 3): the segments a victim uses are its own, or shared
 * ones that only the driver removes. */
static void victim(const struct shared *sh, uint64_t seed)
{
	unsigned char *kept[8];
	int nkept = 0;
	uint64_t rs = seed;

	for (;;) {
		int op = (int)below(&rs, 8), id;
		unsigned char *p;
		struct shmid_ds ds;

		if (op == 0 || op == 1) { /* a private segment */
			size_t sz = 4096 + below(&rs, 61440);

			id = get(IPC_PRIVATE, sz, IPC_CREAT | 0600);
			if (id < 0 || !(p = at(id, 0)))
				_exit(3);
			memset(p, 0x5a, sz);
			/* Mostly removed while attached: its destruction then
			 * rests on this process's death being noticed. */
			if (below(&rs, 10) < 8)
				rmid(id);
			if (below(&rs, 2) && nkept < 8)
				kept[nkept++] = p;
			else
				dt(p);
			if (below(&rs, 10) < 8 &&
			    shmctl(id, IPC_RMID, NULL) < 0 &&
			    errno != EINVAL && errno != EIDRM)
				fail("IPC_RMID %d: %s", id,
				     strerrorname_np(errno));
		} else if (op == 2 || op == 3) { /* shared ones */
			id = op == 2 ? sh->pool[below(&rs, POOL_N)] : sh->dest;
			if (!(p = at(id, 0)))
				_exit(3);
			scribble(p, &rs);
			if (below(&rs, 2) && nkept < 8)
				kept[nkept++] = p;
			else
				dt(p);
		} else if (op == 4) { /* keyed ones, made and removed by all */
			key_t key = VICTIM_KEY + (key_t)below(&rs, VICTIM_KEYS);

			id = get(key, 4096, IPC_CREAT | 0600);
			if (id < 0)
				_exit(3);
			/* Another victim (or the driver's sweep) may have
			 * removed it since: that answer is Linux's too. */
			p = shmat(id, NULL, 0);
			if (p == FAILED && errno != EINVAL && errno != EIDRM) {
				fail("shmat key %#x: %s", (unsigned)key,
				     strerrorname_np(errno));
				_exit(3);
			}
			if (shmctl(id, IPC_RMID, NULL) < 0 && errno != EINVAL &&
			    errno != EIDRM)
				fail("IPC_RMID %d: %s", id,
				     strerrorname_np(errno));
			if (p != FAILED)
				dt(p);
		} else if (op == 5) { /* nattch is never below the holders */
			id = sh->pool[below(&rs, POOL_N)];
			if (stat_of(id, &ds) < 0)
				_exit(3);
			if (ds.shm_nattch < (shmatt_t)sh->survivors)
				fail("segment %d: nattch %lu, %d survivors "
				     "hold it", id,
				     (unsigned long)ds.shm_nattch,
				     sh->survivors);
		} else if (op == 6) { /* a child inherits what we hold */
			pid_t parent = getpid(), pid = fork();

			if (pid < 0) {
				fail("fork: %s", strerrorname_np(errno));
				_exit(3);
			}
			if (pid == 0) {
				/* Dies with us, so that the driver's count of
				 * what is left is right. */
				if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
				    getppid() != parent)
					_exit(0);
				p = at(sh->pool[below(&rs, POOL_N)], 0);
				if (!p)
					_exit(3);
				scribble(p, &rs);
				if (below(&rs, 2))
					dt(p);
				_exit(errors ? 3 : 0);
			}
			if (waitpid(pid, NULL, 0) < 0)
				fail("waitpid: %s", strerrorname_np(errno));
		} else if (nkept > 0) {
			dt(kept[--nkept]);
		}
		if (errors || gaveup)
			_exit(3);
	}
}

/* A survivor's attachments, as it reports them. */
struct att {
	int id;
	unsigned char *p;
	size_t off, len; /* the part it wrote */
	uint32_t tag;
};

/* A survivor: makes segments of its own, takes a part of every shared
 * one, and churns (attach, write, check, detach, create, remove) until
 * told to stop, checking nattch of what only it holds as it goes.  Then
 * it reports what it holds, waits, and checks every byte it wrote. */
static int survivor(const struct shared *sh, int s, int cmd, int rep,
		    uint64_t seed)
{
	struct att a[MAX_HOLD];
	int n = 0, own, keyed, dest;
	unsigned char *p, *q;
	struct shmid_ds ds;
	uint64_t rs = seed;
	long bad = 0, bytes = 0;
	size_t own_sz = 32768 + (size_t)s * 4096;

	/* Its private segment, attached twice. */
	own = get(IPC_PRIVATE, own_sz, IPC_CREAT | 0600);
	if (own < 0 || !(p = at(own, 0)) || !(q = at(own, 0)))
		return 1;
	fill(p, 0, own_sz, tag_of(s, 1));
	a[n++] = (struct att){ own, p, 0, own_sz, tag_of(s, 1) };
	a[n++] = (struct att){ own, q, 0, own_sz, tag_of(s, 1) };
	/* A keyed one. */
	keyed = get(SURV_KEY + s, 16384, IPC_CREAT | 0600);
	if (keyed < 0 || !(p = at(keyed, 0)))
		return 1;
	fill(p, 0, 16384, tag_of(s, 2));
	a[n++] = (struct att){ keyed, p, 0, 16384, tag_of(s, 2) };
	/* One it removes at once: it must live as long as we hold it. */
	dest = get(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	if (dest < 0 || !(p = at(dest, 0)))
		return 1;
	fill(p, 0, 8192, tag_of(s, 3));
	rmid(dest);
	a[n++] = (struct att){ dest, p, 0, 8192, tag_of(s, 3) };
	/* Its part of the shared ones, and of the removed shared one. */
	for (int i = 0; i <= POOL_N; i++) {
		int id = i < POOL_N ? sh->pool[i] : sh->dest;

		if (!(p = at(id, 0)))
			return 1;
		fill(p, (size_t)s * SLICE, SLICE, tag_of(s, 10 + i));
		a[n++] = (struct att){ id, p, (size_t)s * SLICE, SLICE,
				       tag_of(s, 10 + i) };
	}
	if (say(rep, "ready\n") < 0)
		return 1;

	while (!cmd_waiting(cmd)) {
		int op = (int)below(&rs, 5), id;
		size_t sz;

		if (op == 0) { /* a temporary segment */
			sz = 4096 * (1 + below(&rs, 8));
			id = get(IPC_PRIVATE, sz, IPC_CREAT | 0600);
			if (id < 0 || !(p = at(id, 0)))
				continue;
			fill(p, 0, sz, (uint32_t)rnd(&rs));
			if (below(&rs, 2)) {
				rmid(id);
				if (stat_of(id, &ds) == 0 &&
				    (ds.shm_nattch != 1 ||
				     !(ds.shm_perm.mode & SHM_DEST)))
					fail("removed segment %d held once: "
					     "nattch %lu mode %o", id,
					     (unsigned long)ds.shm_nattch,
					     ds.shm_perm.mode);
				dt(p);
			} else {
				dt(p);
				rmid(id);
			}
		} else if (op == 1) { /* the keyed one once more */
			if (!(p = at(keyed, SHM_RDONLY)))
				continue;
			bad += check(p, 0, 16384, tag_of(s, 2));
			if (stat_of(keyed, &ds) == 0 && ds.shm_nattch != 2)
				fail("segment %d held twice by %ld: nattch %lu",
				     keyed, (long)getpid(),
				     (unsigned long)ds.shm_nattch);
			dt(p);
		} else if (op == 2) { /* only we hold these */
			if (stat_of(own, &ds) == 0 &&
			    (ds.shm_nattch != 2 || ds.shm_segsz != own_sz ||
			     ds.shm_cpid != getpid()))
				fail("own segment %d: nattch %lu segsz %zu "
				     "cpid %ld", own,
				     (unsigned long)ds.shm_nattch, ds.shm_segsz,
				     (long)ds.shm_cpid);
			if (stat_of(dest, &ds) == 0 &&
			    (ds.shm_nattch != 1 ||
			     !(ds.shm_perm.mode & SHM_DEST)))
				fail("removed segment %d: nattch %lu mode %o",
				     dest, (unsigned long)ds.shm_nattch,
				     ds.shm_perm.mode);
		} else if (op == 3) { /* a shared one once more */
			int i = (int)below(&rs, POOL_N);

			if (!(p = at(sh->pool[i], SHM_RDONLY)))
				continue;
			bad += check(p, (size_t)s * SLICE, SLICE,
				     tag_of(s, 10 + i));
			dt(p);
		} else { /* our parts, through the attachments we keep */
			struct att *x = &a[below(&rs, (uint64_t)n)];

			bad += check(x->p, x->off, x->len, x->tag);
			fill(x->p, x->off, x->len, x->tag);
		}
	}
	if (read_cmd(cmd) != 's')
		return 1;
	for (int i = 0; i < n; i++)
		if (say(rep, "hold %d\n", a[i].id) < 0)
			return 1;
	if (say(rep, "end\n") < 0 || read_cmd(cmd) != 'v')
		return 1;
	/* Every byte, through the attachments held all along and through
	 * new ones (the daemon must hand out the same file). */
	for (int i = 0; i < n; i++) {
		bad += check(a[i].p, a[i].off, a[i].len, a[i].tag);
		bytes += (long)a[i].len;
		if (a[i].id != dest && (p = at(a[i].id, SHM_RDONLY))) {
			bad += check(p, a[i].off, a[i].len, a[i].tag);
			bytes += (long)a[i].len;
			dt(p);
		}
	}
	for (int i = 0; i < n; i++)
		dt(a[i].p);
	rmid(own);
	rmid(keyed);
	if (bad)
		fail("%ld bad bytes", bad);
	say(rep, "done bytes %ld bad %ld errors %ld\n", bytes, bad,
	    errors + gaveup);
	return errors || gaveup ? 1 : 0;
}

struct survivor_info {
	pid_t pid;
	int cmd, rep;
	int holds[MAX_HOLD];
	int nholds;
};

static struct survivor_info surv[MAX_SURV];
static int nsurv;

static int is_survivor(pid_t pid)
{
	for (int i = 0; i < nsurv; i++)
		if (surv[i].pid == pid)
			return 1;
	return 0;
}

/* Victims leave segments behind (killed between shmget and IPC_RMID);
 * removes those whose creator is dead and nobody holds, so that a long
 * run stays below the limits.  Live victims tolerate this on the keyed
 * segments they share, and never use a dead one's private ones. */
static void sweep_one(int id, const struct shmid_ds *ds, void *arg)
{
	const struct shared *sh = arg;

	for (int i = 0; i < POOL_N; i++)
		if (id == sh->pool[i])
			return;
	if (id == sh->dest || ds->shm_cpid == getpid() ||
	    is_survivor(ds->shm_cpid) || ds->shm_nattch != 0 ||
	    !pid_gone(ds->shm_cpid))
		return;
	if (shmctl(id, IPC_RMID, NULL) < 0 && errno != EINVAL &&
	    errno != EIDRM)
		fail("sweep IPC_RMID %d: %s", id, strerrorname_np(errno));
}

struct verdict {
	long nattch_wrong, dest_left, segments;
};

/* Checks one segment against what the survivors reported. */
static void judge_one(int id, const struct shmid_ds *ds, void *arg)
{
	struct verdict *v = arg;
	unsigned long want = 0;

	v->segments++;
	for (int i = 0; i < nsurv; i++)
		for (int k = 0; k < surv[i].nholds; k++)
			want += surv[i].holds[k] == id;
	if (ds->shm_nattch != want) {
		fail("segment %d: nattch %lu, the survivors hold %lu", id,
		     (unsigned long)ds->shm_nattch, want);
		v->nattch_wrong++;
	}
	if ((ds->shm_perm.mode & SHM_DEST) && want == 0) {
		fail("segment %d: removed, no live holder, still there "
		     "(cpid %ld)", id, (long)ds->shm_cpid);
		v->dest_left++;
	}
}

static void remove_one(int id, const struct shmid_ds *ds, void *arg)
{
	(void)ds;
	(void)arg;
	rmid(id);
}

/* Does process pid have word among its arguments? */
static int has_arg(pid_t pid, const char *word)
{
	char path[64], buf[8192];
	size_t n, len = strlen(word);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strlen(buf + i) == len && memcmp(buf + i, word, len) == 0)
			return 1;
	return 0;
}

/*
 * The pid in the daemon's pid file, if that process is our daemon (its
 * arguments name our state directory), else 0.  A daemon killed with
 * SIGKILL leaves its pid file behind, and with pid_max at 32768 a suite
 * that forks tens of thousands of processes soon gives that number to
 * another process: a kill by the stale number would hit it.
 */
static pid_t daemon_pid(void)
{
	const char *dir = getenv("USHM_STATE_DIR");
	char path[4096];
	long pid = 0;
	FILE *f;

	if (!dir)
		return 0;
	snprintf(path, sizeof(path), "%s/ushmd.pid", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || !has_arg((pid_t)pid, dir))
		return 0;
	return (pid_t)pid;
}

/* Children of this process (from /proc), survivors excepted. */
static int other_children(pid_t *out, int max)
{
	char path[64];
	FILE *f;
	long pid;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
		 (long)getpid());
	f = fopen(path, "re");
	if (!f) {
		fail("%s: %s", path, strerrorname_np(errno));
		return 0;
	}
	while (n < max && fscanf(f, "%ld", &pid) == 1)
		if (!is_survivor((pid_t)pid) && (pid_t)pid != daemon_pid())
			out[n++] = (pid_t)pid;
	fclose(f);
	return n;
}

/* A random delay before a kill: mostly short (the victim is in its first
 * calls, or in the middle of one), sometimes long (it holds a lot). */
static uint64_t kill_delay(uint64_t *rs)
{
	uint64_t r = below(rs, 100);

	if (r < 60)
		return below(rs, 3000);
	if (r < 90)
		return 3000 + below(rs, 17000);
	return 20000 + below(rs, 80000);
}

static int clients(uint64_t seed, long victims, int conc, int nsurvivors)
{
	struct shared sh;
	struct slot {
		pid_t pid;
		uint64_t when;
	} slots[64];
	struct verdict v = { 0 };
	uint64_t rs = seed;
	long spawned = 0, killed = 0, vfailed = 0, gkilled = 0, sfailed = 0;
	long bytes = 0, bad = 0;
	char line[128];

	if (conc < 1 || conc > 64 || nsurvivors < 1 || nsurvivors > MAX_SURV)
		return 2;
	for (int i = 0; i < POOL_N; i++)
		if ((sh.pool[i] = get(POOL_KEY + i, POOL_SZ,
				      IPC_CREAT | 0600)) < 0)
			return 1;
	/* Orphans of killed victims (their children) come to us, so that
	 * we can wait for them too.  Only now: the daemon our first call
	 * started must not become one of ours. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		fail("PR_SET_CHILD_SUBREAPER: %s", strerrorname_np(errno));
		return 1;
	}
	if ((sh.dest = get(IPC_PRIVATE, POOL_SZ, IPC_CREAT | 0600)) < 0)
		return 1;
	sh.survivors = nsurvivors;

	for (int i = 0; i < nsurvivors; i++) {
		int c[2], r[2];
		uint64_t sseed = rnd(&rs);

		if (pipe(c) < 0 || pipe(r) < 0)
			return 1;
		surv[i].pid = fork();
		if (surv[i].pid < 0)
			return 1;
		if (surv[i].pid == 0) {
			close(c[1]);
			close(r[0]);
			_exit(survivor(&sh, i, c[0], r[1], sseed));
		}
		close(c[0]);
		close(r[1]);
		surv[i].cmd = c[1];
		surv[i].rep = r[0];
		nsurv++;
		if (read_line(surv[i].rep, line, sizeof(line)) < 0 ||
		    strcmp(line, "ready") != 0) {
			fail("survivor %d did not start", i);
			return 1;
		}
	}
	/* Held by every survivor, removed: it must stay until they are
	 * done, whatever the victims that attach it do. */
	rmid(sh.dest);

	memset(slots, 0, sizeof(slots));
	while (killed + vfailed < victims) {
		int next = -1;
		pid_t pid;
		int st;

		for (int i = 0; i < conc; i++) {
			if (slots[i].pid == 0 && spawned < victims) {
				uint64_t vseed = rnd(&rs);

				pid = fork();
				if (pid < 0) {
					fail("fork: %s", strerrorname_np(errno));
					return 1;
				}
				if (pid == 0)
					victim(&sh, vseed);
				slots[i].pid = pid;
				slots[i].when = now_us() + kill_delay(&rs);
				spawned++;
			}
			if (slots[i].pid &&
			    (next < 0 || slots[i].when < slots[next].when))
				next = i;
		}
		if (next < 0)
			break;
		/* The moment of the kill, not a synchronisation.  (The
		 * clock read once: read twice, it may pass the moment in
		 * between, and the difference wraps to an endless sleep.) */
		{
			uint64_t t = now_us();

			if (slots[next].when > t)
				sleep_us(slots[next].when - t);
		}
		pid = slots[next].pid;
		slots[next].pid = 0;
		kill(pid, SIGKILL);
		if (waitpid(pid, &st, 0) < 0) {
			fail("waitpid: %s", strerrorname_np(errno));
			return 1;
		}
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			killed++;
		} else {
			fail("victim %ld ended with status %#x", (long)pid, st);
			vfailed++;
		}
		/* Its children, killed with it, come to us. */
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (is_survivor(pid)) {
				fail("survivor %ld ended early (%#x)",
				     (long)pid, st);
				sfailed++;
			} else if (WIFSIGNALED(st)) {
				gkilled++;
			} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
				fail("child %ld ended with status %#x",
				     (long)pid, st);
				vfailed++;
			}
		}
		if ((killed + vfailed) % 128 == 0)
			each_segment(sweep_one, &sh);
	}
	/* The last orphans: wait for each until only survivors are left. */
	for (;;) {
		pid_t left[256];
		int n = other_children(left, 256), st;

		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			if (waitpid(left[i], &st, 0) < 0)
				continue;
			if (WIFSIGNALED(st))
				gkilled++;
			else if (!WIFEXITED(st) || WEXITSTATUS(st))
				vfailed++;
		}
	}

	/* Every victim is gone; the survivors stop and say what they
	 * hold.  Then the daemon's counts must be exactly theirs. */
	for (int i = 0; i < nsurv; i++)
		if (write_all(surv[i].cmd, "s", 1) < 0)
			sfailed++;
	for (int i = 0; i < nsurv; i++) {
		int id;

		while (read_line(surv[i].rep, line, sizeof(line)) == 0 &&
		       strcmp(line, "end") != 0)
			if (sscanf(line, "hold %d", &id) == 1 &&
			    surv[i].nholds < MAX_HOLD)
				surv[i].holds[surv[i].nholds++] = id;
		if (surv[i].nholds != 4 + POOL_N + 1) {
			fail("survivor %d reported %d attachments", i,
			     surv[i].nholds);
			sfailed++;
		}
	}
	each_segment(judge_one, &v);

	for (int i = 0; i < nsurv; i++)
		if (write_all(surv[i].cmd, "v", 1) < 0)
			sfailed++;
	for (int i = 0; i < nsurv; i++) {
		long b, x, e;
		int st;

		if (read_line(surv[i].rep, line, sizeof(line)) < 0 ||
		    sscanf(line, "done bytes %ld bad %ld errors %ld", &b, &x,
			   &e) != 3) {
			fail("survivor %d: no verdict", i);
			sfailed++;
		} else {
			bytes += b;
			bad += x;
		}
		if (waitpid(surv[i].pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			sfailed++;
	}
	nsurv = 0;
	/* With the survivors gone, the removed segments they held go. */
	{
		struct verdict after = { 0 };

		each_segment(judge_one, &after);
		v.dest_left += after.dest_left;
		v.nattch_wrong += after.nattch_wrong;
	}
	if (shmctl(sh.dest, IPC_STAT, &(struct shmid_ds){ 0 }) == 0) {
		fail("the shared removed segment outlived its holders");
		v.dest_left++;
	}
	each_segment(remove_one, NULL);

	printf("seed %llu\n", (unsigned long long)seed);
	printf("killed %ld\n", killed);
	printf("children_killed %ld\n", gkilled);
	printf("victims_failed %ld\n", vfailed);
	printf("survivors_failed %ld\n", sfailed);
	printf("nattch_wrong %ld\n", v.nattch_wrong);
	printf("dest_left %ld\n", v.dest_left);
	printf("bytes %ld\n", bytes);
	printf("bad %ld\n", bad);
	printf("errors %ld\n", errors + gaveup);
	return 0;
}

/* ------------------------------------------------------------------ */
/* stress daemon                                                       */

#define IDLE_N 4    /* segments the idle holders hold (and one nobody) */
#define HOLDERS 3
#define IDLE_KEY 0x61000
#define WORK_KEY 0x62000

static const size_t idle_sz[IDLE_N] = { 65536, 20000, 4096, 131072 };

/* How many times holder h attaches idle segment i (the one of index 3
 * is held by nobody; index 2 is removed while held). */
static int holds_of(int h, int i)
{
	static const int n[HOLDERS][IDLE_N] = {
		{ 1, 0, 1, 0 },
		{ 2, 1, 1, 0 },
		{ 1, 1, 1, 0 },
	};
	return n[h][i];
}

static uint32_t idle_tag(int i)
{
	return 0x1d1e00u + (uint32_t)i;
}

/* An idle holder: attaches, says so, and makes no call at all until the
 * driver says 'c'; then its attachments must still work: every byte is
 * there, writes land, IPC_STAT counts it, shmdt works. */
static int holder(const int *ids, int h, int cmd, int rep)
{
	unsigned char *p[IDLE_N][2];
	long bad = 0, bytes = 0;
	struct shmid_ds ds;

	for (int i = 0; i < IDLE_N; i++)
		for (int k = 0; k < holds_of(h, i); k++)
			if (!(p[i][k] = at(ids[i], h == 2 && i == 1 ?
							SHM_RDONLY : 0)))
				return 1;
	if (say(rep, "ready\n") < 0 || read_cmd(cmd) != 'c')
		return 1;
	/* (The first words of segment 0 are the holders', below.) */
	for (int i = 0; i < IDLE_N; i++)
		for (int k = 0; k < holds_of(h, i); k++) {
			size_t skip = i == 0 ? HOLDERS * 8 : 0;

			bad += check(p[i][k], skip, idle_sz[i] - skip,
				     idle_tag(i));
			bytes += (long)(idle_sz[i] - skip);
		}
	/* Our own word of segment 0, written and read back through the
	 * other holders' view later: the mappings are still shared. */
	p[0][0][h * 8] = (unsigned char)(0xa0 + h);
	if (stat_of(ids[2], &ds) == 0 && ds.shm_nattch < 1)
		fail("holder %d: removed segment nattch %lu", h,
		     (unsigned long)ds.shm_nattch);
	if (say(rep, "checked\n") < 0 || read_cmd(cmd) != 'd')
		return 1;
	for (int g = 0; g < HOLDERS; g++)
		if (p[0][0][g * 8] != (unsigned char)(0xa0 + g)) {
			fail("holder %d: holder %d's byte is not seen", h, g);
			bad++;
		}
	for (int i = 0; i < IDLE_N; i++)
		for (int k = 0; k < holds_of(h, i); k++)
			dt(p[i][k]);
	say(rep, "done bytes %ld bad %ld errors %ld\n", bytes, bad,
	    errors + gaveup);
	return bad || errors || gaveup ? 1 : 0;
}

/* Removes t, also after a call that may or may not have reached a
 * daemon: until it is gone or known gone. */
static void rmid_sure(int t)
{
	for (int i = 0; i < 100; i++) {
		if (shmctl(t, IPC_RMID, NULL) == 0 || errno == EINVAL ||
		    errno == EIDRM)
			return;
		if (errno != EPIPE && errno != ECONNREFUSED) {
			fail("IPC_RMID %d: %s", t, strerrorname_np(errno));
			return;
		}
	}
	fail("IPC_RMID %d: no daemon, 100 times", t);
}

/* One round of a worker's calls.  Returns 1 when a call failed for want
 * of a daemon: what follows would only report its consequences. */
static int work_round(int w, int a, int b, unsigned char *bp, uint32_t tag,
		      uint64_t *rs, long *bad, long *bytes, long *lost)
{
	size_t asz = 32768, bsz = 16384, tsz = 4096 * (1 + below(rs, 4));
	unsigned short mode = tag & 1 ? 0640 : 0600;
	long g0 = gaveup;
	struct shmid_ds ds;
	unsigned char *p;
	int t;

	/* Written through one attachment, read through another. */
	if (!(p = at(a, 0)))
		return 1;
	fill(p, 0, asz, tag);
	dt(p);
	if (!(p = at(a, SHM_RDONLY)))
		return 1;
	*bad += check(p, 0, asz, tag);
	*bytes += (long)asz;
	dt(p);
	/* The attachment held all along, counted once whatever happened
	 * to the daemons. */
	fill(bp, 0, bsz, ~tag);
	*bad += check(bp, 0, bsz, ~tag);
	*bytes += (long)bsz;
	if (stat_of(b, &ds) < 0)
		return 1;
	if (ds.shm_nattch != 1 || ds.shm_segsz != bsz ||
	    ds.shm_cpid != getpid() || (ds.shm_perm.mode & 0777) != 0600)
		fail("worker %d: segment %d nattch %lu segsz %zu cpid %ld "
		     "mode %o", w, b, (unsigned long)ds.shm_nattch,
		     ds.shm_segsz, (long)ds.shm_cpid, ds.shm_perm.mode);
	/* IPC_SET, seen by IPC_STAT. */
	if (stat_of(a, &ds) < 0)
		return 1;
	ds.shm_perm.mode = mode;
	if (shmctl(a, IPC_SET, &ds) < 0) {
		call_failed("IPC_SET %d: %s", a, strerrorname_np(errno));
		return 1;
	}
	if (stat_of(a, &ds) < 0)
		return 1;
	if ((ds.shm_perm.mode & 0777) != mode)
		fail("worker %d: mode %o after IPC_SET %o", w,
		     ds.shm_perm.mode, mode);
	/* Removed while attached: there until the detach, gone after. */
	t = get(IPC_PRIVATE, tsz, IPC_CREAT | 0600);
	if (t < 0) {
		/* It may have been made all the same (the request reached a
		 * daemon that died before it answered): one segment the
		 * driver may find left over. */
		(*lost)++;
		return 1;
	}
	if (!(p = at(t, 0))) {
		rmid_sure(t);
		return 1;
	}
	if (shmctl(t, IPC_RMID, NULL) < 0) {
		call_failed("IPC_RMID %d: %s", t, strerrorname_np(errno));
		dt(p);
		rmid_sure(t);
		return 1;
	}
	fill(p, 0, tsz, tag ^ 0x55);
	if (stat_of(t, &ds) == 0 &&
	    (ds.shm_nattch != 1 || !(ds.shm_perm.mode & SHM_DEST)))
		fail("worker %d: removed segment %d held: nattch %lu mode %o",
		     w, t, (unsigned long)ds.shm_nattch, ds.shm_perm.mode);
	*bad += check(p, 0, tsz, tag ^ 0x55);
	*bytes += (long)tsz;
	dt(p);
	if (gaveup != g0)
		return 1;
	if (shmctl(t, IPC_STAT, &ds) == 0)
		fail("worker %d: segment %d outlives its removal and last "
		     "detach", w, t);
	else if (errno != EINVAL && errno != EIDRM)
		call_failed("IPC_STAT %d: %s", t, strerrorname_np(errno));
	return gaveup != g0;
}

/* A worker: its own segments, in a loop of calls of every kind, each
 * checked; the daemon dies under it at any moment.  Its long-lived
 * attachment must keep working and be counted exactly once. */
static int worker(int w, int cmd, int rep, uint64_t seed)
{
	uint64_t rs = seed;
	int a, b, gens = 0;
	unsigned char *bp;
	long bad = 0, bytes = 0, lost = 0;

	a = get(WORK_KEY + w, 32768, IPC_CREAT | 0600);
	b = get(IPC_PRIVATE, 16384, IPC_CREAT | 0600);
	if (a < 0 || b < 0 || !(bp = at(b, 0)))
		return 1;
	if (say(rep, "ready\n") < 0)
		return 1;
	while (!cmd_waiting(cmd)) {
		work_round(w, a, b, bp, (uint32_t)w << 24 | (uint32_t)gens,
			   &rs, &bad, &bytes, &lost);
		gens++;
	}
	if (read_cmd(cmd) != 's')
		return 1;
	dt(bp);
	rmid(a);
	rmid(b);
	if (bad)
		fail("worker %d: %ld bad bytes", w, bad);
	say(rep, "done gens %d bytes %ld bad %ld errors %ld gaveup %ld "
	    "lost %ld\n", gens, bytes, bad, errors, gaveup, lost);
	return bad || errors ? 1 : 0;
}

/* shmid_ds of the idle segments, to compare across restarts. */
static int idle_ids[IDLE_N];

static void idle_stats(struct shmid_ds *ds)
{
	for (int i = 0; i < IDLE_N; i++) {
		long g0 = gaveup;

		/* Our call may be refused for want of a daemon (see
		 * call_failed; it is counted there): asked again then, so
		 * that the comparison is made all the same. */
		for (int k = 0; k < 100; k++)
			if (stat_of(idle_ids[i], &ds[i]) == 0 || gaveup == g0)
				break;
	}
}

/* Compares every field; returns the number that differ. */
static int idle_compare(const struct shmid_ds *want, const char *when)
{
	struct shmid_ds got[IDLE_N];
	int diff = 0;

	idle_stats(got);
	for (int i = 0; i < IDLE_N; i++) {
		const struct shmid_ds *g = &got[i], *w = &want[i];
		const struct ipc_perm *gp = &g->shm_perm, *wp = &w->shm_perm;

		if (gp->__key != wp->__key || gp->uid != wp->uid ||
		    gp->gid != wp->gid || gp->cuid != wp->cuid ||
		    gp->cgid != wp->cgid || gp->mode != wp->mode ||
		    gp->__seq != wp->__seq || g->shm_segsz != w->shm_segsz ||
		    g->shm_atime != w->shm_atime ||
		    g->shm_dtime != w->shm_dtime ||
		    g->shm_ctime != w->shm_ctime ||
		    g->shm_cpid != w->shm_cpid || g->shm_lpid != w->shm_lpid ||
		    g->shm_nattch != w->shm_nattch) {
			fail("%s: segment %d: mode %o/%o segsz %zu/%zu "
			     "atime %ld/%ld dtime %ld/%ld ctime %ld/%ld "
			     "cpid %ld/%ld lpid %ld/%ld nattch %lu/%lu "
			     "(got/want)", when, idle_ids[i], gp->mode,
			     wp->mode, g->shm_segsz, w->shm_segsz,
			     (long)g->shm_atime, (long)w->shm_atime,
			     (long)g->shm_dtime, (long)w->shm_dtime,
			     (long)g->shm_ctime, (long)w->shm_ctime,
			     (long)g->shm_cpid, (long)w->shm_cpid,
			     (long)g->shm_lpid, (long)w->shm_lpid,
			     (unsigned long)g->shm_nattch,
			     (unsigned long)w->shm_nattch);
			diff++;
		}
	}
	return diff;
}

/* Kills the daemon that runs now; waits until it is gone.  0, or -1 if
 * there was none to kill. */
static int kill_daemon(pid_t pid)
{
	uint64_t limit = now_us() + 30000000;

	if (pid <= 0 || kill(pid, SIGKILL) < 0)
		return -1;
	/* Its exit is announced to its parent only, and that is not us:
	 * no event to wait on but the state /proc shows. */
	while (!pid_gone(pid)) {
		if (now_us() > limit) {
			fail("daemon %ld does not die", (long)pid);
			return -1;
		}
		sleep_us(1000);
	}
	return 0;
}

/* Waits until a daemon other than old has written its pid file and
 * runs: one started by a worker's call.  Returns its pid, or 0 when
 * none came (the caller then starts one with a call of its own). */
static pid_t wait_new_daemon(pid_t old)
{
	uint64_t limit = now_us() + 10000000;

	while (now_us() < limit) {
		pid_t pid = daemon_pid();

		if (pid > 0 && pid != old && !pid_gone(pid))
			return pid;
		sleep_us(200);
	}
	return 0;
}

static uint64_t checksum(int id, size_t sz)
{
	unsigned char *p = at(id, SHM_RDONLY);
	uint64_t h = 14695981039346656037ull;

	if (!p)
		return 0;
	for (size_t i = 0; i < sz; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	dt(p);
	return h;
}

static int daemon_mode(uint64_t seed, int kills, int nworkers)
{
	struct shmid_ds snap[IDLE_N];
	uint64_t sums[IDLE_N], rs = seed;
	struct { pid_t pid; int cmd, rep; } hol[HOLDERS], wk[16];
	int idle_kills = kills / 4, busy_kills = kills - idle_kills;
	long survived = 0, startup_kills = 0, diffs = 0, nattch_wrong = 0;
	long bytes = 0, bad = 0, wfailed = 0, gens = 0, extra = 0;
	long werrors = 0, wgaveup = 0, wlost = 0;
	char line[128];
	pid_t old;

	if (nworkers < 1 || nworkers > 16)
		return 2;
	for (int i = 0; i < IDLE_N; i++) {
		unsigned char *p;

		idle_ids[i] = get(i == 1 ? IPC_PRIVATE : IDLE_KEY + i,
				  idle_sz[i], IPC_CREAT | 0640);
		if (idle_ids[i] < 0 || !(p = at(idle_ids[i], 0)))
			return 1;
		fill(p, 0, idle_sz[i], idle_tag(i));
		dt(p);
	}
	/* A changed mode (ctime) must survive as well. */
	if (stat_of(idle_ids[0], &snap[0]) == 0) {
		snap[0].shm_perm.mode = 0604;
		if (shmctl(idle_ids[0], IPC_SET, &snap[0]) < 0)
			fail("IPC_SET: %s", strerrorname_np(errno));
	}
	for (int h = 0; h < HOLDERS; h++) {
		int c[2], r[2];

		if (pipe(c) < 0 || pipe(r) < 0)
			return 1;
		hol[h].pid = fork();
		if (hol[h].pid < 0)
			return 1;
		if (hol[h].pid == 0) {
			close(c[1]);
			close(r[0]);
			_exit(holder(idle_ids, h, c[0], r[1]));
		}
		close(c[0]);
		close(r[1]);
		hol[h].cmd = c[1];
		hol[h].rep = r[0];
		if (read_line(hol[h].rep, line, sizeof(line)) < 0 ||
		    strcmp(line, "ready") != 0) {
			fail("holder %d did not start", h);
			return 1;
		}
	}
	for (int i = 0; i < IDLE_N; i++)
		sums[i] = checksum(idle_ids[i], idle_sz[i]);
	rmid(idle_ids[2]);
	idle_stats(snap);

	/* Idle: nothing happens but the kills; everything must come back
	 * exactly, nattch counting holders that make no call. */
	for (int k = 0; k < idle_kills; k++) {
		sleep_us(below(&rs, 5000));
		if (kill_daemon(daemon_pid()) < 0)
			continue;
		survived++;
		/* This call starts the next daemon. */
		diffs += idle_compare(snap, "after an idle restart");
	}

	for (int w = 0; w < nworkers; w++) {
		int c[2], r[2];
		uint64_t wseed = rnd(&rs);

		if (pipe(c) < 0 || pipe(r) < 0)
			return 1;
		wk[w].pid = fork();
		if (wk[w].pid < 0)
			return 1;
		if (wk[w].pid == 0) {
			close(c[1]);
			close(r[0]);
			_exit(worker(w, c[0], r[1], wseed));
		}
		close(c[0]);
		close(r[1]);
		wk[w].cmd = c[1];
		wk[w].rep = r[0];
		if (read_line(wk[w].rep, line, sizeof(line)) < 0 ||
		    strcmp(line, "ready") != 0) {
			fail("worker %d did not start", w);
			return 1;
		}
	}
	old = daemon_pid();
	for (int k = 0; k < busy_kills; k++) {
		pid_t pid = 0;

		if (below(&rs, 4) == 0) {
			/* Caught while it starts: loading the state,
			 * counting mappings, or serving its first calls. */
			pid = wait_new_daemon(old);
			if (pid)
				startup_kills++;
			sleep_us(below(&rs, 3000));
		}
		if (!pid) {
			/* While it serves: our call brings it up (or finds
			 * the one a worker started), and the holders, who
			 * make no call, must be counted already. */
			diffs += idle_compare(snap, "after a busy restart");
			pid = daemon_pid();
			sleep_us(below(&rs, 20000));
		}
		if (kill_daemon(pid) == 0)
			survived++;
		old = pid;
	}
	diffs += idle_compare(snap, "after the last restart");

	for (int w = 0; w < nworkers; w++)
		if (write_all(wk[w].cmd, "s", 1) < 0)
			wfailed++;
	for (int w = 0; w < nworkers; w++) {
		long g, b, x, e, u, l;
		int st;

		if (read_line(wk[w].rep, line, sizeof(line)) < 0 ||
		    sscanf(line, "done gens %ld bytes %ld bad %ld errors %ld "
			   "gaveup %ld lost %ld", &g, &b, &x, &e, &u,
			   &l) != 6) {
			fail("worker %d: no verdict", w);
			wfailed++;
		} else {
			gens += g;
			bytes += b;
			bad += x;
			werrors += e;
			wgaveup += u;
			wlost += l;
		}
		if (waitpid(wk[w].pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			wfailed++;
	}
	/* The idle segments once more, and their bytes, then the holders
	 * wake up: their attachments must work after all these restarts. */
	diffs += idle_compare(snap, "at the end");
	for (int h = 0; h < HOLDERS; h++)
		if (write_all(hol[h].cmd, "c", 1) < 0 ||
		    read_line(hol[h].rep, line, sizeof(line)) < 0 ||
		    strcmp(line, "checked") != 0)
			wfailed++;
	{
		struct shmid_ds ds;
		unsigned long want = 0;

		for (int h = 0; h < HOLDERS; h++)
			want += (unsigned long)holds_of(h, 0);
		if (stat_of(idle_ids[0], &ds) == 0 && ds.shm_nattch != want) {
			fail("after the holders' calls: nattch %lu, want %lu",
			     (unsigned long)ds.shm_nattch, want);
			nattch_wrong++;
		}
	}
	for (int h = 0; h < HOLDERS; h++) {
		long b, x, e;
		int st;

		if (write_all(hol[h].cmd, "d", 1) < 0 ||
		    read_line(hol[h].rep, line, sizeof(line)) < 0 ||
		    sscanf(line, "done bytes %ld bad %ld errors %ld", &b, &x,
			   &e) != 3) {
			fail("holder %d: no verdict", h);
			wfailed++;
		} else {
			bytes += b;
			bad += x;
		}
		if (waitpid(hol[h].pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			wfailed++;
	}
	/* The removed one goes with its last holder; the others are
	 * intact but for the words the holders wrote. */
	if (shmctl(idle_ids[2], IPC_STAT, &(struct shmid_ds){ 0 }) == 0) {
		fail("removed segment %d outlives its holders", idle_ids[2]);
		extra++;
	}
	for (int i = 0; i < IDLE_N; i++) {
		unsigned char *p;

		if (i == 2 || !(p = at(idle_ids[i], i == 0 ? 0 : SHM_RDONLY)))
			continue;
		if (i == 0)
			fill(p, 0, HOLDERS * 8, idle_tag(0));
		bad += check(p, 0, idle_sz[i], idle_tag(i));
		bytes += (long)idle_sz[i];
		dt(p);
		if (checksum(idle_ids[i], idle_sz[i]) != sums[i]) {
			fail("segment %d: checksum changed", idle_ids[i]);
			bad++;
		}
	}
	/* Nothing but the three idle segments may be left (a request
	 * repeated to a new daemon must not have made two segments). */
	{
		int max = max_index();

		for (int i = 0; i <= max; i++) {
			struct shmid_ds ds;
			int id = shmctl(i, SHM_STAT_ANY, &ds);

			if (id < 0 || id == idle_ids[0] || id == idle_ids[1] ||
			    id == idle_ids[3])
				continue;
			/* Reported, judged by the caller (see extra). */
			report("segment %d left over: key %#x cpid %ld mode %o "
			       "nattch %lu", id, (unsigned)ds.shm_perm.__key,
			       (long)ds.shm_cpid, ds.shm_perm.mode,
			       (unsigned long)ds.shm_nattch);
			extra++;
		}
	}
	each_segment(remove_one, NULL);

	printf("seed %llu\n", (unsigned long long)seed);
	printf("kills %ld\n", survived);
	printf("startup_kills %ld\n", startup_kills);
	printf("stat_diffs %ld\n", diffs);
	printf("nattch_wrong %ld\n", nattch_wrong);
	printf("workers_failed %ld\n", wfailed);
	printf("worker_errors %ld\n", werrors);
	printf("calls_without_daemon %ld\n", wgaveup + gaveup);
	printf("gens %ld\n", gens);
	printf("extra %ld\n", extra > wlost ? extra - wlost : 0);
	printf("extra_after_failed_get %ld\n", extra > wlost ? wlost : extra);
	printf("bytes %ld\n", bytes);
	printf("bad %ld\n", bad);
	printf("errors %ld\n", errors);
	return 0;
}

int main(int argc, char **argv)
{
	/* Output goes through pipes to the test: line by line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "clients") == 0)
		return clients(strtoull(argv[2], NULL, 0),
			       strtol(argv[3], NULL, 0),
			       (int)strtol(argv[4], NULL, 0),
			       (int)strtol(argv[5], NULL, 0));
	if (argc == 5 && strcmp(argv[1], "daemon") == 0)
		return daemon_mode(strtoull(argv[2], NULL, 0),
				   (int)strtol(argv[3], NULL, 0),
				   (int)strtol(argv[4], NULL, 0));
	fprintf(stderr, "usage: see the comment in stress.c\n");
	return 2;
}
