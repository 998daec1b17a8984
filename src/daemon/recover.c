/*
 * recover.c - after a restart, find who still maps what.
 *
 * Client connections die with the daemon, but their mappings do not.
 * At start-up the daemon reads /proc/PID/maps of every process it may
 * read and counts the mappings of its segments' data files (recognised by
 * device and inode), as Linux counts mappings.  Each such process becomes
 * an orphan holder, watched through a pidfd: its attachments count in
 * nattch until it reconnects (and adopts them) or exits (and they are
 * detached).  So IPC_STAT is right at once, even for processes that never
 * call again, and no segment a live process maps is destroyed.
 *
 * The scan is bounded: it reads each process's maps once, and each line
 * costs one O(1) lookup (seg_by_inode), so a restart costs O(the lines
 * of every readable /proc/PID/maps), at most pid_max times
 * vm.max_map_count, whatever the segments and whatever a hostile user
 * maps (tests/sealed.t measures a restart beside 65,000 mappings).
 */
#define _GNU_SOURCE
#include "server.h"
#include "../common/procmaps.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int ushm__pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * The segment whose memory is (maj:min, ino), or NULL: one lookup in the
 * store's index by inode, O(1) whatever the line maps (a segment's
 * sealed memfd shares its device with every memfd and shared anonymous
 * mapping of the machine, so the device alone cannot rule lines out).
 * Without a store (unit tests), a search of the table.
 */
static struct ushm__segment *seg_by_inode(struct ushm__server *srv,
					  unsigned maj, unsigned min,
					  unsigned long ino)
{
	struct ushm__segment *hit = srv->reg.slot[srv->last_hit_idx];
	int seen = 0;

	if (srv->reg.in_use == 0)
		return NULL;
	if (srv->store) {
		int idx = ushm__store_find(srv->store, makedev(maj, min),
					   (ino_t)ino);

		return idx >= 0 ? srv->reg.slot[idx] : NULL;
	}
	if (hit) {
		if (major(hit->dev) != maj || minor(hit->dev) != min)
			return NULL; /* not the state directory's device */
		if (hit->ino == ino)
			return hit;
	}
	for (int i = 0; i < USHM__IPCMNI && seen < srv->reg.in_use; i++) {
		struct ushm__segment *s = srv->reg.slot[i];

		if (!s)
			continue;
		seen++;
		if (s->ino == ino && major(s->dev) == maj &&
		    minor(s->dev) == min) {
			srv->last_hit_idx = i;
			return s;
		}
	}
	return NULL;
}

int ushm__maps_each(struct ushm__server *srv, pid_t pid,
		    int (*fn)(void *arg, struct ushm__segment *s,
			      uint64_t start, uint64_t end),
		    void *arg)
{
	struct ushm__vma v;
	char path[64];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (ushm__vma_next(f, &v)) {
		struct ushm__segment *s;

		if (v.ino == 0)
			continue;
		s = seg_by_inode(srv, v.maj, v.min, v.ino);
		if (s && (err = fn(arg, s, v.start, v.end)) < 0)
			break;
	}
	fclose(f);
	return err;
}

static int count_one(void *arg, struct ushm__segment *s, uint64_t start,
		     uint64_t end)
{
	(void)start;
	(void)end;
	return ushm__holds_add(arg, s->m.id, 1);
}

/* Counts pid's mappings of segments into h.  0, or -errno. */
static int scan_maps(struct ushm__server *srv, pid_t pid,
		     struct ushm__holds *h)
{
	return ushm__maps_each(srv, pid, count_one, h);
}

int ushm__maps_holds(struct ushm__server *srv, pid_t pid,
		     struct ushm__holds *h)
{
	return scan_maps(srv, pid, h);
}

int64_t ushm__maps_count(struct ushm__server *srv, pid_t pid,
			 const struct ushm__segment *s)
{
	struct ushm__holds h = { 0 };
	int64_t n;

	if (scan_maps(srv, pid, &h) < 0) {
		ushm__holds_free(&h);
		return -1;
	}
	n = ushm__holds_count(&h, s->m.id);
	ushm__holds_free(&h);
	return n;
}

static void adopt_process(struct ushm__server *srv, pid_t pid)
{
	struct ushm__orphan *o = calloc(1, sizeof(*o));

	if (!o)
		return;
	o->item.type = ITEM_ORPHAN;
	o->pid = pid;
	/* The pidfd first: if the process then maps our files, it is this
	 * process, and its exit will be reported. */
	o->pidfd = ushm__pidfd_open(pid);
	if (o->pidfd < 0)
		goto fail;
	if (scan_maps(srv, pid, &o->holds) < 0 || o->holds.n == 0)
		goto fail_pidfd;
	if (ushm__loop_add(srv, o->pidfd, &o->item, EPOLLIN) < 0)
		goto fail_pidfd;
	for (size_t i = 0; i < o->holds.n; i++) {
		struct ushm__segment *s =
			ushm__registry_find_id(&srv->reg, o->holds.v[i].id);

		ushm__registry_recount(&srv->reg, s, o->holds.v[i].count);
	}
	ushm__log(USHM__LOG_INFO, "pid %ld still maps %zu segment(s)",
		  (long)pid, o->holds.n);
	o->next = srv->orphans;
	srv->orphans = o;
	return;

fail_pidfd:
	close(o->pidfd);
fail:
	ushm__holds_free(&o->holds);
	free(o);
}

void ushm__recover(struct ushm__server *srv)
{
	DIR *d;
	struct dirent *de;
	pid_t self = getpid();

	if (srv->reg.in_use > 0 && (d = opendir("/proc"))) {
		while ((de = readdir(d))) {
			char *end;
			long pid;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = strtol(de->d_name, &end, 10);
			if (*end || pid == self)
				continue;
			adopt_process(srv, (pid_t)pid);
		}
		closedir(d);
	}
	/* Removed segments whose last holders went away while no daemon
	 * ran: Linux would have destroyed them at the last detach. */
	for (int i = 0; i < USHM__IPCMNI; i++) {
		struct ushm__segment *s = srv->reg.slot[i];

		if (s && ushm__registry_reap(&srv->reg, s))
			ushm__log(USHM__LOG_INFO,
				  "removed segment with no holders left");
	}
}

void ushm__orphan_exit(struct ushm__server *srv, struct ushm__orphan *o)
{
	if (o->dead)
		return;
	close(o->pidfd);
	o->pidfd = -1;
	o->dead = 1;
	ushm__holds_release(srv, &o->holds, o->pid, ushm__now());
}

void ushm__orphan_reap(struct ushm__server *srv)
{
	struct ushm__orphan **pp = &srv->orphans;

	while (*pp) {
		struct ushm__orphan *o = *pp;

		/* An orphan whose attachments were all adopted is done. */
		if (!o->dead && o->holds.n == 0) {
			close(o->pidfd);
			o->dead = 1;
		}
		if (!o->dead) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		ushm__holds_free(&o->holds);
		free(o);
	}
}
