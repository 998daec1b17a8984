/*
 * shmat.c - ushm_at: a descriptor from the daemon, or one kept from an
 * earlier shmat of the same segment.
 *
 * The first shmat of a segment asks the daemon, which checks, counts the
 * attach and hands over a descriptor of the segment's memory (read-only
 * for SHM_RDONLY).  The process keeps that descriptor (close-on-exec,
 * moved out of the program's way), and a later shmat of the segment with
 * the same access needs no round trip:
 *
 *  1. The published row (src/proto/table.h) decides it: the same id, not
 *     SHM_DEST, the descriptor's file (dev, ino) is the row's, the
 *     permission is granted by the caller's effective uid alone (a
 *     question of group membership, or a refusal, goes to the daemon),
 *     and the row's gen is even (no IPC_RMID or IPC_SET under way).
 *  2. The library maps the descriptor, adds the attachment to its table,
 *     and sends ATTACHED, which the daemon does not answer: it checks and
 *     counts it as it would an AT (nattch, atime, lpid).  Until it has,
 *     the watch set shows the message pending, so a reader of the table
 *     asks the daemon, whose barrier serves it first (src/daemon/loop.c).
 *  3. It reads gen again.  Unchanged: the daemon had not begun changing
 *     the segment when the message was sent, and a change (IPC_RMID,
 *     IPC_SET) makes gen odd and then serves every note already sent
 *     before it decides: the attach is counted as of before the change,
 *     as on Linux when shmat wins the race.  Changed: the change may
 *     have come first, so the library asks (SYNC, answered after the
 *     ATTACHED); a refusal unmaps and returns the daemon's error, as on
 *     Linux when IPC_RMID or IPC_SET wins.
 *
 * The daemon's check is the real one: a program that skips the library's
 * gains nothing it could not get from the descriptor it was given.  A
 * kept descriptor keeps a removed segment's memory allocated until the
 * process lets it go, which it does at its next shmat or shmdt, when the
 * row shows the segment removed or SHM_DEST (and at once when a shmat
 * fails, which a removal racing it may cause), or at exit or exec.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "client.h"
#include "../proto/table.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* Descriptors kept per process; the oldest goes when a new one comes. */
#define KEPT_MAX 16

struct kept {
	int fd;      /* -1: a free slot */
	int id;
	int rdonly;
	dev_t dev;
	ino_t ino;
	uint64_t used; /* when it was last used (a counter) */
};

/* The process's kept descriptors: under the client lock, like the rest
 * of its client state; a forked child has its own copy (and its own
 * descriptors); exec closes them (close-on-exec) with the memory. */
static struct kept kept[KEPT_MAX] = {
	[0 ... KEPT_MAX - 1] = { .fd = -1 },
};
static uint64_t kept_clock;

/* Is k's descriptor still the one we kept (a program may close every
 * descriptor and reuse the numbers)? */
static int still_kept(const struct kept *k)
{
	struct stat sb;

	return fstat(k->fd, &sb) == 0 && sb.st_dev == k->dev &&
	       sb.st_ino == k->ino;
}

/* Lets k go: closes its descriptor if it is still ours. */
static void forget(struct kept *k)
{
	if (k->fd >= 0 && still_kept(k))
		close(k->fd);
	k->fd = -1;
}

static struct kept *find(int id, int rdonly)
{
	for (int i = 0; i < KEPT_MAX; i++)
		if (kept[i].fd >= 0 && kept[i].id == id &&
		    kept[i].rdonly == rdonly)
			return &kept[i];
	return NULL;
}

/* Keeps fd, the descriptor AT gave for (id, rdonly), or closes it. */
static void keep(int fd, int id, int rdonly)
{
	struct kept *k = find(id, rdonly), *oldest = &kept[0];
	struct stat sb;

	if (fstat(fd, &sb) < 0) {
		close(fd);
		return;
	}
	if (!k) {
		for (int i = 0; i < KEPT_MAX; i++) {
			if (kept[i].fd < 0) {
				oldest = &kept[i];
				break;
			}
			if (kept[i].used < oldest->used)
				oldest = &kept[i];
		}
		k = oldest;
	}
	forget(k);
	k->fd = ushm__move_high(fd);
	k->id = id;
	k->rdonly = rdonly;
	k->dev = sb.st_dev;
	k->ino = sb.st_ino;
	k->used = ++kept_clock;
}

