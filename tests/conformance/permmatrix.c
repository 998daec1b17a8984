/*
 * permmatrix.c - the permission matrix: every segment mode (0000 to
 * 0777) against every kind of caller and every call that checks
 * permissions, with real uids and gids (setgroups, setresgid, setresuid
 * in forked children).
 *
 * The segment is created by one uid (the creator) and given to another
 * (the owner) and to a group by IPC_SET, so that every class of Linux's
 * ipcperms() can be reached separately:
 *
 *   owner       euid == shm_perm.uid (its gid is the group: the owner
 *               bits apply all the same, there is no fallback)
 *   creator     euid == shm_perm.cuid, no longer the owner
 *   group-prim  egid == shm_perm.gid
 *   group-supp  shm_perm.gid only among its supplementary groups
 *   cgroup      egid == shm_perm.cgid (the creator's group)
 *   other       none of these
 *   root        uid 0: CAP_IPC_OWNER, CAP_SYS_ADMIN and CAP_IPC_LOCK
 *   euid-owner, ruid-owner, egid-group, rgid-group
 *               real and effective ids apart: the effective ones count
 *   fsgid-group the group only as fsgid (setfsgid): Linux's in_group_p()
 *               checks the fsgid, not the egid; set while root, to a
 *               gid that is none of the caller's real, effective or
 *               saved ones
 *   fsgid-rgid  the same group as fsgid, moved there without privilege
 *               (setfsgid to the real gid, as any process may)
 *
 * No uid or gid here needs an /etc/passwd or /etc/group entry (they are
 * numbers from 60001 to 65375, see idbase).
 *
 * One line per mode and caller: each lookup shmget(key, 0, FLAGS) by its
 * flags (getMODE, creatMODE with IPC_CREAT, excl0600 with IPC_EXCL too),
 * each shmat (at_rw, at_ro = SHM_RDONLY, at_x = SHM_EXEC, at_rox both)
 * followed by what mprotect may add to it (+w, +x; "-" without an
 * attachment), IPC_STAT, SHM_STAT, SHM_STAT_ANY, IPC_SET (of the values
 * the segment has), SHM_LOCK, SHM_UNLOCK, and IPC_RMID of a segment of
 * the same mode and owners kept for that (the only destructive call).
 *
 * Each caller is one child that keeps its identity for the whole run;
 * the parent (root) sets the mode, hands the child a case through a pipe
 * and waits for its line: forking per case would be thousands of forks
 * (the whole matrix takes well under a second on the kernel, a few
 * seconds under ushm-run).  Another child, the creator, makes segments
 * on request.  A final part covers SHM_LOCK against RLIMIT_MEMLOCK: root
 * (CAP_IPC_LOCK) is bound by no limit; the owner and creator need a
 * non-zero one (EPERM) that the pages fit in (ENOMEM).
 *
 * Needs root; as anyone else it says so and succeeds.
 */
#include "conf.h"

#include <sys/mman.h>
#include <sys/fsuid.h>
#include <sys/resource.h>

/*
 * The uids and gids are idbase + these offsets, idbase derived from our
 * pid: locked pages are counted per user machine-wide, so two runs at
 * the same time (against the kernel) must not share users, or one's
 * SHM_LOCK could see the other's pages.  Offset 0 is root.  Nothing
 * prints an id.
 */
#define ID_CREATOR 1
#define ID_OWNER 2
#define ID_OTHER 3
#define ID_SUPP 4
#define ID_PRIM 5
#define ID_CGRP 6
#define ID_MIXED 7  /* real and effective ids apart */
#define ID_GROUP 10 /* shm_perm.gid after the IPC_SET */
#define ID_OTHERG 11
#define ID_CREATORG 20 /* the creator's gid: shm_perm.cgid */
#define ID_STRIDE 21

static unsigned idbase;

static unsigned
ident(unsigned off)
{
	return off ? idbase + off : 0;
}

