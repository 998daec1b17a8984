/*
 * daemon.h - ushmd's internal types: the segment table (registry), the
 * caller's credentials, connections and the on-disk store.
 *
 * ushmd is single-threaded: one epoll loop owns every structure here, so
 * none of them needs a lock.  Functions return 0 or a value >= 0 on
 * success and -errno on failure.
 */
#ifndef USHM_DAEMON_H
#define USHM_DAEMON_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../proto/proto.h"
#include "../proto/table.h"
#include "../common/procfs.h"

/* Linux's id scheme: shmid = seq * IPCMNI + index. */
#define USHM__IPCMNI 32768
#define USHM__SEQ_MAX (INT32_MAX / USHM__IPCMNI)

/* Bits of shm_perm.mode beyond the permission bits, as Linux. */
#define USHM__SHM_DEST 01000
#define USHM__SHM_LOCKED 02000

#define USHM__NGROUPS_MAX 256

/* Who is calling: pid, uid and gid from SCM_CREDENTIALS of the request,
 * as the kernel checked them when it was sent (nothing about the caller
 * is read later); supplementary groups from SO_PEERGROUPS of the
 * connection.  The library sends its fsgid as gid (the kernel accepts
 * one of the sender's real, effective or saved gids, which is what an
 * unprivileged fsgid always is): Linux decides group membership by the
 * fsgid, and the same gid names the group of a segment it creates. */
struct ushm__cred {
	pid_t pid;
	/* A pidfd of pid taken while it was the sender (the connection's
	 * watch), or -1: tells that /proc/PID is still the sender's. */
	int pidfd;
	/* The sender's capabilities (1 << CAP_*), or -1: looked up in /proc
	 * when needed (what the connection gives; the unit tests give a
	 * mask). */
	int64_t caps;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[USHM__NGROUPS_MAX];
};

/* The limits Linux keeps in /proc/sys/kernel/shm*, and ushm's own
 * per-user quotas, which protect the users of a system-wide daemon from
 * each other (0: none).  A quota charges a segment to its creator (cuid,
 * which IPC_SET cannot change) and spares root and the daemon's own user
 * (the only user of a per-user daemon). */
struct ushm__limits {
	uint64_t shmmax; /* bytes in one segment */
	uint64_t shmall; /* pages in all segments */
	uint64_t shmmni; /* segments */
	uint64_t quota_segments; /* segments one user may create */
	uint64_t quota_bytes;    /* bytes (in whole pages) one user's hold */
	uid_t owner_uid;         /* the daemon's own user */
	/* Which of shmmax, shmall, shmmni follow the kernel's sysctl as it
	 * is at each call (USHM__LIVE_*: those not set by a flag or the
	 * config), and the sysctl files kept open for that. */
	unsigned live;
	int live_fd[3];
	/* /proc/sys/vm/overcommit_memory, kept open when
	 * USHM__LIVE_OVERCOMMIT is in live (ushm__limits_open). */
	int overcommit_fd;
};

enum {
	USHM__LIVE_SHMMAX = 1u << 0,
	USHM__LIVE_SHMALL = 1u << 1,
	USHM__LIVE_SHMMNI = 1u << 2,
	USHM__LIVE_OVERCOMMIT = 1u << 3, /* set by ushm__limits_open */
};

/* Segment flags kept in the metadata. */
#define USHM__SEGF_NORESERVE 1u /* made with SHM_NORESERVE */

/* What is persisted of a segment: its shmid_ds minus nattch, which is
 * derived from the live attachments. */
struct ushm__seg_meta {
	int32_t id;
	int32_t key;
	uint32_t uid, gid, cuid, cgid;
	uint32_t mode; /* permission bits | SHM_DEST | SHM_LOCKED */
	uint32_t flags; /* USHM__SEGF_* */
	uint64_t segsz;
	int64_t atime, dtime, ctime;
	int32_t cpid, lpid;
	uint32_t lock_uid; /* charged for SHM_LOCKED, as Linux's ucounts */
	uint32_t create_tag; /* the creator's tag for the shmget that made it */
};

