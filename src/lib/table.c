/*
 * table.c - shmget of an existing key and IPC_STAT answered from the
 * table the daemon publishes (src/proto/table.h), without a round trip.
 *
 * The daemon stays the only writer; the library reads, and asks the
 * daemon (USHM__ASK_DAEMON) whenever the table cannot decide:
 *  - A lookup needs the key's row as it is now.  Rows change only when
 *    the daemon serves a request, before it answers it, so a lookup made
 *    after a call returned sees what that call did.  The only thing that
 *    could make the table stale is the daemon's death (a new one may
 *    have other segments): its pidfd tells, at the cost of one poll.
 *  - IPC_STAT also shows nattch, which changes without any request: a
 *    client's exit (its hang-up), a forked child's registration.  Linux
 *    has counted those by the time the parent's waitpid() returns; here
 *    they are events the daemon may not have read yet.  So a reader
 *    polls the daemon's watch set (everything the daemon waits on) and
 *    takes the row only if nothing was pending, and if the daemon did not
 *    run a pass of its loop meanwhile (the table's epoch: odd during a
 *    pass, so a pass that took an event before the poll but has not
 *    published it yet is seen too).
 *  - Permissions are checked here with the caller's credentials as they
 *    are at the call, by the same rule the daemon uses
 *    (src/common/ipcperm.c).  A caller who skipped the check would learn
 *    only what the table, like Linux's /proc/sysvipc/shm, shows anyone.
 */
#define _GNU_SOURCE
#include "client.h"
#include "../common/ipcperm.h"
#include "../common/spin.h"
#include "../proto/table.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Attempts at a stable row (or key scan) before asking the daemon. */
#define READ_TRIES 8
/* Supplementary groups looked at (as the daemon's credentials hold). */
#define GROUPS_MAX 256
#define SHM_DEST_BIT 01000

static const struct ushm__table_hdr *hdr(const struct ushm__view *v)
{
	return v->base;
}

