/*
 * attach.c - the table of this process's attachments' pieces: where each
 * is mapped, how long, which segment and offset.  shmdt and the mapping
 * wrappers look addresses up here; fork and reconnection register its
 * entries with the daemon, one count per piece.
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
	t->v[t->n] = *a;
	__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
	return 0;
}

void ushm__table_remove(struct ushm__attach_table *t, struct ushm__attach *a)
{
	*a = t->v[t->n - 1];
	__atomic_store_n(&t->n, t->n - 1, __ATOMIC_RELEASE);
}

int ushm__table_any(const struct ushm__attach_table *t)
{
	return __atomic_load_n(&t->n, __ATOMIC_ACQUIRE) != 0;
}