/* Pages locked with SHM_LOCK, per user (Linux's RLIMIT_MEMLOCK count). */
struct ushm__memlock {
	uid_t uid;
	uint64_t pages;
};

struct ushm__segment {
	struct ushm__seg_meta m;
	uint64_t nattch;
	uint32_t meta_gen; /* generation of the last record written */
	dev_t dev;         /* of its memory, to recognise mappings */
	ino_t ino;
};

struct ushm__store;

/* The table clients read (publish.c), and the watch set they poll. */
struct ushm__pub {
	int fd;          /* the table file, read-write */
	int ro_fd;       /* the same, read-only: what clients get */
	int watch_fd;    /* the watch set (an epoll set nobody waits on) */
	void *base;      /* the table, mapped */
	int alive_held;  /* the header's liveness mutex is locked */
	int busy;        /* the epoch is odd (ushm__pub_enter) */
	size_t page_size;
	/* Pages of the file already allocated, one bit each. */
	uint64_t have[(USHM__TABLE_SIZE / 4096 + 64) / 64];
};

/* The refusal logged last: a client that keeps retrying must not flood
 * the log (see ushm__log_limit_pass). */
struct ushm__log_limit {
	int64_t when;
	uid_t uid;
	const char *what;
};

struct ushm__registry {
	struct ushm__segment *slot[USHM__IPCMNI];
	int in_use;
	int last_idx;  /* last index handed out (cyclic allocation) */
	int seq;       /* bumped when allocation wraps around */
	uint64_t shm_tot; /* pages in use */
	long page_size;
	struct ushm__limits lim;
	struct ushm__memlock *memlock; /* one entry per user with locks */
	size_t nmemlock;
	struct ushm__store *store; /* NULL: in memory only (unit tests) */
	struct ushm__pub *pub;     /* NULL: nothing published (the same) */
	int max_idx;               /* highest index in use, -1 (none) or
				      USHM__MAX_UNKNOWN (before
				      ushm__registry_loaded) */
	struct ushm__log_limit quota_logged;
};

/* ---- perm.c: Linux's ipcperms and owner checks ---- */

/* May c's sender use capability cap (CAP_*) here, as Linux's ns_capable
 * asks: uid 0 (as the kernel vouched) with cap effective, in the
 * daemon's user namespace?  Reads /proc: for refusals only. */
int ushm__cred_capable(const struct ushm__cred *c, int cap);
/* May cred access perm with the rwx bits in flag (any of the three
 * triples)?  0 or -EACCES.  CAP_IPC_OWNER passes. */
int ushm__perm_check(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m, int flag);
/* Is cred the owner or creator (or has CAP_SYS_ADMIN)?  0 or -EPERM. */
int ushm__perm_owner(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m);
/* Is gid cred's fsgid or a supplementary group (Linux's in_group_p)? */
int ushm__cred_in_group(const struct ushm__cred *c, gid_t gid);


/* ---- hugetlb.c: SHM_HUGETLB as Linux decides it ---- */

/* The huge page size, the caller's right (CAP_IPC_LOCK as get_flags
 * says, or vm.hugetlb_shm_group) and the pool, in Linux's order: 0,
 * -EINVAL, -EPERM or -ENOMEM. */
int ushm__hugetlb_check(const struct ushm__cred *c, uint64_t size,
			int shmflg, uint32_t get_flags);

/* ---- limits.c: shmmax, shmall, shmmni as the kernel has them now ---- */

/* Opens /proc/sys/kernel/shm{max,all,mni} for the limits in lim->live
 * (a file that cannot be opened leaves its limit as it is). */
void ushm__limits_open(struct ushm__limits *lim);
/* Re-reads the live limits (a pread each); the others stay. */
void ushm__limits_refresh(struct ushm__limits *lim);
/* The kernel's vm.overcommit_memory now (0 when it cannot be read): a
 * pread of the file ushm__limits_open opened, else an open and a read. */
