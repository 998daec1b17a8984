/*
 * registry.c - the segment table: ids, keys, attachment counts.
 *
 * Ids follow Linux (ipc_idr_alloc): indexes are handed out cyclically
 * within the first max(in_use * 3/2, 64) slots, so a removed index is not
 * reused until the allocator wraps around, and the sequence number is
 * bumped on each wrap, so a stale id fails with EINVAL instead of naming
 * a newer segment.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <unistd.h>

void ushm__registry_init(struct ushm__registry *r,
			 const struct ushm__limits *lim,
			 struct ushm__store *store)
{
	memset(r, 0, sizeof(*r));
	r->last_idx = -1;
	r->page_size = sysconf(_SC_PAGESIZE);
	if (r->page_size <= 0)
		r->page_size = 4096;
	r->lim = *lim;
	r->store = store;
	r->max_idx = -1;
}

void ushm__registry_free(struct ushm__registry *r)
{
	/* Up to the highest slot in use: the rest are NULL already. */
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		free(r->slot[i]);
		r->slot[i] = NULL;
	}
	r->in_use = 0;
	free(r->memlock);
	r->memlock = NULL;
	r->nmemlock = 0;
}

uint64_t ushm__memlock_get(const struct ushm__registry *r, uid_t uid)
{
	for (size_t i = 0; i < r->nmemlock; i++)
		if (r->memlock[i].uid == uid)
			return r->memlock[i].pages;
	return 0;
}

