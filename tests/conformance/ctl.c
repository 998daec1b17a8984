/*
 * ctl.c - shmctl(2): IPC_STAT fields, IPC_SET, IPC_RMID, the info
 * commands, SHM_STAT[_ANY], SHM_LOCK/SHM_UNLOCK and bad arguments.
 */
#include "conf.h"

#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

static size_t page;

/* shmctl's info commands take a struct shminfo/shm_info in the buf. */
static int
info(int cmd, void *buf)
{
	return shmctl(0, cmd, (struct shmid_ds *)buf);
}

static struct shm_info
shm_info(void)
{
	struct shm_info si;

	memset(&si, 0, sizeof(si));
	if (info(SHM_INFO, &si) < 0)
		die("shmctl(SHM_INFO)");
	return si;
}

/* The index of segment id in the table, by scanning 0..maxidx. */
static int
index_of(int id, int cmd)
{
	struct shm_info si;
	struct shmid_ds ds;
	int max = info(SHM_INFO, &si);

	if (max < 0)
		die("shmctl(SHM_INFO)");
	for (int i = 0; i <= max; i++)
		if (shmctl(i, cmd, &ds) == id)
			return i;
	return -1;
}

/* Waits until the clock's second changes, so later times differ. */
static void
next_second(void)
{
	time_t t = time(NULL);

	while (time(NULL) == t)
		;
}

/* Fields of a fresh segment, then after attach and detach. */
static void
stat_fields(void)
{
	key_t k = conf_key(1);
	time_t t0, t1;
	struct shmid_ds ds;
	int id;
	char *p;

	t0 = time(NULL);
	id = mkseg(k, 5000, 0640);
	t1 = time(NULL);
	memset(&ds, 0xa5, sizeof(ds));
	say("IPC_STAT: %s", R(shmctl(id, IPC_STAT, &ds)));
	say("key: %s", yesno(ds.shm_perm.__key == k));
	say("uid %u gid %u cuid %u cgid %u", ds.shm_perm.uid,
	    ds.shm_perm.gid, ds.shm_perm.cuid, ds.shm_perm.cgid);
	say("uid == geteuid(): %s", yesno(ds.shm_perm.uid == geteuid()));
	say("gid == getegid(): %s", yesno(ds.shm_perm.gid == getegid()));
	say("mode %#o", ds.shm_perm.mode);
	/* Linux builds the id as seq * 32768 + index. */
	say("__seq == id / 32768: %s",
	    yesno(ds.shm_perm.__seq == (unsigned short)(id / 32768)));
	say("segsz %zu", ds.shm_segsz);
	say("atime %s, dtime %s", ds.shm_atime ? "set" : "0",
	    ds.shm_dtime ? "set" : "0");
	say("ctime is creation time: %s",
	    yesno(ds.shm_ctime >= t0 && ds.shm_ctime <= t1));
	say("cpid == getpid(): %s", yesno(ds.shm_cpid == getpid()));
	say("lpid %s", ds.shm_lpid ? "set" : "0");
	say("nattch %lu", (unsigned long)ds.shm_nattch);

	t0 = time(NULL);
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	t1 = time(NULL);
	ds = stat_of(id);
	say("after shmat: atime is now: %s",
	    yesno(ds.shm_atime >= t0 && ds.shm_atime <= t1));
	say("after shmat: dtime %s", ds.shm_dtime ? "set" : "0");
	say("after shmat: lpid == getpid(): %s",
	    yesno(ds.shm_lpid == getpid()));
	say("after shmat: nattch %lu", (unsigned long)ds.shm_nattch);

	time_t ctime = ds.shm_ctime, atime = ds.shm_atime;

	/* From here on every change falls into a later second. */
	next_second();
	t0 = time(NULL);
	if (shmdt(p) != 0)
		die("shmdt");
	t1 = time(NULL);
	ds = stat_of(id);
	say("after shmdt: dtime is now: %s",
	    yesno(ds.shm_dtime >= t0 && ds.shm_dtime <= t1));
	say("after shmdt: dtime > atime: %s",
	    yesno(ds.shm_dtime > ds.shm_atime));
	say("after shmdt: atime unchanged: %s",
	    yesno(ds.shm_atime == atime));
	say("after shmdt: ctime unchanged: %s",
	    yesno(ds.shm_ctime == ctime));
	say("after shmdt: lpid == getpid(): %s",
	    yesno(ds.shm_lpid == getpid()));
	say("after shmdt: nattch %lu", (unsigned long)ds.shm_nattch);

	/* Locking is not a change of the permissions: no new ctime. */
	say("SHM_LOCK: %s", R(shmctl(id, SHM_LOCK, NULL)));
	ds = stat_of(id);
	say("after SHM_LOCK: mode %#o, ctime unchanged: %s",
	    ds.shm_perm.mode, yesno(ds.shm_ctime == ctime));
	say("SHM_UNLOCK: %s", R(shmctl(id, SHM_UNLOCK, NULL)));
	ds = stat_of(id);
	say("after SHM_UNLOCK: mode %#o, ctime unchanged: %s",
	    ds.shm_perm.mode, yesno(ds.shm_ctime == ctime));

	/* Removal while attached marks the segment, keeps the ctime. */
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	say("IPC_RMID while attached: %s", R(shmctl(id, IPC_RMID, NULL)));
	ds = stat_of(id);
	say("after IPC_RMID: mode %#o", ds.shm_perm.mode);
	say("after IPC_RMID: key is IPC_PRIVATE: %s",
	    yesno(ds.shm_perm.__key == IPC_PRIVATE));
	say("after IPC_RMID: ctime unchanged: %s",
	    yesno(ds.shm_ctime == ctime));
	say("after IPC_RMID: nattch %lu", (unsigned long)ds.shm_nattch);
	say("shmget(old key, 0, 0): %s", R(shmget(k, 0, 0)));

	/* IPC_SET still works on a removed segment and sets ctime. */
	ds.shm_perm.mode = 0604;
	say("IPC_SET on the removed segment: %s",
	    R(shmctl(id, IPC_SET, &ds)));
	ds = stat_of(id);
	say("after IPC_SET: mode %#o, ctime later: %s", ds.shm_perm.mode,
	    yesno(ds.shm_ctime > ctime));
	/* A fork counts as an attach, the child's exit as a detach. */
	pid_t pid = xfork();

	if (pid == 0)
		_exit(0);
	xwait(pid);
	ds = stat_of(id);
	say("after a child's fork and exit: atime later: %s, "
	    "lpid == child: %s, nattch %lu", yesno(ds.shm_atime > atime),
	    yesno(ds.shm_lpid == pid), (unsigned long)ds.shm_nattch);
	say("shmdt(last attachment): %s", R(shmdt(p)));
	say("IPC_STAT after the last detach: %s",
	    R(shmctl(id, IPC_STAT, &ds)));
	say("IPC_RMID after the last detach: %s",
	    R(shmctl(id, IPC_RMID, NULL)));
}

