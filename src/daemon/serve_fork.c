/*
 * serve_fork.c - the fork protocol's daemon side: REGISTER, HELLO,
 * FORKED (the protocol itself is described in loop.c).
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

/*
 * Does pid map segment s at [addr, addr + len)?  Asked of the kernel for
 * that one mapping (/proc/PID/map_files/START-END, which only a daemon
 * with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE may follow): O(1),
 * whatever else the process maps.  1 yes, 0 no (nothing mapped there,
 * another file, or an attachment split since), -1 not allowed to look.
 */
static int maps_at(pid_t pid, const struct ushm__segment *s, uint64_t addr,
		   uint64_t len, long page)
{
	char path[96];
	struct stat sb;
	uint64_t end;

	len = (len + (uint64_t)page - 1) & ~((uint64_t)page - 1);
	end = addr + len;
	if (len == 0 || end < addr)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/map_files/%llx-%llx",
		 (long)pid, (unsigned long long)addr, (unsigned long long)end);
	if (stat(path, &sb) < 0)
		return errno == EPERM || errno == EACCES ? -1 : 0;
	return sb.st_dev == s->dev && sb.st_ino == s->ino;
}

/*
 * REGISTER: attachments the process already maps.  FORK entries (a child
 * inheriting its parent's mappings) count as new attachments, updating
 * atime and lpid.  ADOPT entries move attachments the process holds
 * through another holder (an older connection, or an orphan record after
 * a restart) here, silently.  Either way, an entry must be backed by what
 * the daemon knows: the process holds the segment through another
 * connection, or it really maps the segment at the address the entry
 * gives (asked of the kernel for that mapping alone; a daemon not allowed
 * to look there, a per-user one, reads the process's maps once for the
 * whole request).  So no client can inflate a count, and a request costs
 * O(its entries), at most USHM__REG_MAX.  Returns the entries taken.
 */
static int serve_register(struct ushm__server *srv, struct ushm__conn *c,
			  const struct ushm__cred *cr,
			  const struct ushm__req *q)
{
	int adopt = !!(q->hdr.flags & USHM__REG_ADOPT);
	int64_t now = ushm__now();
	uint32_t parent, have;
	struct ushm__holds maps = { 0 };
	int maps_read = 0, taken = 0;

	for (uint32_t i = 0; i < q->count; i++) {
		const struct ushm__reg_entry *e = &q->ent[i];
		struct ushm__segment *s =
			ushm__registry_find_id(&srv->reg, e->id);
		int mapped;

		if (!s)
			continue;
		if (adopt && ushm__holds_adopt(srv, c, cr->pid, e->id, 1)) {
			taken++;
			continue;
		}
		/* A child's copy of what its parent holds through its own
		 * connection: no more than the parent holds.  Otherwise
		 * (nothing to take over, or no parent's count to copy) only
		 * what the process really maps counts. */
		parent = adopt ? 0 :
			 ushm__holds_elsewhere(srv, c, cr->pid, e->id);
		have = ushm__holds_count(&c->holds, e->id);
		if (parent > 0) {
			if (have >= parent)
				continue;
		} else {
			mapped = maps_at(cr->pid, s, e->addr, e->len,
					 srv->reg.page_size);
			if (mapped < 0) {
				if (!maps_read &&
				    ushm__maps_holds(srv, cr->pid, &maps) < 0)
					ushm__holds_free(&maps);
				maps_read = 1;
				mapped = ushm__holds_count(&maps, e->id) > have;
			}
			if (!mapped)
				continue;
		}
		if (ushm__holds_add(&c->holds, e->id, 1) < 0)
			continue;
		if (adopt) {
			ushm__registry_recount(&srv->reg, s, 1);
		} else if (ushm__registry_attach(&srv->reg, s, 1, cr->pid,
						 now) < 0) {
			ushm__holds_take(&c->holds, e->id, 1);
			continue;
		}
		taken++;
	}
	ushm__holds_free(&maps);
	return taken;
}

/* A parent's REGISTER for its child (NOREPLY, from inside fork) makes the
 * connection the child's until the child is named. */
int64_t ushm__serve_register(struct ushm__server *srv, struct ushm__conn *c,
			     const struct ushm__cred *cr,
			     const struct ushm__req *q, struct ushm__answer *a)
{
	(void)a;
	if (q->hdr.flags & USHM__REG_NOREPLY)
		c->for_child = !c->named;
	return serve_register(srv, c, cr, q);
}

/* The child announces itself: the pid was taken from its credentials. */
int64_t ushm__serve_hello(struct ushm__server *srv, struct ushm__conn *c,
			  const struct ushm__cred *cr,
			  const struct ushm__req *q, struct ushm__answer *a)
{
	(void)cr, (void)q, (void)a;
	c->named = 1;
	c->for_child = 0;
	ushm__conn_settle_done(srv, c);
	return 0;
}

/* Is pid a child of parent (1), another process (0), or gone (-1)?
 * From /proc/PID/stat; a zombie has one too. */
static int child_of(pid_t pid, pid_t parent)
{
	char state;
	long ppid;
	int err;

	/* Reaped already (a fork server's child, most of the time): no
	 * /proc to read. */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return -1;
	err = ushm__proc_stat(pid, &state, &ppid);

	if (err < 0)
		return err == -ENOENT ? -1 : 0;
	/* Being released: dead (X), its parent link already cut. */
	if (state == 'X' || ppid == 0)
		return -1;
	return ppid == parent;
}

/*
 * FORKED: the parent, right after fork(), names the child that owns the
 * connection it prepared.  The child announces itself too (HELLO), but
 * it may be killed before it runs a single instruction, and then only
 * this tells the daemon whose exit detaches the attachments (lpid).
 * By now the parent may have reaped a child killed at once; a pid that
 * names no process is taken at its word (it can only set lpid), one that
 * names a live process must name the sender's child.  Returns -1 when
 * the child is already gone: the connection departs (at the barrier's
 * departures, after the connections the child made for its own child).
 */
static int serve_forked(struct ushm__server *srv, struct ushm__conn *c,
			const struct ushm__cred *cr, pid_t child)
{
	int rel = child > 0 ? child_of(child, cr->pid) : 0;

	if (rel == 0)
		return 0;
	c->pid = child;
	if (c->unwatched) /* it departs already */
		return 0;
	return rel < 0 || ushm__conn_watch(srv, c, child) ? -1 : 0;
}

/* The first of HELLO and FORKED names the process that uses the
 * connection; a child already gone ends it (once what waits to be
 * accepted is: a connection it made for its own child copies what it
 * holds). */
int64_t ushm__serve_forked(struct ushm__server *srv, struct ushm__conn *c,
			   const struct ushm__cred *cr,
			   const struct ushm__req *q, struct ushm__answer *a)
{
	if (c->named) /* the child said HELLO first */
		return 0;
	c->named = 1;
	c->for_child = 0;
	ushm__conn_settle_done(srv, c);
	(void)a;
	if (serve_forked(srv, c, cr, q->id) < 0)
		ushm__conn_depart_later(srv, c);
	return 0;
}