#define CREATOR_UID ident(ID_CREATOR)
#define CREATOR_GID ident(ID_CREATORG)
#define OWNER_UID ident(ID_OWNER)
#define GROUP_GID ident(ID_GROUP)

/* RLIMIT_MEMLOCK of the callers in the matrix, in pages: enough for
 * SHM_LOCK of the one-page segment, and the same on every machine. */
#define MATRIX_MEMLOCK_PAGES 64

/*
 * A caller, as id offsets: real and effective uid and gid (the saved
 * ones are the effective ones), the fsgid when it differs from the egid
 * (0: it follows), supplementary groups.
 */
struct caller {
	const char *name;
	unsigned ruid, euid;
	unsigned rgid, egid, fsgid;
	int fsgid_late; /* setfsgid after giving up root */
	int ngroups;
	unsigned groups[1];
};

static const struct caller callers[] = {
	{ "owner", ID_OWNER, ID_OWNER, ID_GROUP, ID_GROUP, 0, 0, 0, { 0 } },
	{ "creator", ID_CREATOR, ID_CREATOR, ID_CREATORG, ID_CREATORG, 0, 0, 0,
	  { 0 } },
	{ "group-prim", ID_PRIM, ID_PRIM, ID_GROUP, ID_GROUP, 0, 0, 0, { 0 } },
	{ "group-supp", ID_SUPP, ID_SUPP, ID_OTHERG, ID_OTHERG, 0, 0, 1,
	  { ID_GROUP } },
	{ "cgroup", ID_CGRP, ID_CGRP, ID_CREATORG, ID_CREATORG, 0, 0, 0,
	  { 0 } },
	{ "other", ID_OTHER, ID_OTHER, ID_OTHERG, ID_OTHERG, 0, 0, 0, { 0 } },
	{ "root", 0, 0, 0, 0, 0, 0, 0, { 0 } },
	/* Real and effective ids apart: the effective ones decide. */
	{ "euid-owner", ID_OTHER, ID_OWNER, ID_OTHERG, ID_OTHERG, 0, 0, 0,
	  { 0 } },
	{ "ruid-owner", ID_OWNER, ID_OTHER, ID_OTHERG, ID_OTHERG, 0, 0, 0,
	  { 0 } },
	{ "egid-group", ID_MIXED, ID_MIXED, ID_OTHERG, ID_GROUP, 0, 0, 0,
	  { 0 } },
	{ "rgid-group", ID_MIXED, ID_MIXED, ID_GROUP, ID_OTHERG, 0, 0, 0,
	  { 0 } },
	/* Linux's in_group_p() looks at the fsgid, not the egid. */
	{ "fsgid-group", ID_MIXED, ID_MIXED, ID_OTHERG, ID_OTHERG, ID_GROUP, 0,
	  0, { 0 } },
	{ "fsgid-rgid", ID_MIXED, ID_MIXED, ID_GROUP, ID_OTHERG, ID_GROUP, 1,
	  0, { 0 } },
};
#define NCALLERS ((int)(sizeof(callers) / sizeof(callers[0])))

static size_t page;
static key_t seg_key; /* the key of the matrix segment */
static int seg_id;    /* the matrix segment: every case but IPC_RMID */
static int seg_idx;   /* its index, for SHM_STAT and SHM_STAT_ANY */
static int ncases;

/* Forgets an id we removed: cleanup() must not remove a later segment
 * of someone else that happens to get the same id. */
static void
untrack(int id)
{
	for (int i = 0; i < conf_nids; i++)
		if (conf_ids[i] == id) {
			conf_ids[i] = conf_ids[--conf_nids];
			return;
		}
}

/* In a forked child of root: becomes c for good, with a fixed
 * RLIMIT_MEMLOCK (set first: raising it needs root). */