void ushm__kept_sweep(void)
{
	struct ushm__table_row row;

	for (int i = 0; i < KEPT_MAX; i++) {
		struct kept *k = &kept[i];
		int r;

		if (k->fd < 0)
			continue;
		r = ushm__table_row_state(k->id, &row);
		/* Gone, SHM_DEST or replaced: no shmat will use it again
		 * (a SHM_DEST segment is attached through the daemon). */
		if (r == 0 || (r > 0 && ((row.mode & 01000) ||
					 row.ino != (uint64_t)k->ino ||
					 row.dev != (uint64_t)k->dev)))
			forget(k);
	}
}

/* Linux's shmat access check: read, write unless SHM_RDONLY, execute
 * with SHM_EXEC (do_shmat). */
static int access_of(int shmflg)
{
	int acc = (shmflg & SHM_RDONLY) ? 0444 : 0666;

	return (shmflg & SHM_EXEC) ? acc | 0111 : acc;
}

/* Maps segsz bytes of fd as shmat(shmid, addr, shmflg) does and adds the
 * attachment to t: the address, or MAP_FAILED with *err. */
static void *map_attach(struct ushm__attach_table *t, int shmid, int shmflg,
			uintptr_t addr, int fixed, int fd, uint64_t segsz,
			int64_t *err)
{
	struct ushm__attach a;
	int prot, flags, e;
	void *p;

	prot = (shmflg & SHM_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
	if (shmflg & SHM_EXEC)
		prot |= PROT_EXEC;
	flags = MAP_SHARED;
	/* Linux checks that the range does not wrap before it maps. */
	if (fixed && !(shmflg & SHM_REMAP) && addr + segsz < addr) {
		*err = -EINVAL;
		return MAP_FAILED;
	}
	if (fixed)
		flags |= (shmflg & SHM_REMAP) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	p = ushm__sys_mmap((void *)addr, segsz, prot, flags, fd, 0);
	e = errno;
	if (p == MAP_FAILED || (fixed && (uintptr_t)p != addr)) {
		/* Linux's overlap check reports EINVAL, not EEXIST. */
		*err = (p == MAP_FAILED && e != EEXIST) ? -e : -EINVAL;
		if (p != MAP_FAILED)
			ushm__sys_munmap(p, segsz);
		return MAP_FAILED;
	}
	memset(&a, 0, sizeof(a));
	a.addr = (uintptr_t)p;
	a.len = (segsz + ushm__page_size() - 1) & ~(ushm__page_size() - 1);
	a.seglen = a.len;
	a.att = ++t->next_att;
	a.id = shmid;
	a.rdonly = !!(shmflg & SHM_RDONLY);
	a.prot = prot;
	/* SHM_REMAP: the new mapping replaced whatever was there, as an
	 * munmap would have. */
	if (fixed && (shmflg & SHM_REMAP))
		ushm__pieces_cut(t, a.addr, a.addr + a.len);
	if (ushm__table_add(t, &a) < 0) {
		ushm__sys_munmap(p, segsz);
		*err = -ENOMEM;
		return MAP_FAILED;
	}
	return p;
}

/* Takes back the attachment at p that map_attach made last. */
static void unmap_last(struct ushm__attach_table *t, void *p, uint64_t segsz)
{
	for (size_t i = t->n; i-- > 0;) {
		if (t->v[i].addr == (uintptr_t)p) {
			ushm__table_remove(t, &t->v[i]);
			break;
		}
	}
	ushm__sys_munmap(p, segsz);
}

/*
 * shmat from a kept descriptor (see the top of this file): 1 with *out
 * the address (which may be 0) or MAP_FAILED and *err the call's error;
 * 0 when the daemon must be asked (nothing was mapped or counted).
 */
static int attach_kept(struct ushm__attach_table *t, int shmid, int shmflg,
		       uintptr_t addr, int fixed, void **out, int64_t *err)
{
	int rdonly = !!(shmflg & SHM_RDONLY);
	struct kept *k = find(shmid, rdonly);
	struct ushm__table_row row;
	struct ushm__req q;
	struct ushm__rep rep;
	uid_t euid;
	int64_t r;
	void *p;

	if (!k)
		return 0;
	/* Read once: the check here and the note's credentials (which the
	 * daemon checks again) are the same caller's. */
	euid = geteuid();
	if (ushm__table_at_row(shmid, access_of(shmflg), euid, &row) != 1)
		return 0;
	if (row.ino != (uint64_t)k->ino || row.dev != (uint64_t)k->dev ||
	    !still_kept(k)) {
		forget(k);
		return 0;
	}
	k->used = ++kept_clock;
	*out = p = map_attach(t, shmid, shmflg, addr, fixed, k->fd, row.segsz,
			      err);
	if (p == MAP_FAILED)
		return 1; /* Linux's error: the checks before it passed */
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_ATTACHED, sizeof(q), 0);
	q.id = shmid;
	q.shmflg = shmflg;
	q.addr = (uint64_t)(uintptr_t)p;
	/* The daemon checks it as the caller's effective ids: sent. */
	if (ushm__notify(&q, sizeof(q), &euid) < 0) {
		/* No connection of our own now, or ids that changed since
		 * euid was read (EPERM: the kernel refuses a uid that is
		 * no longer ours): the daemon path connects or checks. */
		unmap_last(t, p, row.segsz);
		return 0;
	}
	if (ushm__table_gen_now(shmid) == row.gen)
		return 1;
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_SYNC, sizeof(q), 0);
	r = ushm__transact(&q, sizeof(q), &rep, NULL);
	/* A connection lost meanwhile was re-established with this
	 * attachment registered (it is in the table): counted. */
	if (r >= 0)
		return 1;
	unmap_last(t, p, row.segsz);
	*out = MAP_FAILED;
	*err = r;
	return 1;
}

