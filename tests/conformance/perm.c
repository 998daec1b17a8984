/*
 * perm.c - permission checks, as nobody (uid/gid 65534) against segments
 * of various modes and owners: owner versus creator versus group versus
 * others, for every call.  Root (us) sets the segments up.
 */
#include "conf.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define OTHER 4000 /* a uid/gid nobody is not */

static size_t page;

/* A segment as the test case wants it. */
struct seg {
	const char *name;
	int mode;           /* final mode */
	uid_t uid;          /* final owner */
	gid_t gid;
	int nobody_creates; /* else root creates */
};

static const struct seg segs[] = {
	{ "root 0600", 0600, 0, 0, 0 },
	{ "root 0644", 0644, 0, 0, 0 },
	{ "root 0666", 0666, 0, 0, 0 },
	{ "root 0604", 0604, 0, 0, 0 },
	{ "root 0602", 0602, 0, 0, 0 },
	{ "root 0400", 0400, 0, 0, 0 },
	{ "root 0605", 0605, 0, 0, 0 },
	{ "root 0607", 0607, 0, 0, 0 },
	{ "root 0601", 0601, 0, 0, 0 },
	{ "root 0000", 0000, 0, 0, 0 },
	{ "root:nogroup 0640", 0640, 0, NOBODY, 0 },
	{ "root:nogroup 0660", 0660, 0, NOBODY, 0 },
	{ "root:nogroup 0606", 0606, 0, NOBODY, 0 },
	{ "owner nobody 0600", 0600, NOBODY, 0, 0 },
	{ "owner nobody 0400", 0400, NOBODY, 0, 0 },
	{ "owner nobody 0000", 0000, NOBODY, 0, 0 },
	{ "owner nobody 0066", 0066, NOBODY, 0, 0 },
	{ "owner nobody:nogroup 0060", 0060, NOBODY, NOBODY, 0 },
	{ "created by nobody 0600", 0600, NOBODY, NOBODY, 1 },
	{ "created by nobody, owner other 0600", 0600, OTHER, OTHER, 1 },
	{ "created by nobody, owner other 0006", 0006, OTHER, OTHER, 1 },
	{ "created by nobody, owner other 0060", 0060, OTHER, OTHER, 1 },
	{ "created by nobody, owner other:nogroup 0060", 0060, OTHER,
	  NOBODY, 1 },
	{ "created by nobody, owner root:root 0000", 0000, 0, 0, 1 },
};

/* Creates the segment (nobody creates it in a child if asked). */
static int
setup(const struct seg *s, key_t key)
{
	int id;

	if (s->nobody_creates) {
		pid_t pid = xfork();

		if (pid == 0) {
			become_nobody();
			_exit(shmget(key, 100,
				     IPC_CREAT | IPC_EXCL | 0600) < 0);
		}
		if (xwait(pid) != 0)
			die("nobody's shmget");
		id = xget(key, 0, 0);
		if (id < 0)
			die("shmget");
	} else {
		id = mkseg(key, 100, IPC_EXCL | 0600);
	}
	struct shmid_ds ds = stat_of(id);

	ds.shm_perm.uid = s->uid;
	ds.shm_perm.gid = s->gid;
	ds.shm_perm.mode = (unsigned short)s->mode;
	if (shmctl(id, IPC_SET, &ds) != 0)
		die("shmctl(IPC_SET)");
	return id;
}