int ushm__view_map(struct ushm__view *v, int fds[2])
{
	const struct ushm__table_hdr *h;
	struct stat st;
	void *base;

	ushm__view_drop(v);
	if (fstat(fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != USHM__TABLE_SIZE)
		goto fail;
	base = ushm__sys_mmap(NULL, USHM__TABLE_SIZE, PROT_READ, MAP_SHARED,
			      fds[0], 0);
	if (base == MAP_FAILED)
		goto fail;
	h = base;
	if (h->magic != USHM__TABLE_MAGIC || h->version != USHM__TABLE_VERSION ||
	    h->rows != USHM__TABLE_ROWS ||
	    h->row_size != sizeof(struct ushm__table_row)) {
		ushm__sys_munmap(base, USHM__TABLE_SIZE);
		goto fail;
	}
	close(fds[0]);
	v->base = base;
	v->watch_fd = ushm__move_high(fds[1]);
	return 0;

fail:
	for (int i = 0; i < 2; i++)
		close(fds[i]);
	v->refused = 1;
	return -EPROTO;
}

void ushm__view_drop(struct ushm__view *v)
{
	if (v->base)
		ushm__sys_munmap(v->base, USHM__TABLE_SIZE);
	if (v->watch_fd >= 0)
		close(v->watch_fd);
	v->base = NULL;
	v->watch_fd = -1;
	v->refused = 0;
}

/* The view, if the table may answer at all now: there is one, and its
 * daemon is alive (a new daemon may have other segments) and publishing.
 * own_count: the answer shows nattch, which must count this process's
 * inherited attachments (a child made without fork handlers has not
 * registered them yet). */
static const struct ushm__view *usable_view(int own_count)
{
	const struct ushm__view *v = ushm__client_view(own_count);

	if (!v || __atomic_load_n(&hdr(v)->slow, __ATOMIC_ACQUIRE) ||
	    !ushm__table_daemon_alive(v->base))
		return NULL;
	return v;
}

/* Who is calling, for ipcperm: the groups are read only if asked. */
struct caller {
	int ngroups; /* -1: not read yet */
	int unknown; /* more groups than read: the daemon must decide */
	gid_t fsgid;
	gid_t groups[GROUPS_MAX];
};

static int caller_in_group(const void *arg, gid_t gid)
{
	struct caller *c = (struct caller *)(uintptr_t)arg;

	if (c->ngroups < 0) {
		c->fsgid = (gid_t)setfsgid((gid_t)-1);
		c->ngroups = getgroups(GROUPS_MAX, c->groups);
		if (c->ngroups < 0) {
			c->ngroups = 0;
			c->unknown = 1;
		}
	}
	return ushm__gid_member(c->fsgid, c->groups, c->ngroups, gid);
}

/* ipcperm for this caller on row: 0, -EACCES, or USHM__ASK_DAEMON (a
 * refusal that CAP_IPC_OWNER may overrule: the daemon knows the rule of
 * namespaces). */
static int64_t may(const struct ushm__table_row *row, int flag)
{
	struct ushm__perm_of p = { row->mode, row->uid, row->gid, row->cuid,
				   row->cgid };
	struct caller c = { .ngroups = -1 };
	int requested = ((flag >> 6) | (flag >> 3) | flag) & 07;
	uid_t euid;
	int err;

	/* What every triple grants is granted to whoever asks: no need
	 * to learn who that is. */
	if ((requested & (int)(row->mode >> 6) & (int)(row->mode >> 3) &
	     (int)row->mode) == requested)
		return 0;
	euid = geteuid();
	if (!ushm__client_euid_is(euid))
		return USHM__ASK_DAEMON;
	err = ushm__ipcperm(euid, caller_in_group, &c, &p, flag);
	if (c.unknown ||
	    (err == -EACCES && ushm__thread_has_cap(CAP_IPC_OWNER, 1)))
		return USHM__ASK_DAEMON;
	return err;
}

/* A stable copy of row idx: 1, or 0 when it kept changing. */
static int read_row(const struct ushm__view *v, uint32_t idx,
		    struct ushm__table_row *out)
{
	const struct ushm__table_row *row = ushm__table_row_at(v->base, idx);

	for (int i = 0; i < READ_TRIES; i++)
		if (ushm__table_row_read(row, out))
			return 1;
	return 0;
}

/* Does the row hold key now (a quick look before a stable copy)? */
static int may_hold(const struct ushm__table_row *row, int32_t key)
{
	return (__atomic_load_n(&row->flags, __ATOMIC_RELAXED) &
		USHM__ROW_USED) &&
	       __atomic_load_n(&row->key, __ATOMIC_RELAXED) == key;
}

/* The row of key (not SHM_DEST) into *out: 1 found, 0 none, -1 the
 * table changed under every attempt. */
static int find_key(const struct ushm__view *v, int32_t key,
		    struct ushm__table_row *out)
{
	const struct ushm__table_hdr *h = hdr(v);

	for (int attempt = 0; attempt < READ_TRIES; attempt++) {
		uint64_t g1 = __atomic_load_n(&h->keys_gen, __ATOMIC_ACQUIRE);
		int32_t max = __atomic_load_n(&h->max_idx, __ATOMIC_ACQUIRE);
		int found = 0, torn = 0;

		if (g1 & 1)
			continue;
		if (max >= (int32_t)USHM__TABLE_ROWS)
			return -1;
		for (int32_t i = 0; i <= max && !found && !torn; i++) {
			if (!may_hold(ushm__table_row_at(v->base, (uint32_t)i),
				      key))
				continue;
			if (!read_row(v, (uint32_t)i, out))
				torn = 1;
			else
				found = (out->flags & USHM__ROW_USED) &&
					out->key == key &&
					!(out->mode & SHM_DEST_BIT);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (!torn && __atomic_load_n(&h->keys_gen, __ATOMIC_RELAXED) ==
				     g1)
			return found;
	}
	return -1;
}

/* The same checks, in the same order, as the daemon's shmget of an
 * existing key (ushm__op_get). */
int64_t ushm__table_get(int32_t key, uint64_t size, int shmflg)
{
	const struct ushm__view *v;
	struct ushm__table_row row;
	int64_t err;
	int found;

	if (key == IPC_PRIVATE || !(v = usable_view(0)))
		return USHM__ASK_DAEMON;
	found = find_key(v, key, &row);
	if (found < 0)
		return USHM__ASK_DAEMON;
	if (!found) /* made by the daemon, or ENOENT */
		return (shmflg & IPC_CREAT) ? USHM__ASK_DAEMON : -ENOENT;
	if ((shmflg & IPC_CREAT) && (shmflg & IPC_EXCL))
		return -EEXIST;
	if (row.segsz < size)
		return -EINVAL;
	err = may(&row, shmflg);
	return err < 0 ? err : row.id;
}

/*
 * Has the daemon anything pending that could change what a row shows (a
 * hang-up, an exit, a request, a new client)?  epoll_wait rather than
 * poll: it also fails (EINVAL) on a descriptor that is not an epoll set,
 * so a program that closed ours and reused the number for something
 * else sends us to the daemon instead of polling its file.  The watch
 * set's entries are level-triggered: looking at them takes nothing
 * from the daemon.
 */
static int daemon_busy(const struct ushm__view *v)
{
	struct epoll_event ev;

	return epoll_wait(v->watch_fd, &ev, 1, 0) != 0;
}

/* Passes of the daemon's loop a reader waits for, and how long each. */
#define PASS_WAITS 2
#define PASS_WAIT_NS 2000000L

/* How long a reader looks for the daemon's pass before it sleeps on the
 * futex (spin.h): the pass that serves a note is a few microseconds, the
 * futex's wake-up on this kind of machine more than that. */
static unsigned pass_spin_ns;

/* Has a pass ended since the reader looked (the epoch even again, and
 * not what it was)? */
static int pass_done(void *arg)
{
	const struct ushm__pass *pass = arg;
	uint32_t now = __atomic_load_n(pass->word, __ATOMIC_ACQUIRE);

	return now != pass->seen && !(now & 1u);
}

/* The daemon wakes the futex on the epoch's low word after each pass
 * (publish.c). */
void ushm__table_wait_pass(const struct ushm__pass *pass)
{
	struct timespec ts = { 0, PASS_WAIT_NS };

	if (ushm__spin(&pass_spin_ns, pass_done, (void *)pass))
		return;
	(void)syscall(SYS_futex, pass->word, FUTEX_WAIT, pass->seen, &ts,
		      NULL, 0);
}

/* The checks of the daemon's IPC_STAT and SHM_STAT[_ANY] (ushm__op_ctl,
 * stat_index). */
int64_t ushm__table_stat(int id, int cmd, struct ushm__wire_ds *ds,
			 struct ushm__pass *pass)
{
	const struct ushm__table_hdr *h;
	const struct ushm__view *v;
	struct ushm__table_row row;
	uint64_t e1;
	int64_t err;

	if (id < 0 || !(v = usable_view(1)))
		return USHM__ASK_DAEMON;
	h = hdr(v);
	e1 = __atomic_load_n(&h->epoch, __ATOMIC_ACQUIRE);
	if ((e1 & 1) || daemon_busy(v)) {
		/* Our own shmdt or shmat, told without waiting, may be
		 * what is pending: the pass that serves it is shorter than
		 * a round trip.  Otherwise, or after that, ask; and at once
		 * when the daemon gathers work its passes may leave pending
		 * (a process that forks: src/daemon/loop.c). */
		if (pass->waits >= PASS_WAITS ||
		    !ushm__client_notes_inflight() ||
		    __atomic_load_n(&hdr(v)->gathering, __ATOMIC_ACQUIRE))
			return USHM__ASK_DAEMON;
		pass->word = ushm__table_epoch_word(v->base);
		pass->seen = (uint32_t)e1;
		return USHM__WAIT_PASS;
	}
	if (!read_row(v, (uint32_t)id % USHM__TABLE_ROWS, &row))
		return USHM__ASK_DAEMON;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* Still its daemon's: a daemon that died meanwhile left its epoch
	 * as it was, and its watch set empty (its descriptors closed with
	 * it), but the kernel marked its liveness word first (a dying
	 * process's robust futexes are released before its files are
	 * closed). */
	if (__atomic_load_n(&h->epoch, __ATOMIC_RELAXED) != e1 ||
	    !ushm__table_daemon_alive(v->base))
		return USHM__ASK_DAEMON;
	if (!(row.flags & USHM__ROW_USED) || (cmd == IPC_STAT && row.id != id))
		return -EINVAL;
	if (cmd != SHM_STAT_ANY && (err = may(&row, 0444)) != 0)
		return err;
	ushm__table_row_to_wire(&row, ds);
	return cmd == IPC_STAT ? 0 : row.id;
}

/* ipcperm's group question, for a caller that would rather not answer
 * it: notes that it was asked. */
static int group_asked(const void *arg, gid_t gid)
{
	(void)gid;
	*(int *)(uintptr_t)arg = 1;
	return 0;
}

int ushm__table_at_row(int id, int acc, uid_t euid,
		       struct ushm__table_row *row)
{
	struct ushm__perm_of p;
	int asked = 0;

	if (ushm__table_row_state(id, row) != 1 ||
	    (row->mode & SHM_DEST_BIT) || (row->gen & 1))
		return 0;
	if ((acc & (int)(row->mode >> 6) & (int)(row->mode >> 3) &
	     (int)row->mode & 07) == (acc & 07))
		return 1; /* every triple grants it: whoever asks */
	if (!ushm__client_euid_is(euid))
		return 0; /* another identity: the daemon decides */
	p = (struct ushm__perm_of){ row->mode, row->uid, row->gid, row->cuid,
				    row->cgid };
	if (ushm__ipcperm(euid, group_asked, &asked, &p, acc) != 0 ||
	    asked)
		return 0;
	return 1;
}

uint32_t ushm__table_gen_now(int id)
{
	const struct ushm__view *v = ushm__client_view(0);

	if (!v || !v->base)
		return 1; /* odd: never what a caller saw */
	return __atomic_load_n(&ushm__table_row_at(v->base, (uint32_t)id %
						   USHM__TABLE_ROWS)->gen,
			       __ATOMIC_SEQ_CST);
}

int ushm__table_row_state(int id, struct ushm__table_row *row)
{
	const struct ushm__view *v;

	if (id < 0 || !(v = usable_view(0)) ||
	    !read_row(v, (uint32_t)id % USHM__TABLE_ROWS, row))
		return -1;
	return (row->flags & USHM__ROW_USED) && row->id == id;
}
