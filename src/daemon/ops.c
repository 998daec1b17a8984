/*
 * ops.c - what shmget, shmat and shmctl do to the table, with Linux's
 * results and Linux's order of checks (ipc/shm.c and ipc/util.c are the
 * reference: newseg, ipcget_public, do_shmat, shmctl_*).
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>

#define MODE_BITS 0777

/*
 * Linux charges a segment's size against the memory commit limit when it
 * is created, unless SHM_NORESERVE asks it not to (and overcommit is not
 * strict).  In the default heuristic mode a request larger than RAM plus
 * swap fails with ENOMEM; in strict mode (2), one larger than what is
 * left of CommitLimit does.  ushm's tmpfs files would accept any size, so
 * the same rule is applied here.  RAM and swap are the kernel's
 * totalram_pages and total_swap_pages, which sysinfo(2) reports in one
 * call (/proc/meminfo, which formats fifty lines to give the same two
 * numbers, cost 50 us a shmget); only strict mode needs meminfo's
 * commit figures.
 */
static int memory_fits(const struct ushm__limits *lim, uint64_t size,
		       int shmflg)
{
	unsigned long long limit, committed;
	uint64_t kb = size / 1024 + (size % 1024 != 0);
	int mode = ushm__limits_overcommit(lim);
	struct sysinfo si;

	if (mode == 1 || ((shmflg & SHM_NORESERVE) && mode != 2))
		return 1;
	if (mode == 2) {
		limit = ushm__meminfo_kb("CommitLimit");
		committed = ushm__meminfo_kb("Committed_AS");
		return committed < limit && kb <= limit - committed;
	}
	if (sysinfo(&si) < 0)
		return kb <= ushm__meminfo_kb("MemTotal") +
				     ushm__meminfo_kb("SwapTotal");
	/* In KiB, as meminfo has them: no overflow for any real size. */
	return kb <= ((uint64_t)si.totalram + si.totalswap) *
			     (si.mem_unit ? si.mem_unit : 1) / 1024;
}

/*
 * ushm's per-user quotas: may uid create one more segment of pages?
 * Linux has no such limit; ENOSPC is what it answers when the machine's
 * limits (SHMALL, SHMMNI) are reached, and the nearest a caller expects.
 * The same refusal of the same user is logged at most once a second, so
 * that a client retrying cannot flood the log.
 */
static int quota_allows(struct ushm__registry *r, uid_t uid, uint64_t pages)
{
	uint64_t segs = 0, used = 0, quota_pages;
	const char *which;

	if ((!r->lim.quota_segments && !r->lim.quota_bytes) ||
	    !ushm__quota_applies(&r->lim, uid))
		return 1;
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		const struct ushm__segment *s = r->slot[i];

		if (s && s->m.cuid == uid) {
			segs++;
			used += ushm__pages(r, s->m.segsz);
		}
	}
	quota_pages = ushm__pages(r, r->lim.quota_bytes);
	if (r->lim.quota_segments && segs >= r->lim.quota_segments)
		which = "quota_segments";
	else if (r->lim.quota_bytes &&
		 (used + pages < used || used + pages > quota_pages))
		which = "quota_bytes";
	else
		return 1;
	if (ushm__log_limit_pass(&r->quota_logged, uid, which))
		ushm__log(USHM__LOG_WARN, "uid %ld: shmget refused: %s reached",
			  (long)uid, which);
	return 0;
}

/*
 * The state directory's filesystem is the budget of segment memory, as
 * when segments were files in it: an administrator sizes that tmpfs (or
 * /run) to bound what ushm may hold, and the default per-user quota is a
 * share of it.  Linux reserves a segment's memory when it is made; ushm
 * reserves its whole size in that budget, so that a segment that exists
 * can always be used and one user's segments can never take what is
 * reserved for another's.  A segment's memory is a sealed memfd (store.c),
 * which cannot grow past its size and does not occupy the filesystem:
 * the claims are counted here, against the free space.  SHM_NORESERVE
 * segments claim only the pages they have, as on Linux, but only for the
 * users the quotas spare (root, the daemon's own user); another user's
 * SHM_NORESERVE segment reserves its whole size like any other.  (An
 * old-format segment is a file in that filesystem: what it has allocated
 * is already out of the free space.)
 */