int ushm__limits_overcommit(const struct ushm__limits *lim);
void ushm__limits_close(struct ushm__limits *lim);

/* ---- registry.c: the table, ids, keys, limits ---- */

void ushm__registry_init(struct ushm__registry *r,
			 const struct ushm__limits *lim,
			 struct ushm__store *store);
void ushm__registry_free(struct ushm__registry *r);
int ushm__id_index(int id);
int ushm__id_seq(int id);
/* The segment with this id, or NULL (unused index or stale seq). */
struct ushm__segment *ushm__registry_find_id(struct ushm__registry *r, int id);
struct ushm__segment *ushm__registry_find_key(struct ushm__registry *r,
					      int32_t key);
/* Highest index in use, or -1. */
int ushm__registry_max_idx(const struct ushm__registry *r);
#define USHM__MAX_UNKNOWN (-2)
/* The loader filled slots directly: find the highest index again. */
void ushm__registry_loaded(struct ushm__registry *r);
/* Allocates an index and id for a new segment; creates its files.  The
 * caller has checked the limits.  -ENOSPC when SHMMNI is reached. */
int ushm__registry_add(struct ushm__registry *r, struct ushm__seg_meta *m,
		       struct ushm__segment **out);
/* Removes and frees the segment and its files.  0, or -ENOSPC/-ENOMEM
 * when its record could not be removed: then it stays, as on disk. */
int ushm__registry_destroy(struct ushm__registry *r, struct ushm__segment *s);
/* Does ahead, while the daemon waits, what the next create would; and
 * lets it go before the daemon sleeps (ushm__store_prepare, _release). */
void ushm__registry_prepare(struct ushm__registry *r);
void ushm__registry_idle(struct ushm__registry *r);
/* Persists s's metadata (after any change).  0, or -ENOSPC (the state
 * filesystem is full) or -ENOMEM (any other failure), logged: the caller
 * puts its change back and answers that error, so that memory stays as
 * on disk. */
int ushm__registry_save(struct ushm__registry *r, struct ushm__segment *s);
/* Do the per-user quotas apply to uid? */
int ushm__quota_applies(const struct ushm__limits *lim, uid_t uid);
/* Pages a segment of size bytes occupies. */
uint64_t ushm__pages(const struct ushm__registry *r, uint64_t size);
/* Counts n attachments more, or fewer, made by pid at now (atime or
 * dtime, and lpid, as Linux sets them).  An attach whose record cannot
 * be written is undone and returns the error.  A detach (which has
 * happened, whatever the disk says) that drops the last attachment of a
 * SHM_DEST segment destroys it, and then returns 1. */
int ushm__registry_attach(struct ushm__registry *r, struct ushm__segment *s,
			  uint32_t n, pid_t pid, int64_t now);
int ushm__registry_detach(struct ushm__registry *r, struct ushm__segment *s,
			  uint32_t n, pid_t pid, int64_t now);
/* Counts n attachments more (n > 0) or fewer without touching times or
 * lpid: attachments moved from one holder to another, found after a
 * restart, or taken back after a failed mmap.  A count that drops the
 * last attachment of a SHM_DEST segment destroys it, and returns 1. */
int ushm__registry_recount(struct ushm__registry *r, struct ushm__segment *s,
			   int64_t n);
/* Pages uid has locked; charges (pages > 0) or uncharges (< 0) them.
 * Charging returns -ENOMEM when out of memory for the record. */
uint64_t ushm__memlock_get(const struct ushm__registry *r, uid_t uid);
int ushm__memlock_charge(struct ushm__registry *r, uid_t uid, int64_t pages);
/* Destroys s when it is SHM_DEST with no attachment left; returns 1 if
 * it did. */
int ushm__registry_reap(struct ushm__registry *r, struct ushm__segment *s);

/* ---- ops.c: the semantics of shmget/shmat/shmctl ---- */