static void
become(const struct caller *c, rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };
	uid_t ruid = ident(c->ruid), euid = ident(c->euid);
	gid_t rgid = ident(c->rgid), egid = ident(c->egid);
	gid_t fsgid = ident(c->fsgid), groups[1];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	for (int i = 0; i < c->ngroups; i++)
		groups[i] = ident(c->groups[i]);
	/* The fsgid is set while still root (anything goes), after the
	 * setresgid that resets it; setresuid leaves it alone. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 ||
	    setgroups((size_t)c->ngroups, groups) != 0 ||
	    setresgid(rgid, egid, egid) != 0 ||
	    (c->fsgid && !c->fsgid_late &&
	     (setfsgid(fsgid), setfsgid((gid_t)-1)) != (int)fsgid) ||
	    setresuid(ruid, euid, euid) != 0 ||
	    (c->fsgid_late &&
	     (setfsgid(fsgid), setfsgid((gid_t)-1)) != (int)fsgid)) {
		fprintf(stderr, "fatal: cannot become %s (%s)\n", c->name,
			ename(errno));
		_exit(99);
	}
	/* Leaving uid 0 everywhere drops every capability: make sure, or
	 * the matrix would only show root's results. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != ruid || eu != euid || su != euid || rg != rgid ||
	    eg != egid || sg != egid) {
		fprintf(stderr, "fatal: %s: identity not taken\n", c->name);
		_exit(99);
	}
}

/* Full, exact writes and reads on the pipes; 0 at end of file. */
static void
put(int fd, const void *buf, size_t len)
{
	ssize_t n;

	while ((n = write(fd, buf, len)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)len) {
		if (getpid() == conf_parent)
			die("write to a pipe");
		_exit(98);
	}
}

static int
get(int fd, void *buf, size_t len)
{
	ssize_t n;

	while ((n = read(fd, buf, len)) < 0 && errno == EINTR)
		;
	if (n == 0)
		return 0;
	if (n != (ssize_t)len) {
		if (getpid() == conf_parent)
			die("read from a pipe");
		_exit(98);
	}
	return 1;
}

/*
 * The creator: a child with uid CREATOR_UID that creates a segment per
 * request and gives it to OWNER_UID:GROUP_GID, as a non-root creator may.
 */
struct make_req {
	key_t key;
	size_t size;
};

struct make_rep {
	int id;
	int err; /* errno of the step that failed, or 0 */
};

static int make_to[2], make_from[2];
static pid_t maker;

static void
maker_loop(void)
{
	const struct caller *creator = &callers[1];
	struct make_req q;

	close(make_to[1]);
	close(make_from[0]);
	become(creator, 0);
	while (get(make_to[0], &q, sizeof(q))) {
		struct make_rep p = { -1, 0 };
		struct shmid_ds ds;

		p.id = shmget(q.key, q.size, IPC_CREAT | IPC_EXCL | 0600);
		if (p.id < 0) {
			p.err = errno;
		} else {
			memset(&ds, 0, sizeof(ds));
			ds.shm_perm.uid = OWNER_UID;
			ds.shm_perm.gid = GROUP_GID;
			ds.shm_perm.mode = 0600;
			if (shmctl(p.id, IPC_SET, &ds) != 0)
				p.err = errno;
		}
		put(make_from[1], &p, sizeof(p));
	}
	_exit(0);
}

static void
maker_start(void)
{
	xpipe(make_to);
	xpipe(make_from);
	maker = xfork();
	if (maker == 0)
		maker_loop();
	close(make_to[0]);
	close(make_from[1]);
}

static void
maker_stop(void)
{
	int st;

	close(make_to[1]);
	close(make_from[0]);
	st = xwait(maker);
	if (st != 0)
		say("creator: %s", wstatus(st));
}

/* A new segment made by the creator, owned by OWNER_UID:GROUP_GID. */
static int
make(key_t key, size_t size)
{
	struct make_req q = { key, size };
	struct make_rep p;

	put(make_to[1], &q, sizeof(q));
	if (!get(make_from[0], &p, sizeof(p)))
		die("the creator is gone");
	track(p.id);
	if (p.id < 0 || p.err) {
		errno = p.err;
		die("the creator's shmget/IPC_SET");
	}
	return p.id;
}