static int reserves(const struct ushm__registry *r, uid_t cuid, int shmflg)
{
	return !(shmflg & SHM_NORESERVE) ||
	       ushm__quota_applies(&r->lim, cuid);
}

static int store_has_room(struct ushm__registry *r, uid_t uid, uint64_t size,
			  int shmflg)
{
	struct statvfs fs;
	uint64_t free_bytes, reserved = 0;

	if (!r->store || !reserves(r, uid, shmflg) ||
	    fstatvfs(ushm__store_dirfd(r->store), &fs) < 0)
		return 1;
	free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
	/* Every segment's whole size bounds the reservations: when that
	 * fits, no file needs a look. */
	if (r->shm_tot <= free_bytes / (uint64_t)r->page_size &&
	    size <= free_bytes - r->shm_tot * (uint64_t)r->page_size)
		return 1;
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		const struct ushm__segment *s = r->slot[i];
		uint64_t full, claim, on_fs;

		if (!s)
			continue;
		full = ushm__pages(r, s->m.segsz) * (uint64_t)r->page_size;
		on_fs = ushm__store_on_fs(r->store, s);
		claim = reserves(r, s->m.cuid,
				 (s->m.flags & USHM__SEGF_NORESERVE) ?
					 SHM_NORESERVE : 0) ?
				full :
				ushm__store_resident(r->store, s);
		if (claim > on_fs)
			reserved += claim - on_fs;
	}
	return reserved <= free_bytes && size <= free_bytes - reserved;
}

/* Linux's newseg(): limits first, then the backing, then the table. */
static int newseg(struct ushm__registry *r, const struct ushm__cred *c,
		  int32_t key, uint64_t size, int shmflg, uint32_t tag,
		  uint32_t get_flags, int64_t now)
{
	struct ushm__seg_meta m;
	struct ushm__segment *s;
	uint64_t pages = ushm__pages(r, size);

	ushm__limits_refresh(&r->lim);
	if (size < 1 || size > r->lim.shmmax)
		return -EINVAL;
	if (r->shm_tot + pages < r->shm_tot ||
	    r->shm_tot + pages > r->lim.shmall)
		return -ENOSPC;
	if (!quota_allows(r, c->uid, pages))
		return -ENOSPC;
	if (shmflg & SHM_HUGETLB) {
		int err = ushm__hugetlb_check(c, size, shmflg, get_flags);

		if (err < 0)
			return err;
	} else if (size > INT64_MAX) {
		return -EINVAL; /* larger than any file can be */
	} else if (!memory_fits(&r->lim, size, shmflg)) {
		return -ENOMEM;
	}
	if (!store_has_room(r, c->uid, size, shmflg)) {
		ushm__log_for(c->uid, USHM__LOG_WARN, "shmget of %" PRIu64 " bytes "
			  "refused: the state directory's filesystem is "
			  "full (make room there, or give it more space)",
			  size);
		return -ENOSPC;
	}
	memset(&m, 0, sizeof(m));
	m.key = key;
	if (shmflg & SHM_NORESERVE)
		m.flags |= USHM__SEGF_NORESERVE;
	m.uid = m.cuid = c->uid;
	m.gid = m.cgid = c->gid;
	m.mode = (uint32_t)shmflg & MODE_BITS;
	m.segsz = size;
	m.ctime = now;
	m.cpid = c->pid;
	m.create_tag = tag;
	return ushm__registry_add(r, &m, &s);
}

/* The segment pid created with tag, if it is still there. */
static struct ushm__segment *created_by(struct ushm__registry *r, pid_t pid,
					uint32_t tag)
{
	if (tag == 0) /* a caller that gives none */
		return NULL;
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		struct ushm__segment *s = r->slot[i];

		if (s && s->m.cpid == pid && s->m.create_tag == tag)
			return s;
	}
	return NULL;
}