/* IPC_SET: which fields it takes, which it ignores, what it rejects. */
static void
set(void)
{
	int id = mkseg(IPC_PRIVATE, 3000, 0600);
	struct shmid_ds ds = stat_of(id), want;

	want = ds;
	want.shm_perm.uid = NOBODY;
	want.shm_perm.gid = NOBODY;
	want.shm_perm.mode = 07777;
	/* None of these can be set. */
	want.shm_perm.__key = 12345;
	want.shm_perm.cuid = 123;
	want.shm_perm.cgid = 456;
	want.shm_perm.__seq = 77;
	want.shm_segsz = 1;
	want.shm_atime = 1;
	want.shm_dtime = 2;
	want.shm_ctime = 3;
	want.shm_cpid = 1;
	want.shm_lpid = 1;
	want.shm_nattch = 9;
	say("IPC_SET(uid, gid, mode 07777, and the rest): %s",
	    R(shmctl(id, IPC_SET, &want)));
	struct shmid_ds now = stat_of(id);

	say("uid %u gid %u cuid %u cgid %u mode %#o", now.shm_perm.uid,
	    now.shm_perm.gid, now.shm_perm.cuid, now.shm_perm.cgid,
	    now.shm_perm.mode);
	say("key, seq, segsz unchanged: %s",
	    yesno(now.shm_perm.__key == ds.shm_perm.__key &&
		  now.shm_perm.__seq == ds.shm_perm.__seq &&
		  now.shm_segsz == ds.shm_segsz));
	say("atime %s, dtime %s, ctime set: %s",
	    now.shm_atime ? "set" : "0", now.shm_dtime ? "set" : "0",
	    yesno(now.shm_ctime >= ds.shm_ctime));
	say("cpid == getpid(): %s, lpid %s, nattch %lu",
	    yesno(now.shm_cpid == getpid()), now.shm_lpid ? "set" : "0",
	    (unsigned long)now.shm_nattch);

	/* The SHM_DEST and SHM_LOCKED bits can't be set this way. */
	want = now;
	want.shm_perm.mode = SHM_DEST | SHM_LOCKED | 0640;
	say("IPC_SET(mode SHM_DEST|SHM_LOCKED|0640): %s",
	    R(shmctl(id, IPC_SET, &want)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	/* Nor cleared: a locked segment stays locked. */
	say("SHM_LOCK: %s", R(shmctl(id, SHM_LOCK, NULL)));
	want.shm_perm.mode = 0644;
	say("IPC_SET(mode 0644) while locked: %s",
	    R(shmctl(id, IPC_SET, &want)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	say("SHM_UNLOCK: %s", R(shmctl(id, SHM_UNLOCK, NULL)));

	want = stat_of(id);
	want.shm_perm.uid = (uid_t)-1;
	say("IPC_SET(uid -1): %s", R(shmctl(id, IPC_SET, &want)));
	want = stat_of(id);
	want.shm_perm.gid = (gid_t)-1;
	say("IPC_SET(gid -1): %s", R(shmctl(id, IPC_SET, &want)));
	want = stat_of(id);
	want.shm_perm.uid = 4000000;
	want.shm_perm.gid = 4000001;
	say("IPC_SET(uid, gid with no passwd entry): %s",
	    R(shmctl(id, IPC_SET, &want)));
	now = stat_of(id);
	say("uid %u gid %u mode %#o", now.shm_perm.uid, now.shm_perm.gid,
	    now.shm_perm.mode);
	want = now;
	want.shm_perm.uid = 0;
	want.shm_perm.gid = 0;
	want.shm_perm.mode = 0600;
	say("IPC_SET back to root: %s", R(shmctl(id, IPC_SET, &want)));
	rmseg(id);
}

/*
 * IPC_STAT into buffers the process cannot wholly write: a read-only
 * page, an inaccessible one, and one that starts 24 bytes before an
 * inaccessible page (the kernel writes those 24 bytes, the start of
 * shm_perm, and then fails).  Where ushm answers from its table it
 * probes the buffer before it writes; the outcome must be the kernel's.
 */
static void
stat_bad_buffers(void)
{
	int id = mkseg(IPC_PRIVATE, 100, 0600);
	unsigned char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct shmid_ds *ds;
	unsigned char *q;
	int r, e;

	if (p == MAP_FAILED || mprotect(p + page, page, PROT_NONE) < 0) {
		say("mmap: %s", strerror(errno));
		rmseg(id);
		return;
	}
	/* A buffer in a read-only page. */
	if (mprotect(p, page, PROT_READ) < 0)
		say("mprotect: %s", strerror(errno));
	say("IPC_STAT(read-only buf): %s",
	    R(shmctl(id, IPC_STAT, (struct shmid_ds *)p)));
	/* In a page with no access. */
	say("IPC_STAT(PROT_NONE buf): %s",
	    R(shmctl(id, IPC_STAT, (struct shmid_ds *)(p + page))));
	/* Straddling a writable page and one with no access. */
	if (mprotect(p, page, PROT_READ | PROT_WRITE) < 0)
		say("mprotect: %s", strerror(errno));
	memset(p, 0xa5, page);
	ds = (struct shmid_ds *)(p + page - 24);
	r = shmctl(id, IPC_STAT, ds);
	e = errno;
	say("IPC_STAT(buf ending in a PROT_NONE page): %s", res(r, e));
	/* What landed before the fault: key, uid, gid, cuid, cgid, mode. */
	q = p + page - 24;
	say("  bytes before the fault: key %d uid %u gid %u cuid %u cgid %u "
	    "mode %o, untouched before the buffer: %s",
	    ds->shm_perm.__key, ds->shm_perm.uid, ds->shm_perm.gid,
	    ds->shm_perm.cuid, ds->shm_perm.cgid,
	    (unsigned)ds->shm_perm.mode & 0777, yesno(q[-1] == 0xa5));
	/* Wholly writable, at the very end of the page: a valid buffer. */
	ds = (struct shmid_ds *)(p + page - sizeof(*ds));
	say("IPC_STAT(buf ending at the page's end): %s, mode %o",
	    R(shmctl(id, IPC_STAT, ds)), (unsigned)ds->shm_perm.mode & 0777);
	munmap(p, 2 * page);
	rmseg(id);
}

/*
 * IPC_STAT into a page of this thread's own stack made read-only (a
 * page-aligned part of a local array, so nothing live shares it), and
 * into addresses no user page has: the all-ones pointer and the start
 * of the kernel's half.  The kernel fails each with EFAULT; a library
 * that took a stack buffer, or any high address, for writable without
 * asking the kernel would crash instead.
 */
static void __attribute__((noinline))
stat_stack_and_high_buffers(void)
{
	unsigned char stack[3 * 4096 * 4];
	uintptr_t at = ((uintptr_t)stack + page - 1) & ~(uintptr_t)(page - 1);
	struct shmid_ds *ro = (struct shmid_ds *)at;
	int id = mkseg(IPC_PRIVATE, 100, 0600);

	if (page > 4096 * 4 || at + page > (uintptr_t)stack + sizeof(stack)) {
		say("stack page: the page size (%zu) is too large here", page);
	} else if (mprotect(ro, page, PROT_READ) < 0) {
		say("mprotect of a stack page: %s", strerror(errno));
	} else {
		int r = shmctl(id, IPC_STAT, ro), e = errno;

		if (mprotect(ro, page, PROT_READ | PROT_WRITE) < 0)
			say("mprotect back: %s", strerror(errno));
		say("IPC_STAT(read-only page of the stack): %s", res(r, e));
	}
	say("IPC_STAT((void *)-1): %s",
	    R(shmctl(id, IPC_STAT, (struct shmid_ds *)(uintptr_t)-1)));
	say("IPC_STAT(kernel half): %s",
	    R(shmctl(id, IPC_STAT,
		     (struct shmid_ds *)(uintptr_t)0xffff800000000000ull)));
	rmseg(id);
}

/* Bad ids, commands and buffers. */
static void
bad(void)
{
	int id = mkseg(IPC_PRIVATE, 100, 0600), gone;
	struct shmid_ds ds;
	struct shminfo si;

	say("IPC_STAT(-1): %s", R(shmctl(-1, IPC_STAT, &ds)));
	say("IPC_STAT(INT_MIN): %s", R(shmctl(INT_MIN, IPC_STAT, &ds)));
	say("IPC_STAT(INT_MAX): %s", R(shmctl(INT_MAX, IPC_STAT, &ds)));
	say("IPC_SET(-1): %s", R(shmctl(-1, IPC_SET, &ds)));
	say("IPC_RMID(-1): %s", R(shmctl(-1, IPC_RMID, NULL)));
	say("SHM_LOCK(-1): %s", R(shmctl(-1, SHM_LOCK, NULL)));
	say("SHM_UNLOCK(-1): %s", R(shmctl(-1, SHM_UNLOCK, NULL)));
	say("unknown cmd 99: %s", R(shmctl(id, 99, &ds)));
	say("unknown cmd -1: %s", R(shmctl(id, -1, &ds)));
	say("unknown cmd 99 on id -1: %s", R(shmctl(-1, 99, &ds)));
	/* The info commands ignore the id. */
	say("IPC_INFO(id -1): %s", R(shmctl(-1, IPC_INFO,
					    (struct shmid_ds *)&si)));
	say("IPC_INFO(id INT_MAX): %s",
	    R(shmctl(INT_MAX, IPC_INFO, (struct shmid_ds *)&si)));

	/*
	 * Same index, next sequence number: a stale id for a live slot.
	 * (Unsigned: the sum wraps, to an invalid id, at the last seq.)
	 */
	int next = (int)((unsigned)id + 32768u);

	say("IPC_STAT(id + 32768): %s", R(shmctl(next, IPC_STAT, &ds)));
	say("IPC_RMID(id + 32768): %s", R(shmctl(next, IPC_RMID, NULL)));
	say("shmat(id + 32768): %s", RP(shmat(next, NULL, 0)));
	say("IPC_STAT(id) still: %s", R(shmctl(id, IPC_STAT, &ds)));

	say("IPC_STAT(NULL buf): %s", R(shmctl(id, IPC_STAT, NULL)));
	say("IPC_STAT(bad buf): %s",
	    R(shmctl(id, IPC_STAT, (struct shmid_ds *)16)));
	say("IPC_SET(NULL buf): %s", R(shmctl(id, IPC_SET, NULL)));
	say("IPC_SET(bad buf): %s",
	    R(shmctl(id, IPC_SET, (struct shmid_ds *)16)));
	say("IPC_INFO(NULL buf): %s", R(shmctl(0, IPC_INFO, NULL)));
	say("SHM_INFO(NULL buf): %s", R(shmctl(0, SHM_INFO, NULL)));
	say("IPC_STAT(-1, NULL buf): %s", R(shmctl(-1, IPC_STAT, NULL)));
	say("IPC_RMID(bad buf): %s",
	    R(shmctl(id, IPC_RMID, (struct shmid_ds *)16)));
	/* The buffer of IPC_RMID is not looked at: this removes it. */
	gone = id;
	say("IPC_STAT(removed id): %s", R(shmctl(gone, IPC_STAT, &ds)));
	say("IPC_SET(removed id): %s", R(shmctl(gone, IPC_SET, &ds)));
	say("IPC_RMID(removed id): %s", R(shmctl(gone, IPC_RMID, NULL)));
	say("SHM_LOCK(removed id): %s", R(shmctl(gone, SHM_LOCK, NULL)));
}

/* Changes of the SHM_INFO totals across one segment's life. */
struct deltas {
	int created, removed;                  /* used_ids */
	unsigned long tot, rss, touch_rss, touch_tot, rm_tot, rm_rss;
};

static struct deltas
one_life(void)
{
	struct shm_info a, b, c, d, e;
	struct deltas x;
	int id;
	char *p;

	a = shm_info();
	id = mkseg(IPC_PRIVATE, 3 * page + 1, 0600);
	b = shm_info();
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	memset(p, 1, 2 * page);
	c = shm_info();
	if (shmdt(p) != 0)
		die("shmdt");
	d = shm_info();
	rmseg(id);
	e = shm_info();
	x.created = b.used_ids - a.used_ids;
	x.tot = b.shm_tot - a.shm_tot;
	x.rss = b.shm_rss - a.shm_rss;
	x.touch_rss = c.shm_rss - b.shm_rss;
	x.touch_tot = c.shm_tot - b.shm_tot;
	x.removed = e.used_ids - d.used_ids;
	x.rm_tot = d.shm_tot - e.shm_tot;
	x.rm_rss = d.shm_rss - e.shm_rss;
	return x;
}

static void
infos(void)
{
	struct shminfo si;
	struct shm_info a, b;
	struct shmid_ds ds;
	struct deltas x;
	int max, max2, id, idx, idx2;
	char *p;

	memset(&si, 0, sizeof(si));
	max = info(IPC_INFO, &si);
	say("IPC_INFO: %s", R(max));
	say("shmmax %lu shmmin %lu shmmni %lu shmseg %lu shmall %lu",
	    si.shmmax, si.shmmin, si.shmmni, si.shmseg, si.shmall);

	/*
	 * The kernel's totals include every other segment of the machine:
	 * if another process changed them meanwhile, measure again (the
	 * values awaited are the ones the kernel gives when left alone).
	 */
	for (int i = 0; i < 5; i++) {
		x = one_life();
		if (x.created == 1 && x.tot == 4 && x.rss == 0 &&
		    x.touch_rss == 2 && x.touch_tot == 0 && x.removed == -1 &&
		    x.rm_tot == 4 && x.rm_rss == 2)
			break;
	}
	say("create: used_ids %+d, shm_tot +%lu pages, shm_rss +%lu",
	    x.created, x.tot, x.rss);
	say("touch 2 pages: shm_rss +%lu, shm_tot +%lu", x.touch_rss,
	    x.touch_tot);
	say("remove: used_ids %+d, shm_tot -%lu, shm_rss -%lu", x.removed,
	    x.rm_tot, x.rm_rss);
	a = shm_info();
	say("swap_attempts %lu swap_successes %lu", a.swap_attempts,
	    a.swap_successes);

	id = mkseg(IPC_PRIVATE, 3 * page + 1, 0600);
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	idx = index_of(id, SHM_STAT);
	max = info(SHM_INFO, &b);
	say("own index found by SHM_STAT: %s", yesno(idx >= 0));
	say("own index found by SHM_STAT_ANY: %s",
	    yesno(index_of(id, SHM_STAT_ANY) == idx));
	say("index == id %% 32768: %s", yesno(idx == id % 32768));
	say("SHM_INFO returns the highest index in use (>= own): %s",
	    yesno(max >= idx));
	/* The highest index is in use (unless removed meanwhile). */
	say("SHM_STAT_ANY(that highest index): %s",
	    R(shmctl(max, SHM_STAT_ANY, &ds)));
	max2 = info(IPC_INFO, &si);
	say("IPC_INFO returns the same: %s", yesno(max2 == max));

	memset(&ds, 0, sizeof(ds));
	int r = shmctl(idx, SHM_STAT, &ds);

	say("SHM_STAT(own index): %s, returns the id: %s", R(r),
	    yesno(r == id));
	say("SHM_STAT fills nattch %lu, segsz %zu, mode %#o",
	    (unsigned long)ds.shm_nattch, ds.shm_segsz, ds.shm_perm.mode);
	say("SHM_STAT(max + 1): %s", R(shmctl(max + 1, SHM_STAT, &ds)));
	say("SHM_STAT(-1): %s", R(shmctl(-1, SHM_STAT, &ds)));
	say("SHM_STAT_ANY(max + 1): %s",
	    R(shmctl(max + 1, SHM_STAT_ANY, &ds)));
	say("SHM_STAT(own index, NULL buf): %s",
	    R(shmctl(idx, SHM_STAT, NULL)));

	if (shmdt(p) != 0)
		die("shmdt");
	rmseg(id);
	say("SHM_STAT(old index): %s", R(shmctl(idx, SHM_STAT, &ds)));

	/* A new segment takes another index: allocation is cyclic. */
	id = mkseg(IPC_PRIVATE, 1, 0600);
	idx2 = index_of(id, SHM_STAT);
	say("next segment gets a different index: %s",
	    yesno(idx2 >= 0 && idx2 != idx));
	rmseg(id);
}

/* SHM_LOCK and SHM_UNLOCK as root. */
static void
lock(void)
{
	int id = mkseg(IPC_PRIVATE, 2 * page, 0600);
	struct shm_info a, b;
	char *p;

	a = shm_info();
	say("SHM_LOCK: %s", R(shmctl(id, SHM_LOCK, NULL)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	say("SHM_LOCK again: %s", R(shmctl(id, SHM_LOCK, NULL)));
	b = shm_info();
	/* Locking does not fault pages in. */
	say("shm_rss +%lu", b.shm_rss - a.shm_rss);
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	p[0] = 1;
	say("attach and write while locked: ok");
	say("SHM_UNLOCK: %s", R(shmctl(id, SHM_UNLOCK, NULL)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	say("SHM_UNLOCK again: %s", R(shmctl(id, SHM_UNLOCK, NULL)));
	say("SHM_LOCK: %s", R(shmctl(id, SHM_LOCK, NULL)));
	say("IPC_RMID while locked and attached: %s",
	    R(shmctl(id, IPC_RMID, NULL)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	say("SHM_UNLOCK of a removed segment: %s",
	    R(shmctl(id, SHM_UNLOCK, NULL)));
	say("SHM_LOCK of a removed segment: %s",
	    R(shmctl(id, SHM_LOCK, NULL)));
	say("mode %#o", stat_of(id).shm_perm.mode);
	say("shmdt: %s", R(shmdt(p)));
	say("IPC_STAT after the last detach: %s",
	    R(shmctl(id, IPC_STAT, &(struct shmid_ds){ 0 })));
}

/* As nobody: SHM_STAT needs read permission, SHM_STAT_ANY does not. */
static void
stat_any(void)
{
	int id = mkseg(IPC_PRIVATE, 100, 0600);
	int idx = index_of(id, SHM_STAT);
	pid_t pid = xfork();

	if (pid == 0) {
		struct shmid_ds ds;
		struct shminfo si;
		int r;

		become_nobody();
		say("nobody: IPC_STAT(0600 root segment): %s",
		    R(shmctl(id, IPC_STAT, &ds)));
		say("nobody: SHM_STAT(its index): %s",
		    R(shmctl(idx, SHM_STAT, &ds)));
		r = shmctl(idx, SHM_STAT_ANY, &ds);
		say("nobody: SHM_STAT_ANY(its index): %s, returns the id: %s",
		    R(r), yesno(r == id));
		say("nobody: IPC_INFO: %s",
		    R(info(IPC_INFO, &si)));
		say("nobody: SHM_INFO: %s",
		    R(info(SHM_INFO, &(struct shm_info){ 0 })));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	rmseg(id);
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	stat_fields();
	set();
	bad();
	stat_bad_buffers();
	stat_stack_and_high_buffers();
	infos();
	lock();
	stat_any();
	return 0;
}