/* Everything nobody may try, in a child, IPC_RMID last. */
static void
as_nobody(const struct seg *s, key_t key, int id, int idx)
{
	struct shmid_ds ds;
	char *p;
	int e;

	become_nobody();
	say("[%s]", s->name);
	say("  shmget(0): %s", R(shmget(key, 0, 0)));
	say("  shmget(0400): %s", R(shmget(key, 0, 0400)));
	say("  shmget(0200): %s", R(shmget(key, 0, 0200)));
	say("  shmget(0600): %s", R(shmget(key, 0, 0600)));
	say("  shmget(0004): %s", R(shmget(key, 0, 0004)));
	say("  shmget(0040): %s", R(shmget(key, 0, 0040)));
	say("  shmget(0100): %s", R(shmget(key, 0, 0100)));
	p = shmat(id, NULL, 0);
	e = errno;
	say("  shmat(rw): %s", resp(p, e));
	if (p != (void *)-1)
		shmdt(p);
	p = shmat(id, NULL, SHM_RDONLY);
	e = errno;
	say("  shmat(SHM_RDONLY): %s", resp(p, e));
	if (p != (void *)-1)
		shmdt(p);
	/* SHM_EXEC asks for execute permission too. */
	p = shmat(id, NULL, SHM_EXEC | SHM_RDONLY);
	e = errno;
	say("  shmat(SHM_EXEC|SHM_RDONLY): %s", resp(p, e));
	if (p != (void *)-1)
		shmdt(p);
	p = shmat(id, NULL, SHM_EXEC);
	e = errno;
	say("  shmat(SHM_EXEC): %s", resp(p, e));
	if (p != (void *)-1)
		shmdt(p);
	say("  IPC_STAT: %s", R(shmctl(id, IPC_STAT, &ds)));
	say("  SHM_STAT: %s", R(shmctl(idx, SHM_STAT, &ds)));
	say("  SHM_STAT_ANY: %s", R(shmctl(idx, SHM_STAT_ANY, &ds)));
	/* IPC_SET with the current values: a change of nothing. */
	memset(&ds, 0, sizeof(ds));
	ds.shm_perm.uid = s->uid;
	ds.shm_perm.gid = s->gid;
	ds.shm_perm.mode = (unsigned short)s->mode;
	say("  IPC_SET(same values): %s", R(shmctl(id, IPC_SET, &ds)));
	say("  SHM_LOCK: %s", R(shmctl(id, SHM_LOCK, NULL)));
	say("  SHM_UNLOCK: %s", R(shmctl(id, SHM_UNLOCK, NULL)));
	say("  IPC_RMID: %s", R(shmctl(id, IPC_RMID, NULL)));
	_exit(0);
}

static void
cases(void)
{
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		key_t key = conf_key((int)i);
		int id = setup(&segs[i], key), idx = conf_find_index(id);
		struct shmid_ds ds;
		pid_t pid = xfork();

		if (pid == 0)
			as_nobody(&segs[i], key, id, idx);
		int st = xwait(pid);

		if (st != 0)
			say("  child: %s", wstatus(st));
		int r = shmctl(id, IPC_STAT, &ds);

		if (r == 0) {
			say("  after: exists, mode %#o", ds.shm_perm.mode);
			if (ds.shm_perm.mode & SHM_LOCKED &&
			    shmctl(id, SHM_UNLOCK, NULL) != 0)
				die("SHM_UNLOCK");
			rmseg(id);
		} else {
			say("  after: IPC_STAT %s", R(r));
		}
	}
}

/* IPC_SET by a non-root owner: what it may change the owner to. */
static void
owner_set(void)
{
	key_t key = conf_key(100);
	int id = mkseg(key, 100, 0600);
	struct shmid_ds ds = stat_of(id);

	ds.shm_perm.uid = NOBODY;
	ds.shm_perm.gid = NOBODY;
	if (shmctl(id, IPC_SET, &ds) != 0)
		die("IPC_SET");
	pid_t pid = xfork();

	if (pid == 0) {
		struct shmid_ds d;

		become_nobody();
		memset(&d, 0, sizeof(d));
		d.shm_perm.uid = NOBODY;
		d.shm_perm.gid = OTHER;
		d.shm_perm.mode = 0640;
		say("nobody, owner: IPC_SET(gid other, 0640): %s",
		    R(shmctl(id, IPC_SET, &d)));
		d.shm_perm.uid = OTHER;
		say("nobody, owner: IPC_SET(uid other): %s",
		    R(shmctl(id, IPC_SET, &d)));
		/* No longer the owner, never the creator. */
		say("nobody, former owner: IPC_STAT: %s",
		    R(shmctl(id, IPC_STAT, &d)));
		say("nobody, former owner: IPC_SET: %s",
		    R(shmctl(id, IPC_SET, &d)));
		say("nobody, former owner: IPC_RMID: %s",
		    R(shmctl(id, IPC_RMID, NULL)));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	ds = stat_of(id);
	say("uid %u gid %u mode %#o", ds.shm_perm.uid, ds.shm_perm.gid,
	    ds.shm_perm.mode);
	rmseg(id);
}

/*
 * Children report the ids they create through this pipe, so the parent
 * removes them at exit even if a child stops half-way.
 */
static int ids_pipe[2];

static int
child_get(size_t size)
{
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);

	if (id >= 0 && write(ids_pipe[1], &id, sizeof(id)) != sizeof(id))
		_exit(93);
	return id;
}