int ushm__op_get(struct ushm__registry *r, const struct ushm__cred *c,
		 int32_t key, uint64_t size, int shmflg, uint32_t tag,
		 uint32_t get_flags, int64_t now)
{
	struct ushm__segment *s;
	int err;

	if ((get_flags & USHM__GET_RETRY) && (shmflg & IPC_CREAT || key == IPC_PRIVATE) &&
	    (s = created_by(r, c->pid, tag)) != NULL)
		return s->m.id;
	if (key == IPC_PRIVATE)
		return newseg(r, c, key, size, shmflg, tag, get_flags, now);
	s = ushm__registry_find_key(r, key);
	if (!s) {
		if (!(shmflg & IPC_CREAT))
			return -ENOENT;
		return newseg(r, c, key, size, shmflg, tag, get_flags, now);
	}
	if ((shmflg & IPC_CREAT) && (shmflg & IPC_EXCL))
		return -EEXIST;
	if (s->m.segsz < size)
		return -EINVAL;
	err = ushm__perm_check(c, &s->m, shmflg);
	return err < 0 ? err : s->m.id;
}

int ushm__op_at(struct ushm__registry *r, const struct ushm__cred *c, int id,
		int shmflg, struct ushm__segment **out)
{
	struct ushm__segment *s = ushm__registry_find_id(r, id);
	int acc = (shmflg & SHM_RDONLY) ? 0444 : 0666;
	int err;

	if (!s)
		return -EINVAL;
	if (shmflg & SHM_EXEC)
		acc |= 0111;
	err = ushm__perm_check(c, &s->m, acc);
	if (err < 0)
		return err;
	*out = s;
	return 0;
}

void ushm__meta_to_wire(const struct ushm__segment *s, struct ushm__wire_ds *w)
{
	struct ushm__table_row row;

	/* By way of its published row: the library's answers from the
	 * table and the daemon's are made alike. */
	ushm__seg_to_row(s, &row);
	ushm__table_row_to_wire(&row, w);
}

static int info(struct ushm__registry *r, int cmd, struct ushm__wire_info *out)
{
	int maxidx = ushm__registry_max_idx(r);

	memset(out, 0, sizeof(*out));
	ushm__limits_refresh(&r->lim);
	out->shmmax = r->lim.shmmax;
	out->shmmin = 1;
	out->shmmni = out->shmseg = r->lim.shmmni;
	out->shmall = r->lim.shmall;
	if (cmd == SHM_INFO) {
		uint64_t rss = 0;

		for (int i = 0; i <= maxidx; i++) {
			if (r->slot[i] && r->store)
				rss += ushm__store_resident(r->store,
							    r->slot[i]);
		}
		out->used_ids = (uint64_t)r->in_use;
		out->shm_tot = r->shm_tot;
		out->shm_rss = ushm__pages(r, rss);
	}
	return maxidx < 0 ? 0 : maxidx;
}

/* SHM_STAT and SHM_STAT_ANY take an index; Linux masks it like an id. */
static int stat_index(struct ushm__registry *r, const struct ushm__cred *c,
		      int index, int any, struct ushm__wire_ds *out)
{
	struct ushm__segment *s = r->slot[ushm__id_index(index)];
	int err;

	if (!s)
		return -EINVAL;
	if (!any && (err = ushm__perm_check(c, &s->m, 0444)) < 0)
		return err;
	ushm__meta_to_wire(s, out);
	return s->m.id;
}

/* IPC_SET: only uid, gid and the permission bits change; an id that
 * names no user (uid_t -1) is EINVAL, after the owner check. */
static int set(struct ushm__registry *r, struct ushm__segment *s,
	       const struct ushm__wire_set *in, int64_t now)
{
	struct ushm__seg_meta was = s->m;
	int err;

	if (in->uid == (uint32_t)-1 || in->gid == (uint32_t)-1)
		return -EINVAL;
	s->m.uid = in->uid;
	s->m.gid = in->gid;
	s->m.mode = (s->m.mode & ~(uint32_t)MODE_BITS) | (in->mode & MODE_BITS);
	s->m.ctime = now;
	err = ushm__registry_save(r, s);
	if (err < 0)
		s->m = was; /* as on disk */
	return err;
}

/* IPC_RMID: gone now if nobody is attached, else at the last detach;
 * meanwhile the key is free for a new segment. */