struct ushm__ctl_out {
	struct ushm__wire_ds ds;
	struct ushm__wire_info info;
};

/* tag: the caller's for this shmget, kept with a segment it creates;
 * get_flags: the request's USHM__GET_* flags (USHM__GET_RETRY: the
 * daemon may have served this very call before it died, so a segment the
 * caller created with tag is the answer). */
int ushm__op_get(struct ushm__registry *r, const struct ushm__cred *c,
		 int32_t key, uint64_t size, int shmflg, uint32_t tag,
		 uint32_t get_flags, int64_t now);
/* Checks that c may attach id with shmflg; on success *out is the
 * segment (the caller counts the attachment). */
int ushm__op_at(struct ushm__registry *r, const struct ushm__cred *c, int id,
		int shmflg, struct ushm__segment **out);
/* memlock: the caller's RLIMIT_MEMLOCK in bytes (UINT64_MAX: none). */
int ushm__op_ctl(struct ushm__registry *r, const struct ushm__cred *c, int id,
		 int cmd, const struct ushm__wire_set *set, uint64_t memlock,
		 int64_t now, struct ushm__ctl_out *out);
void ushm__meta_to_wire(const struct ushm__segment *s, struct ushm__wire_ds *w);

/* ---- store.c: files in the state directory ---- */

/* Opens (creating) the state directory and locks it for this daemon.
 * -EBUSY when another daemon holds it. */
int ushm__store_open(const char *dir, struct ushm__store **out);
void ushm__store_close(struct ushm__store *st);
/* Creates the memory of a new segment (a sealed memfd of its size, given
 * to the keeper) and its record. */
int ushm__store_create(struct ushm__store *st, struct ushm__segment *s);
/* Does ahead what the next create would (a memfd made, the record file
 * of index next_idx opened if it exists; -1: unknown), while the daemon
 * waits for its client: when a segment was created since the last
 * ushm__store_release. */
void ushm__store_prepare(struct ushm__store *st, int next_idx);
/* Closes what the store keeps open for work ahead (the spare memfd, the
 * record files): before the daemon sleeps. */
void ushm__store_release(struct ushm__store *st);
/* Writes s's metadata record (alternating slots, checksummed). */
int ushm__store_save_meta(struct ushm__store *st, struct ushm__segment *s);
/* Writes the id allocator's state. */
int ushm__store_save_ids(struct ushm__store *st, int seq, int last_idx);
/* Unlinks both files of s: 0, or -errno when its record could not go
 * (the segment still exists on disk). */
int ushm__store_remove(struct ushm__store *st, const struct ushm__segment *s);
/* Opens s's memory for a client: O_RDONLY or O_RDWR, CLOEXEC, a
 * description of its own. */
int ushm__store_open_data(struct ushm__store *st, const struct ushm__segment *s,
			  int rdonly);
/* Allocated bytes of s's memory (for SHM_INFO shm_rss). */
uint64_t ushm__store_resident(struct ushm__store *st,
			      const struct ushm__segment *s);
/* Of those, the bytes the state directory's filesystem holds (only an
 * old-format seg-N.data file's; sealed memory is not in it). */
uint64_t ushm__store_on_fs(struct ushm__store *st,
			   const struct ushm__segment *s);
/* The index of the segment whose memory is (dev, ino), or -1: O(1). */
int ushm__store_find(const struct ushm__store *st, dev_t dev, ino_t ino);
/* The keeper's connection is watched in epoll set epfd with item as its
 * data (again after each new keeper).  0, or -errno. */
int ushm__store_watch_keeper(struct ushm__store *st, int epfd, void *item);
/* The keeper hung up: starts another and gives it every segment.  0, or
 * -errno (logged: segments would not outlive the daemon). */
int ushm__store_keeper_lost(struct ushm__store *st);
/* Loads every segment and the id allocator into r (at start-up).
 * Repairs what it can (a torn record falls back to the other slot) and
 * reports each repair in the log. */
