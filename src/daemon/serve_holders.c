/*
 * serve_holders.c - HOLDERS: who has a segment attached, how many times
 * and where (what ushm(1) shows beyond the kernel's nattch and lpid).
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>

/* Where serve_holders is in the list it pages through. */
struct holders_walk {
	struct ushm__wire_holders *out;
	uint32_t cursor;  /* first entry the client asked for */
	uint32_t index;   /* entries seen so far */
	int id;           /* the segment */
	pid_t pid;        /* the holder being scanned, and its count */
	uint32_t count;
	uint32_t found;   /* its mappings of the segment */
};

static void holders_put(struct holders_walk *w, uint64_t start, uint64_t end)
{
	struct ushm__wire_holders *o = w->out;

	if (w->index >= w->cursor && o->n < USHM__HOLDERS_MAX) {
		o->h[o->n].pid = (int32_t)w->pid;
		o->h[o->n].count = w->count;
		o->h[o->n].start = start;
		o->h[o->n].end = end;
		o->n++;
	}
	w->index++;
}

static int holders_range(void *arg, struct ushm__segment *s, uint64_t start,
			 uint64_t end)
{
	struct holders_walk *w = arg;

	if (s->m.id == w->id) {
		holders_put(w, start, end);
		w->found++;
	}
	return 0;
}

/* The numbers of a "Uid:" or "Gid:" line of /proc/PID/status (real,
 * effective, saved, fs) are all id? */
static int all_ids_are(pid_t pid, const char *field, unsigned long id)
{
	unsigned long v[4];

	return ushm__proc_ids(pid, field, v) == 0 && v[0] == id &&
	       v[1] == id && v[2] == id && v[3] == id;
}

/*
 * Could the caller read pid's /proc/PID/maps itself?  Linux lets a
 * process read another's maps when their uids and gids all match and the
 * target is dumpable (or with CAP_SYS_PTRACE, which only root is taken
 * to have here).  procfs owns /proc/PID by root when the process is not
 * dumpable, so that ownership, then every id, is what is checked; the
 * caller's identity is the request's.  The ids are the holder's, read
 * now, as the kernel reads them when maps is opened.
 */
static int may_read_maps(const struct ushm__cred *cr, pid_t pid)
{
	char path[64];
	struct stat sb;

	if (cr->uid == 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &sb) == 0 && sb.st_uid == cr->uid &&
	       sb.st_gid == cr->gid && all_ids_are(pid, "Uid", cr->uid) &&
	       all_ids_are(pid, "Gid", cr->gid);
}

/* One holder: an entry per mapping, or a bare one when its maps cannot
 * be read (or no longer show the segment: it is between shmat's reply
 * and its mmap), or when the caller could not read them itself: the
 * addresses of another user's process would defeat its ASLR. */
static void holders_one(struct ushm__server *srv, struct holders_walk *w,
			const struct ushm__cred *cr, pid_t pid,
			const struct ushm__holds *h)
{
	w->count = ushm__holds_count(h, w->id);
	if (w->count == 0)
		return;
	w->pid = pid;
	w->found = 0;
	if (!may_read_maps(cr, pid) ||
	    ushm__maps_each(srv, pid, holders_range, w) < 0 || !w->found)
		holders_put(w, 0, 0);
}

/*
 * HOLDERS: who has segment id attached, how many times and where, from
 * entry q->count on.  The kernel shows only nattch and lpid; this is the
 * rest of the story, under IPC_STAT's rule (read permission, or root);
 * addresses only of the holders whose maps the caller may read.
 * The list is rebuilt for every page, so a client paging through a
 * changing table may see an entry twice or miss one.
 */
int64_t ushm__serve_holders(struct ushm__server *srv, struct ushm__conn *self,
			    const struct ushm__cred *cr,
			    const struct ushm__req *q, struct ushm__answer *a)
{
	struct ushm__rep *rep = &a->rep;
	struct holders_walk w = { .out = &rep->holders, .cursor = q->count,
				  .id = q->id };
	struct ushm__ctl_out out;
	int err;

	(void)self; /* listed with the others below */
	memset(&out, 0, sizeof(out));
	err = ushm__op_ctl(&srv->reg, cr, q->id, IPC_STAT, NULL, 0,
			   ushm__now(), &out);
	if (err < 0)
		return err;
	rep->ds = out.ds;
	for (struct ushm__conn *c = srv->conns; c; c = c->next)
		if (!c->dead)
			holders_one(srv, &w, cr, c->pid, &c->holds);
	for (struct ushm__orphan *o = srv->orphans; o; o = o->next)
		if (!o->dead)
			holders_one(srv, &w, cr, o->pid, &o->holds);
	rep->holders.total = w.index;
	return 0;
}