static int rmid(struct ushm__registry *r, struct ushm__segment *s)
{
	struct ushm__seg_meta was = s->m;
	int err;

	if (s->nattch == 0)
		return ushm__registry_destroy(r, s);
	s->m.mode |= USHM__SHM_DEST;
	s->m.key = IPC_PRIVATE;
	err = ushm__registry_save(r, s);
	if (err < 0)
		s->m = was;
	return err;
}

/*
 * SHM_LOCK/SHM_UNLOCK.  Without CAP_IPC_LOCK only the owner or creator
 * may, and locking needs a non-zero RLIMIT_MEMLOCK.  Like Linux's
 * user_shm_lock, locked pages are charged to the locking user and their
 * total must stay within the locker's RLIMIT_MEMLOCK (ENOMEM) unless it
 * has CAP_IPC_LOCK; an unlock or the segment's destruction gives them
 * back.  Locking a locked segment changes nothing.  The capability is
 * looked up (/proc) only where it decides.
 */
static int lock(struct ushm__registry *r, const struct ushm__cred *c,
		struct ushm__segment *s, int cmd, uint64_t memlock)
{
	int64_t pages = (int64_t)ushm__pages(r, s->m.segsz);
	struct ushm__seg_meta was = s->m;
	int capable = -1; /* not looked up yet */
	int err;

	if ((c->uid != s->m.uid && c->uid != s->m.cuid) ||
	    (cmd == SHM_LOCK && memlock == 0)) {
		capable = ushm__cred_capable(c, CAP_IPC_LOCK);
		if (!capable)
			return -EPERM;
	}
	if (cmd == SHM_LOCK) {
		uint64_t limit = memlock == UINT64_MAX ?
					 UINT64_MAX :
					 memlock / (uint64_t)r->page_size;

		if (s->m.mode & USHM__SHM_LOCKED)
			return 0;
		if (ushm__memlock_get(r, c->uid) + (uint64_t)pages > limit &&
		    !(capable >= 0 ? capable :
				     ushm__cred_capable(c, CAP_IPC_LOCK)))
			return -ENOMEM;
		if (ushm__memlock_charge(r, c->uid, pages) < 0)
			return -ENOMEM;
		s->m.lock_uid = c->uid;
		s->m.mode |= USHM__SHM_LOCKED;
	} else {
		if (!(s->m.mode & USHM__SHM_LOCKED))
			return 0;
		ushm__memlock_charge(r, s->m.lock_uid, -pages);
		s->m.mode &= ~(uint32_t)USHM__SHM_LOCKED;
	}
	err = ushm__registry_save(r, s);
	if (err < 0) { /* as on disk, the charge included */
		s->m = was;
		if (cmd == SHM_LOCK)
			ushm__memlock_charge(r, c->uid, -pages);
		else
			(void)ushm__memlock_charge(r, was.lock_uid, pages);
	}
	return err;
}

int ushm__op_ctl(struct ushm__registry *r, const struct ushm__cred *c, int id,
		 int cmd, const struct ushm__wire_set *setv, uint64_t memlock,
		 int64_t now, struct ushm__ctl_out *out)
{
	struct ushm__segment *s;
	int err;

	if (cmd < 0 || id < 0)
		return -EINVAL;
	switch (cmd) {
	case IPC_INFO:
	case SHM_INFO:
		return info(r, cmd, &out->info);
	case SHM_STAT:
	case SHM_STAT_ANY:
		return stat_index(r, c, id, cmd == SHM_STAT_ANY, &out->ds);
	case IPC_STAT:
	case IPC_SET:
	case IPC_RMID:
	case SHM_LOCK:
	case SHM_UNLOCK:
		break;
	default:
		return -EINVAL;
	}
	s = ushm__registry_find_id(r, id);
	if (!s)
		return -EINVAL;
	switch (cmd) {
	case IPC_STAT:
		if ((err = ushm__perm_check(c, &s->m, 0444)) < 0)
			return err;
		ushm__meta_to_wire(s, &out->ds);
		return 0;
	case IPC_SET:
		if ((err = ushm__perm_owner(c, &s->m)) < 0)
			return err;
		return setv ? set(r, s, setv, now) : -EFAULT;
	case IPC_RMID:
		if ((err = ushm__perm_owner(c, &s->m)) < 0)
			return err;
		return rmid(r, s);
	default:
		return lock(r, c, s, cmd, memlock);
	}
}
