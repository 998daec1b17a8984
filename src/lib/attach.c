/*
 * attach.c - the table of this process's attachments: where each one is
 * mapped, how long it is, which segment.  shmdt() looks addresses up
 * here; fork and reconnection register its entries with the daemon.
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>

int ushm__table_add(struct ushm__attach_table *t, const struct ushm__attach *a)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct ushm__attach *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *a;
	return 0;
}

struct ushm__attach *ushm__table_find(struct ushm__attach_table *t,
				      uintptr_t addr)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].addr == addr && !t->v[i].ghost)
			return &t->v[i];
	return NULL;
}

void ushm__table_remove(struct ushm__attach_table *t, struct ushm__attach *a)
{
	*a = t->v[--t->n];
}