int ushm__store_load(struct ushm__store *st, struct ushm__registry *r);
/* The second half of ushm__store_load: every seg-N.meta (and the ids
 * record) into r, for the memory the store holds already.  0 or -errno. */
int ushm__store_load_records(struct ushm__store *st,
			     struct ushm__registry *r);
/* The directory's fd (for recovery's checks). */
int ushm__store_dirfd(const struct ushm__store *st);

/* ---- publish.c: the table clients read ---- */

void ushm__pub_init(struct ushm__pub *p);
/* The row that publishes s (also what IPC_STAT answers). */
void ushm__seg_to_row(const struct ushm__segment *s,
		      struct ushm__table_row *row);
/* Takes atime, dtime and lpid of r's loaded segments from the last
 * daemon's table, then publishes a new table of r and sets r->pub.
 * 0 or -errno (logged). */
int ushm__pub_open(struct ushm__pub *p, int dirfd, struct ushm__registry *r);
void ushm__pub_close(struct ushm__pub *p);
/* Allocates the file's room for the row of index idx (before a segment
 * takes it).  0 or -ENOSPC/-ENOMEM. */
int ushm__pub_reserve(struct ushm__pub *p, int idx);
/* Publishes s as it is now; clears the row of a removed index (and sets
 * the highest index in use). */
void ushm__pub_row(struct ushm__pub *p, const struct ushm__segment *s);
void ushm__pub_clear(struct ushm__pub *p, int idx, int max_idx);
/* Around a change of what decides a shmat of row idx's segment
 * (IPC_RMID, IPC_SET): clients that attach from descriptors they kept
 * see it (see publish.c). */
void ushm__pub_gen_begin(struct ushm__pub *p, int idx);
void ushm__pub_gen_end(struct ushm__pub *p, int idx);
/* Around taking an event from the kernel and publishing what it did
 * (see publish.c); each returns 1 if it changed the state. */
int ushm__pub_enter(struct ushm__pub *p);
int ushm__pub_leave(struct ushm__pub *p);
/* Wakes clients waiting for the epoch to move (after a pass). */
void ushm__pub_wake(struct ushm__pub *p);
/* Sends every reader to the daemon from now on (logged once). */
void ushm__pub_slow(struct ushm__pub *p, const char *why);
/* Tells readers whether the daemon holds gathered work (the table
 * header's gathering). */
void ushm__pub_gathering(struct ushm__pub *p, int on);
/* Adds fd to the watch set.  0 or -errno (and readers go slow). */
int ushm__pub_watch(struct ushm__pub *p, int fd, uint32_t events);
/* The descriptors a client gets: the table read-only and the watch
 * set.  0 or -ENOSYS when there is no table. */
int ushm__pub_fds(const struct ushm__pub *p, int fds[2]);

/* ---- pidfile.c ---- */

/* The pid written in file name of directory dirfd (a pid file), or 0
 * when there is none. */
pid_t ushm__pid_file(int dirfd, const char *name);

/* ---- log.c ---- */

enum { USHM__LOG_ERR, USHM__LOG_WARN, USHM__LOG_INFO, USHM__LOG_DEBUG };
/* Log lines of level and above go to fd; errors and warnings are also
 * written to echo (-1: nowhere else). */
void ushm__log_setup(int level, int fd, int echo);
void ushm__log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A line a client's request causes: rate-limited per uid and for all
 * (see log.c). */
void ushm__log_for(uid_t uid, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The log is file name in directory dirfd: past max bytes (0: no
 * bound) it is renamed name.1 and started afresh. */
void ushm__log_bound(int dirfd, const char *name, uint64_t max);

int64_t ushm__now(void);
/* Should refusal what of uid be logged now?  The same one is, at most
 * once a second. */
int ushm__log_limit_pass(struct ushm__log_limit *l, uid_t uid,
			 const char *what);

#endif /* USHM_DAEMON_H */