/* Sets *addr to where shmat maps (0: wherever mmap likes, unless
 * *fixed), by do_shmat's rules for shmaddr.  0 or -EINVAL. */
static int at_address(const void *shmaddr, int shmflg, uintptr_t *addr,
		      int *fixed)
{
	uintptr_t lba = ushm__page_size();

	*addr = (uintptr_t)shmaddr;
	*fixed = 0;
	if (*addr) {
		if (*addr & (lba - 1)) {
			if (!(shmflg & SHM_RND))
				return -EINVAL;
			*addr &= ~(lba - 1);
			if (!*addr && (shmflg & SHM_REMAP))
				return -EINVAL;
		}
		*fixed = 1;
	} else if (shmflg & SHM_REMAP) {
		return -EINVAL;
	}
	return 0;
}

static void *fail_at(int64_t err)
{
	errno = (int)-err;
	return (void *)-1;
}

static void *at(int shmid, const void *shmaddr, int shmflg)
{
	struct ushm__attach_table *t;
	struct ushm__req q;
	struct ushm__rep rep;
	int fixed, fd = -1;
	uintptr_t addr;
	int64_t r;
	void *p;

	if (shmid < 0)
		return fail_at(-EINVAL);
	r = at_address(shmaddr, shmflg, &addr, &fixed);
	if (r < 0)
		return fail_at(r);
	if ((r = ushm__client_refuse_reentry()) < 0)
		return fail_at(r);
	t = ushm__client_lock();
	ushm__kept_sweep();
	if (attach_kept(t, shmid, shmflg, addr, fixed, &p, &r)) {
		if (p == MAP_FAILED) /* refused: removed meanwhile? */
			ushm__kept_sweep();
		ushm__client_unlock();
		return p == MAP_FAILED ? fail_at(r) : p;
	}
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_AT, sizeof(q), 0);
	q.id = shmid;
	q.shmflg = shmflg;
	q.addr = (uint64_t)addr;
	r = ushm__transact(&q, sizeof(q), &rep, &fd);
	if (r < 0)
		goto fail_unlock;
	p = map_attach(t, shmid, shmflg, addr, fixed, fd, rep.segsz, &r);
	if (p == MAP_FAILED) {
		close(fd);
		ushm__client_respare();
		goto fail_undo;
	}
	keep(fd, shmid, !!(shmflg & SHM_RDONLY));
	ushm__client_respare();
	ushm__client_unlock();
	return p;

fail_undo:
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_AT_UNDO, sizeof(q), 0);
	q.id = shmid;
	ushm__transact(&q, sizeof(q), &rep, NULL);
fail_unlock:
	/* A segment removed since the sweep above failed the call: its
	 * kept descriptor goes now, not at some later call. */
	ushm__kept_sweep();
	ushm__client_respare();
	ushm__client_unlock();
	return fail_at(r);
}

void *ushm_at(int shmid, const void *shmaddr, int shmflg)
{
	int saved = errno;
	void *p = at(shmid, shmaddr, shmflg);

	ushm__errno_keep(saved, p != (void *)-1);
	return p;
}
