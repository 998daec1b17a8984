/*
 * ushm_scan.c - enumerate a backend's segments without /proc.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Reads the segment at index idx.  SHM_STAT_ANY skips the read-permission
 * check, so that every user sees every segment (as /proc/sysvipc/shm, and
 * so ipcs, does).  A backend that predates it answers EINVAL, the same as
 * for an unused index; only when SHM_STAT then succeeds (or answers
 * EACCES, which proves the index is in use) do we know SHM_STAT_ANY is
 * missing, and use SHM_STAT alone from then on.
 */
static int stat_index(const struct backend *be, int idx, int *use_any,
		      struct seg *seg)
{
	int id;

	if (*use_any) {
		id = be->ctl(idx, SHM_STAT_ANY, &seg->ds);
		if (id >= 0 || errno != EINVAL)
			goto out;
	}
	id = be->ctl(idx, SHM_STAT, &seg->ds);
	if (*use_any && (id >= 0 || errno == EACCES))
		*use_any = 0;
out:
	if (id < 0)
		return -1;
	seg->shmid = id;
	return 0;
}

/* Appends seg to the table, growing it by half each time it is full. */
static int append(struct seg_table *t, const struct seg *seg)
{
	struct seg *grown;
	size_t cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap + t->cap / 2 : 16;
		grown = realloc(t->segs, cap * sizeof(*grown));
		if (!grown)
			return -1;
		t->segs = grown;
		t->cap = cap;
	}
	t->segs[t->n++] = *seg;
	return 0;
}

int collect_segments(const struct backend *be, struct seg_table *t)
{
	struct shm_info info;
	struct seg seg;
	int maxidx, idx, use_any = 1;

	memset(t, 0, sizeof(*t));
	memset(&info, 0, sizeof(info));
	maxidx = be->ctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
	if (maxidx < 0)
		return -1;
	for (idx = 0; idx <= maxidx; idx++) {
		memset(&seg, 0, sizeof(seg));
		if (stat_index(be, idx, &use_any, &seg) < 0) {
			/*
			 * An unused index, a segment removed since SHM_INFO,
			 * or one we may not read: ipcs skips them too.
			 */
			if (errno == EINVAL || errno == EIDRM ||
			    errno == EACCES || errno == EPERM)
				continue;
			goto fail;
		}
		if (append(t, &seg) < 0)
			goto fail;
	}
	return 0;
fail:
	free_segments(t);
	return -1;
}

void free_segments(struct seg_table *t)
{
	int err = errno;

	free(t->segs);
	memset(t, 0, sizeof(*t));
	errno = err;
}
