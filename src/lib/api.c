/*
 * api.c - ushm_get, ushm_at, ushm_dt, ushm_ctl: the System V edge.
 *
 * Everything below returns -errno internally; these functions alone set
 * errno and return -1 (or (void *)-1), as the Linux calls do.  Checks
 * that Linux makes before it looks a segment up (ids, addresses) are made
 * here in the same order; the rest is the daemon's.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "client.h"
#include "../common/paths.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(int64_t err)
{
	errno = (int)-err;
	return -1;
}

static void req_init(struct ushm__req *q, unsigned op, uint32_t flags)
{
	memset(q, 0, sizeof(*q));
	ushm__hdr_init(&q->hdr, op, sizeof(*q), flags);
}

static int64_t call(struct ushm__req *q, struct ushm__rep *rep, int *fd)
{
	int64_t r;

	ushm__client_lock();
	r = ushm__transact(q, sizeof(*q), rep, fd);
	ushm__client_unlock();
	return r;
}

/*
 * A tag for each shmget, kept by the daemon with a segment the call
 * creates: a call sent again because the daemon died before answering
 * finds the segment its first attempt made instead of making another.
 * Unique within the process (the daemon pairs it with the pid); it
 * starts from the random bytes the kernel gives every exec, so that a
 * later process with a reused pid does not repeat an earlier one's tags.
 * Atomic: threads take tags at once, and a forked child, whose pid is
 * new, may go on from its parent's count.
 */
static uint32_t next_tag(void)
{
	static _Atomic uint32_t counter; /* 0: not seeded yet */
	uint32_t t = atomic_load(&counter);

	if (t == 0) {
		const unsigned char *r = (const void *)getauxval(AT_RANDOM);
		uint32_t seed = 1;

		if (r)
			memcpy(&seed, r + 12, sizeof(seed));
		/* The first thread seeds; the others keep its seed. */
		atomic_compare_exchange_strong(&counter, &t, seed | 1);
	}
	t = atomic_fetch_add(&counter, 1);
	return t ? t : atomic_fetch_add(&counter, 1); /* 0 means none */
}

static int get(key_t key, size_t size, int shmflg)
{
	struct ushm__req q;
	struct ushm__rep rep;
	int64_t r;

	if ((r = ushm__client_refuse_reentry()) < 0)
		return fail(r);
	/* An existing key is looked up in the published table. */
	ushm__client_lock();
	r = ushm__table_get(key, size, shmflg);
	ushm__client_unlock();
	if (r != USHM__ASK_DAEMON)
		return r < 0 ? fail(r) : (int)r;
	/* Linux lets a caller with CAP_IPC_LOCK make SHM_HUGETLB segments
	 * whatever its groups; the daemon does not look that up (such a
	 * segment lives in ordinary pages here), so the request says so:
	 * a caller who lies only makes itself an ordinary segment. */
	req_init(&q, USHM__OP_GET,
		 (shmflg & SHM_HUGETLB) &&
				 ushm__thread_has_cap(CAP_IPC_LOCK, 0) ?
			 USHM__GET_CAP_IPC_LOCK : 0);
	q.count = next_tag();
	q.key = key;
	q.size = size;
	q.shmflg = shmflg;
	r = call(&q, &rep, NULL);
	return r < 0 ? fail(r) : (int)r;
}

static int dt(const void *shmaddr)
{
	uintptr_t addr = (uintptr_t)shmaddr;
	struct ushm__attach_table *t;
	int err;

	if (addr & (ushm__page_size() - 1))
		return fail(-EINVAL);
	if ((err = ushm__client_refuse_reentry()) < 0)
		return fail(err);
	t = ushm__client_lock();
	err = ushm__pieces_detach(t, addr);
	ushm__kept_sweep();
	ushm__client_unlock();
	return err < 0 ? fail(err) : 0;
}