/* Root gives id the mode, and the owner and group it should have. */
static void
set_mode(int id, int mode)
{
	struct shmid_ds ds;

	memset(&ds, 0, sizeof(ds));
	ds.shm_perm.uid = OWNER_UID;
	ds.shm_perm.gid = GROUP_GID;
	ds.shm_perm.mode = (unsigned short)mode;
	if (shmctl(id, IPC_SET, &ds) != 0)
		die("shmctl(IPC_SET, %#o)", mode);
}

/* One case's line, built token by token. */
struct line {
	char buf[1024];
	size_t len;
};

static void __attribute__((format(printf, 2, 3)))
add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(l->buf) - l->len)
		_exit(97);
	l->len += (size_t)n;
}

/* "ok", or the errno's name. */
static const char *
out(long r, int e)
{
	return r != -1 ? "ok" : ename(e);
}

/* out() of a call, with errno read after it (see R() in conf.h). */
#define O(call) ({ long r_ = (long)(call); out(r_, errno); })

/* shmget(key, 0, flg) on the matrix segment: "ok" only with its id. */
static void
try_get(struct line *l, const char *name, int flg)
{
	int id = shmget(seg_key, 0, flg);
	int e = errno;

	add(l, " %s %s", name, id >= 0 && id != seg_id ? "other-id"
							: out(id, e));
}

/*
 * shmat with flg; on success, what mprotect may add to the attachment
 * (it can never grant what the attachment was refused: write on a
 * SHM_RDONLY one is EACCES).  Prints "-" where there is nothing to try.
 */
static void
try_at(struct line *l, const char *name, int flg, int tries)
{
	char *p = shmat(seg_id, NULL, flg);
	int e = errno;

	add(l, " %s %s", name, out(p == (void *)-1 ? -1 : 0, e));
	if (p == (void *)-1) {
		if (tries & PROT_WRITE)
			add(l, " +w -");
		if (tries & PROT_EXEC)
			add(l, " +x -");
		return;
	}
	int base = PROT_READ | (flg & SHM_RDONLY ? 0 : PROT_WRITE);

	if (tries & PROT_WRITE)
		add(l, " +w %s", O(mprotect(p, page, base | PROT_WRITE)));
	if (tries & PROT_EXEC)
		add(l, " +x %s", O(mprotect(p, page, base | PROT_EXEC)));
	if (shmdt(p) != 0)
		_exit(96);
}

/* Everything a caller may try on a segment of this mode; the IPC_RMID
 * goes to victim, a segment of the same mode of its own. */
