/*
 * maps.c - shmdt by the real mappings, as Linux does it.
 *
 * A program may reshape an attachment behind the library's back: munmap
 * part of it, mprotect part of it (splitting it), mremap it elsewhere,
 * or map over it.  Linux's shmdt looks at the address space, not at what
 * shmat returned: it takes the first segment mapping at or above the
 * address whose file offset matches its distance from the address, and
 * unmaps it with every other fragment of the same segment within the
 * segment's size.  The library does the same here with /proc/self/maps,
 * where "a segment mapping" is one of a segment file this process
 * attached (known by device and inode).  This is the slow path: shmdt
 * takes it only when the attachment is not the single intact mapping
 * shmat made.
 */
#define _GNU_SOURCE
#include "client.h"
#include "../common/procmaps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int ushm__attach_intact(const struct ushm__attach *a)
{
	char path[64], target[4096];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)a->addr, (unsigned long)(a->addr + a->len));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return stat(target, &st) == 0 && st.st_dev == a->dev &&
	       st.st_ino == a->ino;
}

/* The attachment of the table that vma v maps, or NULL. */
static struct ushm__attach *owner(struct ushm__attach_table *t,
				  const struct ushm__vma *v)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].ino == v->ino && major(t->v[i].dev) == v->maj &&
		    minor(t->v[i].dev) == v->min)
			return &t->v[i];
	return NULL;
}

/* Reads /proc/self/maps; returns the number of mappings, -errno. */
static ssize_t read_maps(struct ushm__vma **out)
{
	FILE *f = fopen("/proc/self/maps", "re");
	struct ushm__vma *v = NULL, m;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	while (ushm__vma_next(f, &m)) {
		if (n == cap) {
			struct ushm__vma *nv;

			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = m;
	}
	fclose(f);
	*out = v;
	return (ssize_t)n;
}

/* Is v a fragment of a mapping that starts at addr? */
static int starts_at(const struct ushm__vma *v, uintptr_t addr,
		     uintptr_t page)
{
	return (v->start - addr) / page == v->off / page;
}

int ushm__maps_detach(struct ushm__attach_table *t, uintptr_t addr,
		      struct ushm__attach **which)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	struct ushm__attach *seg = NULL;
	struct ushm__vma *v = NULL, *first = NULL;
	ssize_t n = read_maps(&v);
	int fragments = 0;
	size_t i;

	if (n < 0)
		return (int)n;
	if (!v) /* no mapping at all, so none at addr */
		return -EINVAL;
	for (i = 0; i < (size_t)n; i++) {
		if (v[i].end <= addr || !owner(t, &v[i]) ||
		    !starts_at(&v[i], addr, page))
			continue;
		first = &v[i];
		seg = owner(t, first);
		break;
	}
	if (!first) {
		free(v);
		return -EINVAL;
	}
	for (; i < (size_t)n && v[i].end - addr <= seg->len; i++)
		if (v[i].ino == first->ino && v[i].maj == first->maj &&
		    v[i].min == first->min && starts_at(&v[i], addr, page) &&
		    munmap((void *)(uintptr_t)v[i].start,
			   v[i].end - v[i].start) == 0)
			fragments++;
	/* Which table entry to drop: the one shmat put here if there is
	 * one, else another attachment of the same segment. */
	*which = seg;
	for (size_t k = 0; k < t->n; k++)
		if (t->v[k].addr == addr && t->v[k].ino == seg->ino &&
		    t->v[k].dev == seg->dev)
			*which = &t->v[k];
	free(v);
	return fragments > 0 ? fragments : 1;
}
