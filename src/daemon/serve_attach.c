/*
 * serve_attach.c - shmat and shmdt: AT, ATTACHED, SYNC, AT_UNDO, DT.
 *
 * Each counts (or uncounts) an attachment twice: in the segment's nattch
 * (the registry) and in what the connection holds, so that the
 * connection's end detaches exactly what it attached.
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <sys/shm.h>
#include <unistd.h>

static void undo_record(struct ushm__conn *c, const struct ushm__segment *s,
			int64_t atime, pid_t lpid)
{
	c->undo.id = s->m.id;
	c->undo.atime = atime;
	c->undo.lpid = lpid;
	c->undo.new_atime = s->m.atime;
	c->undo.new_lpid = s->m.lpid;
}

/* shmat: check, count, and hand over a descriptor of the right mode
 * (fd NULL: ATTACHED, the client mapped one it kept: check and count). */
static int serve_at(struct ushm__server *srv, struct ushm__conn *c,
		    const struct ushm__cred *cr, const struct ushm__req *q,
		    struct ushm__rep *rep, int *fd)
{
	struct ushm__segment *s;
	int64_t atime;
	pid_t lpid;
	int err;

	err = ushm__op_at(&srv->reg, cr, q->id, q->shmflg, &s);
	if (err < 0)
		return err;
	if (fd) {
		*fd = ushm__store_open_data(srv->store, s,
					    !!(q->shmflg & SHM_RDONLY));
		if (*fd < 0)
			return *fd == -EMFILE || *fd == -ENFILE ? -ENOMEM : *fd;
	}
	if (ushm__holds_add(&c->holds, s->m.id, 1) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	atime = s->m.atime;
	lpid = s->m.lpid;
	err = ushm__registry_attach(&srv->reg, s, 1, cr->pid, ushm__now());
	if (err < 0) {
		ushm__holds_take(&c->holds, s->m.id, 1);
		goto fail;
	}
	if (!fd) /* ATTACHED: mapped already, nothing to undo */
		return 0;
	undo_record(c, s, atime, lpid);
	c->at_pending = 1;
	rep->segsz = s->m.segsz;
	return 0;
fail:
	if (fd) {
		close(*fd);
		*fd = -1;
	}
	return err;
}

int64_t ushm__serve_at(struct ushm__server *srv, struct ushm__conn *c,
		       const struct ushm__cred *cr, const struct ushm__req *q,
		       struct ushm__answer *a)
{
	int fd = -1;
	int res = serve_at(srv, c, cr, q, &a->rep, &fd);

	if (fd >= 0) {
		a->fds[0] = fd;
		a->nfds = 1;
		a->own_fds = 1;
	}
	return res;
}

/* Checked as AT is, as the process is now: a refusal (the segment
 * changed since the client looked) is what its SYNC reports
 * (src/lib/attach.c). */
int64_t ushm__serve_attached(struct ushm__server *srv, struct ushm__conn *c,
			     const struct ushm__cred *cr,
			     const struct ushm__req *q, struct ushm__answer *a)
{
	int res = serve_at(srv, c, cr, q, &a->rep, NULL);

	if (res < 0)
		c->attached_err = res;
	return 0;
}

int64_t ushm__serve_sync(struct ushm__server *srv, struct ushm__conn *c,
			 const struct ushm__cred *cr, const struct ushm__req *q,
			 struct ushm__answer *a)
{
	int res = c->attached_err;

	(void)srv, (void)cr, (void)q, (void)a;
	c->attached_err = 0;
	return res;
}

/* The client could not map what AT gave it: uncount it, and put atime
 * and lpid back unless someone changed them since. */
int64_t ushm__serve_at_undo(struct ushm__server *srv, struct ushm__conn *c,
			    const struct ushm__cred *cr,
			    const struct ushm__req *q, struct ushm__answer *a)
{
	struct ushm__segment *s = ushm__registry_find_id(&srv->reg, q->id);

	(void)cr, (void)a;
	if (!s || c->undo.id != q->id ||
	    ushm__holds_take(&c->holds, q->id, 1) == 0)
		return -EINVAL;
	c->undo.id = -1;
	if (s->m.atime == c->undo.new_atime && s->m.lpid == c->undo.new_lpid) {
		s->m.atime = c->undo.atime;
		s->m.lpid = c->undo.lpid;
	}
	ushm__registry_recount(&srv->reg, s, -1);
	return 0;
}

/* shmdt: the client removed q->count mappings of q->id (more than one if
 * the attachment had been split). */
int64_t ushm__serve_dt(struct ushm__server *srv, struct ushm__conn *c,
		       const struct ushm__cred *cr, const struct ushm__req *q,
		       struct ushm__answer *a)
{
	struct ushm__segment *s = ushm__registry_find_id(&srv->reg, q->id);
	uint32_t took;

	(void)a;
	if (!s || (took = ushm__holds_take(&c->holds, q->id, q->count)) == 0)
		return -EINVAL;
	ushm__registry_detach(&srv->reg, s, took, cr->pid, ushm__now());
	return 0;
}