static void
run_case(const struct caller *c, int mode, int victim)
{
	struct line l = { .len = 0 };
	struct shmid_ds ds;
	long r;
	int e;

	add(&l, "mode %04o %s:", mode, c->name);
	/* A lookup's mode bits are the access asked for. */
	try_get(&l, "get0", 0);
	try_get(&l, "get0400", 0400);
	try_get(&l, "get0200", 0200);
	try_get(&l, "get0100", 0100);
	try_get(&l, "get0600", 0600);
	try_get(&l, "get0004", 0004);
	try_get(&l, "get0777", 0777);
	/* IPC_CREAT of an existing key is a lookup too; IPC_EXCL fails
	 * before any permission check. */
	try_get(&l, "creat0", IPC_CREAT);
	try_get(&l, "creat0600", IPC_CREAT | 0600);
	try_get(&l, "excl0600", IPC_CREAT | IPC_EXCL | 0600);

	try_at(&l, "at_rw", 0, PROT_EXEC);
	try_at(&l, "at_ro", SHM_RDONLY, PROT_WRITE | PROT_EXEC);
	try_at(&l, "at_x", SHM_EXEC, 0);
	try_at(&l, "at_rox", SHM_RDONLY | SHM_EXEC, PROT_WRITE);

	memset(&ds, 0, sizeof(ds));
	r = shmctl(seg_id, IPC_STAT, &ds);
	e = errno;
	add(&l, " stat %s", r == 0 && ((int)(ds.shm_perm.mode & 0777) != mode ||
				       ds.shm_perm.uid != OWNER_UID ||
				       ds.shm_perm.cuid != CREATOR_UID ||
				       ds.shm_perm.cgid != CREATOR_GID)
				  ? "wrong-perm"
				  : out(r, e));
	r = shmctl(seg_idx, SHM_STAT, &ds);
	e = errno;
	add(&l, " shm_stat %s", r >= 0 && r != seg_id ? "other-id"
						       : out(r, e));
	r = shmctl(seg_idx, SHM_STAT_ANY, &ds);
	e = errno;
	add(&l, " stat_any %s", r >= 0 && r != seg_id ? "other-id"
						       : out(r, e));

	/* IPC_SET to the values it has: a change of nothing. */
	memset(&ds, 0, sizeof(ds));
	ds.shm_perm.uid = OWNER_UID;
	ds.shm_perm.gid = GROUP_GID;
	ds.shm_perm.mode = (unsigned short)mode;
	add(&l, " set %s", O(shmctl(seg_id, IPC_SET, &ds)));
	add(&l, " lock %s", O(shmctl(seg_id, SHM_LOCK, NULL)));
	add(&l, " unlock %s", O(shmctl(seg_id, SHM_UNLOCK, NULL)));
	add(&l, " rmid %s", O(shmctl(victim, IPC_RMID, NULL)));
	say("%s", l.buf);
}

struct job {
	int mode;
	int victim;
};

/* A caller's child: one case per job, an acknowledgement per line. */
static void
caller_loop(const struct caller *c, int from, int to)
{
	struct job j;
	char ack = 'x';

	become(c, MATRIX_MEMLOCK_PAGES * page);
	while (get(from, &j, sizeof(j))) {
		run_case(c, j.mode, j.victim);
		put(to, &ack, 1);
	}
	_exit(0);
}

/* After a case: the matrix segment must be as it was (a successful
 * SHM_LOCK was undone by the SHM_UNLOCK, IPC_SET changed nothing). */
static void
check_after(int mode)
{
	struct shmid_ds ds = stat_of(seg_id);

	if (ds.shm_perm.mode != (unsigned)mode ||
	    ds.shm_perm.uid != OWNER_UID || ds.shm_perm.gid != GROUP_GID ||
	    ds.shm_nattch != 0) {
		say("  after: mode %#o, owner %s, group %s, nattch %lu",
		    ds.shm_perm.mode,
		    ds.shm_perm.uid == OWNER_UID ? "kept" : "changed",
		    ds.shm_perm.gid == GROUP_GID ? "kept" : "changed",
		    (unsigned long)ds.shm_nattch);
		if (ds.shm_perm.mode & SHM_LOCKED &&
		    shmctl(seg_id, SHM_UNLOCK, NULL) != 0)
			die("SHM_UNLOCK");
	}
}

static void
matrix(void)
{
	int victim = -1;

	seg_key = conf_key(0);
	seg_id = make(seg_key, page);
	seg_idx = conf_find_index(seg_id);
	for (int c = 0; c < NCALLERS; c++) {
		int to[2], from[2];
		pid_t pid;
		int st;

		xpipe(to);
		xpipe(from);
		pid = xfork();
		if (pid == 0) {
			close(to[1]);
			close(from[0]);
			close(make_to[1]);
			close(make_from[0]);
			caller_loop(&callers[c], to[0], from[1]);
		}
		close(to[0]);
		close(from[1]);
		for (int mode = 0; mode <= 0777; mode++) {
			struct job j;
			struct shmid_ds ds;
			char ack;

			if (victim < 0)
				victim = make(IPC_PRIVATE, page);
			set_mode(seg_id, mode);
			set_mode(victim, mode);
			j.mode = mode;
			j.victim = victim;
			put(to[1], &j, sizeof(j));
			if (!get(from[0], &ack, 1))
				die("caller %s is gone", callers[c].name);
			ncases++;
			check_after(mode);
			if (shmctl(victim, IPC_STAT, &ds) != 0) {
				if (errno != EINVAL)
					die("shmctl(IPC_STAT) of the victim");
				untrack(victim);
				victim = -1;
			}
		}
		close(to[1]);
		close(from[0]);
		st = xwait(pid);
		if (st != 0)
			say("caller %s: %s", callers[c].name, wstatus(st));
	}
	if (victim >= 0) {
		rmseg(victim);
		untrack(victim);
	}
}

