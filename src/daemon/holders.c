/*
 * holders.c - which connection (or orphaned process) holds which
 * segment attached, and how many times.
 *
 * A holder's list is short (the segments one process has attached), so
 * it is a plain array searched linearly.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct ushm__hold *find(const struct ushm__holds *h, int id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].id == id)
			return &h->v[i];
	return NULL;
}

int ushm__holds_add(struct ushm__holds *h, int id, uint32_t n)
{
	struct ushm__hold *e = find(h, id);

	if (e) {
		e->count += n;
		return 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4;
		struct ushm__hold *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n].id = id;
	h->v[h->n].count = n;
	h->n++;
	return 0;
}

uint32_t ushm__holds_take(struct ushm__holds *h, int id, uint32_t n)
{
	struct ushm__hold *e = find(h, id);
	uint32_t took;

	if (!e)
		return 0;
	took = e->count < n ? e->count : n;
	e->count -= took;
	if (e->count == 0)
		*e = h->v[--h->n];
	return took;
}

uint32_t ushm__holds_count(const struct ushm__holds *h, int id)
{
	const struct ushm__hold *e = find(h, id);

	return e ? e->count : 0;
}

void ushm__holds_free(struct ushm__holds *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

void ushm__holds_release(struct ushm__server *srv, struct ushm__holds *h,
			 pid_t pid, int64_t now)
{
	for (size_t i = 0; i < h->n; i++) {
		struct ushm__segment *s =
			ushm__registry_find_id(&srv->reg, h->v[i].id);

		if (s)
			ushm__registry_detach(&srv->reg, s, h->v[i].count,
					      pid, now);
	}
	h->n = 0;
}

uint32_t ushm__holds_adopt(struct ushm__server *srv, struct ushm__conn *dst,
			   pid_t pid, int id, uint32_t n)
{
	uint32_t moved = 0;

	for (struct ushm__conn *c = srv->conns; c && moved < n; c = c->next)
		if (c != dst && !c->dead && !c->for_child && c->pid == pid)
			moved += ushm__holds_take(&c->holds, id, n - moved);
	for (struct ushm__orphan *o = srv->orphans; o && moved < n;
	     o = o->next)
		if (!o->dead && o->pid == pid)
			moved += ushm__holds_take(&o->holds, id, n - moved);
	if (moved && ushm__holds_add(&dst->holds, id, moved) < 0) {
		/* Out of memory: the attachments are no longer recorded
		 * anywhere, so take them out of the count as well. */
		struct ushm__segment *s = ushm__registry_find_id(&srv->reg, id);

		if (s)
			ushm__registry_detach(&srv->reg, s, moved, pid,
					      ushm__now());
		return 0;
	}
	return moved;
}

uint32_t ushm__holds_elsewhere(struct ushm__server *srv,
			       const struct ushm__conn *self, pid_t pid, int id)
{
	uint32_t n = 0;

	for (struct ushm__conn *c = srv->conns; c; c = c->next)
		if (c != self && !c->dead && !c->for_child && c->pid == pid)
			n += ushm__holds_count(&c->holds, id);
	return n;
}