static void wire_to_ds(const struct ushm__wire_ds *w, struct shmid_ds *ds)
{
	memset(ds, 0, sizeof(*ds));
	ds->shm_perm.__key = w->key;
	ds->shm_perm.uid = w->uid;
	ds->shm_perm.gid = w->gid;
	ds->shm_perm.cuid = w->cuid;
	ds->shm_perm.cgid = w->cgid;
	ds->shm_perm.mode = (unsigned short)w->mode;
	ds->shm_perm.__seq = (unsigned short)w->seq;
	ds->shm_segsz = w->segsz;
	ds->shm_atime = w->atime;
	ds->shm_dtime = w->dtime;
	ds->shm_ctime = w->ctime;
	ds->shm_cpid = w->cpid;
	ds->shm_lpid = w->lpid;
	ds->shm_nattch = w->nattch;
}

/* Writes the command's result structure into the caller's buffer. */
static int ctl_copy_out(int cmd, const struct ushm__rep *rep, void *buf)
{
	union {
		struct shmid_ds ds;
		struct shminfo si;
		struct shm_info in;
	} u;
	size_t len;

	memset(&u, 0, sizeof(u));
	switch (cmd) {
	case IPC_INFO:
		u.si.shmmax = rep->info.shmmax;
		u.si.shmmin = rep->info.shmmin;
		u.si.shmmni = rep->info.shmmni;
		u.si.shmseg = rep->info.shmseg;
		u.si.shmall = rep->info.shmall;
		len = sizeof(u.si);
		break;
	case SHM_INFO:
		u.in.used_ids = (int)rep->info.used_ids;
		u.in.shm_tot = rep->info.shm_tot;
		u.in.shm_rss = rep->info.shm_rss;
		u.in.shm_swp = rep->info.shm_swp;
		len = sizeof(u.in);
		break;
	case IPC_STAT:
	case SHM_STAT:
	case SHM_STAT_ANY:
		wire_to_ds(&rep->ds, &u.ds);
		len = sizeof(u.ds);
		break;
	default:
		return 0;
	}
	return ushm__user_copy(buf, &u, len, 1);
}

static int ctl(int shmid, int cmd, struct shmid_ds *buf)
{
	struct ushm__req q;
	struct ushm__rep rep;
	struct rlimit rl;
	int64_t r;
	int err;

	if (cmd < 0 || shmid < 0)
		return fail(-EINVAL);
	if ((err = ushm__client_refuse_reentry()) < 0)
		return fail(err);
	if (cmd == IPC_STAT || cmd == SHM_STAT || cmd == SHM_STAT_ANY) {
		/* Answered from the published table when nothing the
		 * daemon has pending could change it. */
		struct ushm__pass pass = { 0 };

		memset(&rep, 0, sizeof(rep));
		for (;;) {
			ushm__client_lock();
			r = ushm__table_stat(shmid, cmd, &rep.ds, &pass);
			ushm__client_unlock();
			if (r != USHM__WAIT_PASS)
				break;
			/* Not under the lock: other threads' calls go on. */
			ushm__table_wait_pass(&pass);
			pass.waits++;
		}
		if (r != USHM__ASK_DAEMON) {
			if (r < 0)
				return fail(r);
			err = ctl_copy_out(cmd, &rep, buf);
			return err < 0 ? fail(err) : (int)r;
		}
	}
	req_init(&q, USHM__OP_CTL, 0);
	q.id = shmid;
	q.shmflg = cmd;
	/* SHM_LOCK is charged against the caller's RLIMIT_MEMLOCK. */
	if (cmd == SHM_LOCK && getrlimit(RLIMIT_MEMLOCK, &rl) == 0)
		q.size = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX :
							(uint64_t)rl.rlim_cur;
	if (cmd == IPC_SET) {
		struct shmid_ds in;

		/* Linux reads the buffer before it looks the id up. */
		if (ushm__user_copy(&in, buf, sizeof(in), 0) < 0)
			return fail(-EFAULT);
		q.set.uid = in.shm_perm.uid;
		q.set.gid = in.shm_perm.gid;
		q.set.mode = in.shm_perm.mode;
	}
	r = call(&q, &rep, NULL);
	if (r < 0)
		return fail(r);
	if (cmd == IPC_RMID) { /* a descriptor kept of it may go now */
		ushm__client_lock();
		ushm__kept_sweep();
		ushm__client_unlock();
	}
	err = ctl_copy_out(cmd, &rep, buf);
	return err < 0 ? fail(err) : (int)r;
}