static void
collect_ids(void)
{
	int id;

	close(ids_pipe[1]);
	while (read(ids_pipe[0], &id, sizeof(id)) == sizeof(id))
		track(id);
	close(ids_pipe[0]);
}

/* What nobody may do on its own, beyond other people's segments. */
static void
own(void)
{
	xpipe(ids_pipe);
	pid_t pid = xfork();

	if (pid == 0) {
		struct rlimit rl;
		struct shmid_ds ds;
		int id;
		char *p;
		int e;

		become_nobody();
		id = child_get(100);
		say("nobody: shmget(IPC_PRIVATE, IPC_CREAT|0600): %s", R(id));
		if (id < 0)
			_exit(1);
		if (shmctl(id, IPC_STAT, &ds) != 0)
			_exit(1);
		say("nobody's segment: uid %u gid %u cuid %u cgid %u",
		    ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.cuid,
		    ds.shm_perm.cgid);
		/* Address 0 is below mmap_min_addr: only root may map it. */
		p = shmat(id, (void *)1, SHM_RND);
		e = errno;
		say("nobody: shmat(1, SHM_RND): %s", resp(p, e));
		if (p != (void *)-1)
			shmdt(p);
		say("nobody: IPC_SET(uid -1): %s", R(({
			    ds.shm_perm.uid = (uid_t)-1;
			    shmctl(id, IPC_SET, &ds);
		    })));
		/* SHM_LOCK as owner is bounded by RLIMIT_MEMLOCK. */
		rl.rlim_cur = rl.rlim_max = 0;
		say("nobody: setrlimit(RLIMIT_MEMLOCK, 0): %s",
		    R(setrlimit(RLIMIT_MEMLOCK, &rl)));
		say("nobody: SHM_LOCK, no memlock allowance: %s",
		    R(shmctl(id, SHM_LOCK, NULL)));
		say("nobody: SHM_UNLOCK, no memlock allowance: %s",
		    R(shmctl(id, SHM_UNLOCK, NULL)));
		say("nobody: IPC_RMID: %s", R(shmctl(id, IPC_RMID, NULL)));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	collect_ids();

	/* A lock bigger than the allowance. */
	xpipe(ids_pipe);
	pid = xfork();
	if (pid == 0) {
		struct rlimit rl;
		int id;

		become_nobody();
		rl.rlim_cur = rl.rlim_max = 16 * page;
		say("nobody: setrlimit(RLIMIT_MEMLOCK, 16 pages): %s",
		    R(setrlimit(RLIMIT_MEMLOCK, &rl)));
		id = child_get(64 * page);
		if (id < 0)
			_exit(1);
		say("nobody: SHM_LOCK of 64 pages: %s",
		    R(shmctl(id, SHM_LOCK, NULL)));
		int small = child_get(8 * page);

		if (small < 0)
			_exit(1);
		say("nobody: SHM_LOCK of 8 pages: %s",
		    R(shmctl(small, SHM_LOCK, NULL)));
		say("nobody: SHM_LOCK of the same 8 pages again: %s",
		    R(shmctl(small, SHM_LOCK, NULL)));
		int more = child_get(8 * page);

		if (more < 0)
			_exit(1);
		say("nobody: SHM_LOCK of 8 more pages: %s",
		    R(shmctl(more, SHM_LOCK, NULL)));
		int extra = child_get(1);

		if (extra < 0)
			_exit(1);
		say("nobody: SHM_LOCK of a 17th page: %s",
		    R(shmctl(extra, SHM_LOCK, NULL)));
		shmctl(small, SHM_UNLOCK, NULL);
		shmctl(more, SHM_UNLOCK, NULL);
		shmctl(extra, SHM_UNLOCK, NULL);
		shmctl(id, IPC_RMID, NULL);
		shmctl(small, IPC_RMID, NULL);
		shmctl(more, IPC_RMID, NULL);
		shmctl(extra, IPC_RMID, NULL);
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	collect_ids();
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	cases();
	owner_set();
	own();
	return 0;
}