int ushm__memlock_charge(struct ushm__registry *r, uid_t uid, int64_t pages)
{
	struct ushm__memlock *m;

	for (size_t i = 0; i < r->nmemlock; i++) {
		if (r->memlock[i].uid != uid)
			continue;
		r->memlock[i].pages += (uint64_t)pages;
		if (r->memlock[i].pages == 0)
			r->memlock[i] = r->memlock[--r->nmemlock];
		return 0;
	}
	if (pages <= 0)
		return 0;
	m = realloc(r->memlock, (r->nmemlock + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	r->memlock = m;
	m[r->nmemlock].uid = uid;
	m[r->nmemlock++].pages = (uint64_t)pages;
	return 0;
}

int ushm__id_index(int id)
{
	return id % USHM__IPCMNI;
}

int ushm__id_seq(int id)
{
	return id / USHM__IPCMNI;
}

struct ushm__segment *ushm__registry_find_id(struct ushm__registry *r, int id)
{
	struct ushm__segment *s;

	if (id < 0)
		return NULL;
	s = r->slot[ushm__id_index(id)];
	return (s && s->m.id == id) ? s : NULL;
}

/* A linear scan: the table holds at most SHMMNI (4096 by default)
 * segments and a lookup is a few microseconds at that size. */
struct ushm__segment *ushm__registry_find_key(struct ushm__registry *r,
					      int32_t key)
{
	int seen = 0;

	if (key == IPC_PRIVATE)
		return NULL;
	for (int i = 0; i < USHM__IPCMNI && seen < r->in_use; i++) {
		struct ushm__segment *s = r->slot[i];

		if (!s)
			continue;
		seen++;
		if (s->m.key == key && !(s->m.mode & USHM__SHM_DEST))
			return s;
	}
	return NULL;
}

/* The highest index in use at or below from, or -1. */
static int max_from(const struct ushm__registry *r, int from)
{
	if (r->in_use == 0)
		return -1;
	for (int i = from; i >= 0; i--)
		if (r->slot[i])
			return i;
	return -1;
}

int ushm__registry_max_idx(const struct ushm__registry *r)
{
	/* USHM__MAX_UNKNOWN: slots were filled by the loader. */
	return r->max_idx == USHM__MAX_UNKNOWN ?
		       max_from(r, USHM__IPCMNI - 1) :
		       r->max_idx;
}

void ushm__registry_loaded(struct ushm__registry *r)
{
	r->max_idx = max_from(r, USHM__IPCMNI - 1);
}

uint64_t ushm__pages(const struct ushm__registry *r, uint64_t size)
{
	uint64_t ps = (uint64_t)r->page_size;

	return size / ps + (size % ps != 0);
}

/* Linux cycles through this many indexes before it starts again at 0. */
#define MIN_CYCLE 64

/* The index the next segment gets, or -ENOSPC. */
static int next_index(const struct ushm__registry *r)
{
	int span = r->in_use * 3 / 2, start;

	if (span < MIN_CYCLE)
		span = MIN_CYCLE;
	if (span > USHM__IPCMNI)
		span = USHM__IPCMNI;
	start = r->last_idx + 1 < span ? r->last_idx + 1 : 0;
	for (int n = 0; n < span; n++) {
		int idx = (start + n) % span;

		if (!r->slot[idx])
			return idx;
	}
	return -ENOSPC;
}

static int alloc_index(struct ushm__registry *r)
{
	int idx = next_index(r);

	if (idx < 0)
		return idx;
	if (idx <= r->last_idx && ++r->seq >= USHM__SEQ_MAX)
		r->seq = 0;
	r->last_idx = idx;
	return idx;
}

void ushm__registry_prepare(struct ushm__registry *r)
{
	if (r->store)
		ushm__store_prepare(r->store, next_index(r));
}

void ushm__registry_idle(struct ushm__registry *r)
{
	if (r->store)
		ushm__store_release(r->store);
}

int ushm__quota_applies(const struct ushm__limits *lim, uid_t uid)
{
	return uid != 0 && uid != lim->owner_uid;
}

int ushm__registry_add(struct ushm__registry *r, struct ushm__seg_meta *m,
		       struct ushm__segment **out)
{
	struct ushm__segment *s;
	int idx, err, old_seq = r->seq, old_last = r->last_idx;

	if ((uint64_t)r->in_use >= r->lim.shmmni)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	idx = alloc_index(r);
	if (idx < 0) {
		err = idx;
		goto fail_free;
	}
	m->id = r->seq * USHM__IPCMNI + idx;
	s->m = *m;
	/* Room for its row first: nothing to undo when there is none. */
	if ((err = ushm__pub_reserve(r->pub, idx)) < 0)
		goto fail_ids;
	if (r->store) {
		err = ushm__store_save_ids(r->store, r->seq, r->last_idx);
		if (err < 0)
			goto fail_ids;
		err = ushm__store_create(r->store, s);
		if (err < 0)
			goto fail_ids;
	}
	r->slot[idx] = s;
	r->in_use++;
	r->shm_tot += ushm__pages(r, m->segsz);
	if (r->max_idx != USHM__MAX_UNKNOWN && idx > r->max_idx)
		r->max_idx = idx;
	ushm__pub_row(r->pub, s);
	*out = s;
	return m->id;

fail_ids:
	r->seq = old_seq;
	r->last_idx = old_last;
fail_free:
	free(s);
	return err;
}

int ushm__registry_destroy(struct ushm__registry *r, struct ushm__segment *s)
{
	int idx = ushm__id_index(s->m.id);

	if (r->store && ushm__store_remove(r->store, s) < 0)
		return -ENOMEM;
	if (s->m.mode & USHM__SHM_LOCKED)
		ushm__memlock_charge(r, s->m.lock_uid,
				     -(int64_t)ushm__pages(r, s->m.segsz));
	r->shm_tot -= ushm__pages(r, s->m.segsz);
	r->slot[idx] = NULL;
	r->in_use--;
	if (r->max_idx == idx)
		r->max_idx = max_from(r, idx - 1);
	ushm__pub_clear(r->pub, idx, ushm__registry_max_idx(r));
	free(s);
	return 0;
}

int ushm__registry_save(struct ushm__registry *r, struct ushm__segment *s)
{
	int err;

	if (!r->store) {
		ushm__pub_row(r->pub, s);
		return 0;
	}
	err = ushm__store_save_meta(r->store, s);
	if (err == 0) {
		ushm__pub_row(r->pub, s);
		return 0;
	}
	ushm__log(USHM__LOG_ERR, "shmid %d: metadata not saved (%s); the "
		  "change is refused", s->m.id, strerror(-err));
	return err == -ENOSPC || err == -EDQUOT ? -ENOSPC : -ENOMEM;
}

int ushm__registry_reap(struct ushm__registry *r, struct ushm__segment *s)
{
	if (s->nattch == 0 && (s->m.mode & USHM__SHM_DEST))
		return ushm__registry_destroy(r, s) == 0;
	return 0;
}

/*
 * Attaches and detaches change nattch, a time and lpid: all of it goes to
 * the published row, which is in the state directory and so persisted
 * the moment it is stored (the record file is written only for what
 * shmget and shmctl change), and cannot fail.  A daemon that could not
 * publish a table keeps them in the record, as before there was one.
 */
static int store_times(struct ushm__registry *r, struct ushm__segment *s)
{
	if (r->pub && r->pub->base) {
		ushm__pub_row(r->pub, s);
		return 0;
	}
	return ushm__registry_save(r, s);
}

int ushm__registry_attach(struct ushm__registry *r, struct ushm__segment *s,
			  uint32_t n, pid_t pid, int64_t now)
{
	int64_t atime = s->m.atime;
	pid_t lpid = s->m.lpid;
	int err;

	s->nattch += n;
	s->m.atime = now;
	s->m.lpid = pid;
	err = store_times(r, s);
	if (err < 0) {
		s->nattch -= n;
		s->m.atime = atime;
		s->m.lpid = lpid;
	}
	return err;
}

int ushm__registry_detach(struct ushm__registry *r, struct ushm__segment *s,
			  uint32_t n, pid_t pid, int64_t now)
{
	s->nattch = s->nattch > n ? s->nattch - n : 0;
	s->m.dtime = now;
	s->m.lpid = pid;
	if (ushm__registry_reap(r, s))
		return 1;
	/* Logged if it fails: the detach has happened all the same. */
	(void)store_times(r, s);
	return 0;
}

int ushm__registry_recount(struct ushm__registry *r, struct ushm__segment *s,
			   int64_t n)
{
	if (n < 0)
		s->nattch = s->nattch > (uint64_t)-n ? s->nattch - (uint64_t)-n :
						       0;
	else
		s->nattch += (uint64_t)n;
	if (ushm__registry_reap(r, s))
		return 1;
	ushm__pub_row(r->pub, s);
	return 0;
}