int ushm_get(key_t key, size_t size, int shmflg)
{
	int saved = errno, r = get(key, size, shmflg);

	ushm__errno_keep(saved, r >= 0);
	return r;
}

int ushm_dt(const void *shmaddr)
{
	int saved = errno, r = dt(shmaddr);

	ushm__errno_keep(saved, r == 0);
	return r;
}

int ushm_ctl(int shmid, int cmd, struct shmid_ds *buf)
{
	int saved = errno, r = ctl(shmid, cmd, buf);

	ushm__errno_keep(saved, r >= 0);
	return r;
}

int ushm_daemon_status(struct ushm_daemon_info *info)
{
	struct ushm__req q;
	struct ushm__rep rep;
	int64_t r;

	req_init(&q, USHM__OP_STATUS, 0);
	r = ushm__transact_once(&q, &rep);
	if (r < 0)
		return fail(r);
	memset(info, 0, sizeof(*info));
	info->pid = rep.status.pid;
	info->proto_version = rep.status.proto_version;
	info->segments = rep.status.segments;
	info->connections = rep.status.connections;
	info->open_fds = rep.status.open_fds;
	info->orphans = rep.status.orphans;
	info->started = rep.status.started;
	memcpy(info->socket_path, rep.status.socket_path,
	       sizeof(info->socket_path));
	memcpy(info->state_dir, rep.status.state_dir, sizeof(info->state_dir));
	return 0;
}

int ushm_daemon_counters(struct ushm_daemon_counters *c)
{
	struct ushm__req q;
	struct ushm__rep rep;
	const uint64_t *n = rep.status.served;
	int64_t r;

	req_init(&q, USHM__OP_STATUS, 0);
	r = ushm__transact_once(&q, &rep);
	if (r < 0)
		return fail(r);
	memset(c, 0, sizeof(*c));
	c->shmget = n[USHM__OP_GET];
	c->shmat = n[USHM__OP_AT] + n[USHM__OP_ATTACHED];
	c->shmat_kept = n[USHM__OP_ATTACHED];
	c->shmat_undo = n[USHM__OP_AT_UNDO];
	c->shmdt = n[USHM__OP_DT];
	c->shmctl = n[USHM__OP_CTL];
	c->registered = n[USHM__OP_REGISTER];
	c->hello = n[USHM__OP_HELLO];
	c->forked = n[USHM__OP_FORKED];
	c->status = n[USHM__OP_STATUS];
	c->stop = n[USHM__OP_STOP];
	c->holders = n[USHM__OP_HOLDERS];
	c->table = n[USHM__OP_TABLE];
	return 0;
}

int ushm_daemon_stop(void)
{
	struct ushm__req q;
	struct ushm__rep rep;
	int64_t r;

	req_init(&q, USHM__OP_STOP, 0);
	r = ushm__transact_once(&q, &rep);
	return r < 0 ? fail(r) : 0;
}

int ushm_socket_path(char *buf, size_t len)
{
	int err = ushm__client_socket(buf, len);

	return err < 0 ? fail(err) : 0;
}

int ushm_holders(int shmid, struct ushm_holder *buf, size_t max)
{
	struct ushm__req q;
	struct ushm__rep rep;
	uint32_t from = 0, total;
	int64_t r;

	if (shmid < 0)
		return fail(-EINVAL);
	/* Page through the daemon's list; it may change between pages,
	 * so stop at the total the last page reports. */
	do {
		req_init(&q, USHM__OP_HOLDERS, 0);
		q.id = shmid;
		q.count = from;
		r = call(&q, &rep, NULL);
		if (r < 0)
			return fail(r);
		total = rep.holders.total;
		for (uint32_t i = 0; i < rep.holders.n; i++, from++) {
			const struct ushm__wire_holder *h = &rep.holders.h[i];

			if (from >= max)
				continue;
			memset(&buf[from], 0, sizeof(buf[from]));
			buf[from].pid = h->pid;
			buf[from].count = h->count;
			buf[from].start = (uintptr_t)h->start;
			buf[from].end = (uintptr_t)h->end;
		}
	} while (rep.holders.n > 0 && from < total && from < max);
	if (total > INT32_MAX)
		return fail(-EOVERFLOW);
	return (int)total;
}