/*
 * SHM_LOCK against RLIMIT_MEMLOCK.  Without CAP_IPC_LOCK, the owner or
 * creator needs a non-zero limit to lock (EPERM), and the pages locked
 * by its user must fit in it (ENOMEM); SHM_UNLOCK needs no allowance.
 * Root is bound by neither; the others fail the owner check first.
 * A segment locked already locks again without a charge, but the
 * zero-limit check still comes first.
 */
static void
memlock_case(const struct caller *c, const char *what, rlim_t limit,
	     int id, int prelocked)
{
	pid_t pid;
	int st;

	if (prelocked && shmctl(id, SHM_LOCK, NULL) != 0)
		die("SHM_LOCK by root");
	pid = xfork();
	if (pid == 0) {
		struct line l = { .len = 0 };

		close(make_to[1]);
		close(make_from[0]);
		become(c, limit);
		add(&l, "memlock %s, %s %s:", what,
		    prelocked ? "locked" : "unlocked", c->name);
		add(&l, " lock %s", O(shmctl(id, SHM_LOCK, NULL)));
		add(&l, " unlock %s",
		    O(shmctl(id, SHM_UNLOCK, NULL)));
		say("%s", l.buf);
		_exit(0);
	}
	st = xwait(pid);
	if (st != 0)
		say("  child: %s", wstatus(st));
	ncases++;
	/* A lock the caller left (its unlock failed) is root's to undo. */
	if (stat_of(id).shm_perm.mode & SHM_LOCKED) {
		say("  left locked (root unlocks it)");
		if (shmctl(id, SHM_UNLOCK, NULL) != 0)
			die("SHM_UNLOCK by root");
	}
}

static void
memlock(void)
{
	int small = make(IPC_PRIVATE, page);
	int big = make(IPC_PRIVATE, 2 * page);

	set_mode(small, 0666);
	set_mode(big, 0666);
	for (int c = 0; c < NCALLERS; c++) {
		for (int pre = 0; pre <= 1; pre++) {
			memlock_case(&callers[c], "limit 0, 1 page", 0,
				     small, pre);
			memlock_case(&callers[c], "limit 1 page, 2 pages",
				     page, big, pre);
			memlock_case(&callers[c], "limit 2 pages, 2 pages",
				     2 * page, big, pre);
		}
	}
	rmseg(small);
	untrack(small);
	rmseg(big);
	untrack(big);
}

int
main(void)
{
	conf_init();
	if (geteuid() != 0) {
		say("permmatrix: skipped (setuid to other users needs root)");
		return 0;
	}
	/* A child that died must make our next write to it fail with
	 * EPIPE and die() clean up, not kill us with our segments left. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal(SIGPIPE)");
	page = (size_t)sysconf(_SC_PAGESIZE);
	/* Below 65534 (nobody), inside the 65536 ids of a typical
	 * container's user namespace. */
	idbase = 60000 + ((unsigned)conf_parent & 0xff) * ID_STRIDE;
	maker_start();
	matrix();
	memlock();
	maker_stop();
	rmseg(seg_id);
	untrack(seg_id);
	say("%d cases", ncases);
	return 0;
}
