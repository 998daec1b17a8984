/*
 * pieces.c - an attachment's mappings as Linux counts them, kept as the
 * program changes them.
 *
 * Linux gives every mapping (vma) of a segment its own count in nattch:
 * splitting one (mprotect to another protection, munmap of a middle
 * part, mremap of part of it) opens a new vma and counts an attach,
 * removing one counts a detach, moving one counts neither, fork copies
 * each.  Pieces never merge back.  shmdt(addr) looks at the mappings,
 * not at what shmat returned: it removes the first segment mapping at or
 * above addr whose offset is its distance from addr, then every other
 * mapping of the same attachment (the same shm file) that ends within
 * the segment's size of addr.
 *
 * The library keeps the same pieces (client.h) and is told of every
 * change as it happens, by the mapping wrappers (mapwrap.c, the shim's
 * munmap & co.) and by shmat with SHM_REMAP, so that nattch is right at
 * once and no one reads /proc/PID/maps for it.  Each change is sent to
 * the daemon as its net effect per segment: more pieces are registered
 * (REGISTER, counted as attaches), fewer are detached (DT).
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Segments one change touches before its counts are sent. */
#define TOUCHED_MAX 16

struct touched {
	size_t n;
	int settled; /* the connection was made our own (settle()) */
	int failed;  /* ... or could not be: nothing is sent */
	int adds;    /* the change may add pieces (requests: see settle) */
	struct {
		int id;
		long net;                /* pieces gained (or lost) */
		struct ushm__attach last; /* one piece, for REGISTER */
	} v[TOUCHED_MAX];
};

void *ushm__sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	return r == -1 ? MAP_FAILED : (void *)r;
}

int ushm__sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

uintptr_t ushm__page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uintptr_t)ps : 4096;
}

/* The next piece of segment id in t after index *from (round the table),
 * or NULL when t holds none. */
static const struct ushm__attach *next_piece(const struct ushm__attach_table *t,
					     int id, size_t *from)
{
	for (size_t k = 0; k < t->n; k++) {
		size_t i = (*from + k) % t->n;

		if (t->v[i].id == id) {
			*from = i + 1;
			return &t->v[i];
		}
	}
	return NULL;
}

/* Tells the daemon of n new pieces of p's segment.  Each entry names a
 * piece the process maps now (the daemon checks the mapping at that
 * address and length), not one the change has since removed: p only
 * when the table has none left. */
static void send_register(const struct ushm__attach_table *t,
			  const struct ushm__attach *p, long n)
{
	union {
		struct ushm__req req;
		char buf[USHM__MSG_MAX];
	} m;
	struct ushm__rep rep;
	size_t from = 0;

	while (n > 0) {
		uint32_t k = n > USHM__REG_MAX ? USHM__REG_MAX : (uint32_t)n;

		memset(&m, 0, sizeof(m));
		for (uint32_t i = 0; i < k; i++) {
			const struct ushm__attach *q =
				next_piece(t, p->id, &from);

			if (!q)
				q = p;
			m.req.ent[i].id = q->id;
			m.req.ent[i].rdonly = (uint32_t)q->rdonly;
			m.req.ent[i].addr = q->addr;
			m.req.ent[i].len = q->len;
		}
		m.req.count = k;
		ushm__hdr_init(&m.req.hdr, USHM__OP_REGISTER,
			       ushm__req_size(k), USHM__REG_FORK);
		/* In the middle of a change of t: the lock stays held, so
		 * no daemon is started for this (client.h). */
		ushm__transact_held(&m.req, ushm__req_size(k), &rep);
		n -= k;
	}
}

/* The mappings are gone already: the daemon is told, without waiting
 * for it (USHM__DT_NOREPLY). */
static void send_detach(const struct ushm__attach *p, long n)
{
	struct ushm__req q;

	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_DT, sizeof(q),
		       USHM__DT_NOREPLY |
			       (ushm__client_after_fork() ? USHM__DT_AFTER_FORK :
							    0));
	q.id = p->id;
	q.addr = p->addr;
	q.count = (uint32_t)n;
	ushm__post(&q, sizeof(q));
}

/*
 * Makes the connection the counts go on this process's own, once a
 * change, before the change touches the table: every note() comes
 * before what it notes is in the table (see split_at).  A process that
 * has no connection of its own yet (a forked child before its first call
 * of its own holds only the one made for it in fork; a program closed
 * ours) gets one now, which registers the table as it was before the
 * change, whose counts then follow as they would on any connection
 * (lpid and the times included).  A change that may add pieces sends
 * REGISTER, a request, which carries the caller's identity: that is
 * looked at too (a setuid since the last call needs a new connection).
 */
static void settle(const struct ushm__attach_table *t, struct touched *tc)
{
	int r;

	if (tc->settled)
		return;
	tc->settled = 1;
	if (t->change_settled) { /* before the system call */
		tc->failed = t->change_settled < 0;
		return;
	}
	r = tc->adds ? ushm__client_ensure() : ushm__client_settle();
	/* No connection: nothing of the change goes (a send could make
	 * one now, which would register the table as the change left it,
	 * the change then counted twice); the next connection registers
	 * the table. */
	tc->failed = r < 0;
}

static void begin(struct touched *tc, int adds)
{
	tc->n = 0;
	tc->settled = 0;
	tc->failed = 0;
	tc->adds = adds;
}

static int overlaps(const struct ushm__attach_table *t, uintptr_t lo,
		    uintptr_t hi)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].addr < hi && lo < t->v[i].addr + t->v[i].len)
			return 1;
	return 0;
}

void ushm__pieces_settle(struct ushm__attach_table *t, uintptr_t lo,
			 uintptr_t hi)
{
	/* (In a child made without fork handlers, the connection also
	 * drops the pieces it did not inherit: before the call looks at
	 * the table, not in the middle of a change.) */
	if (t->change_settled == 0 && overlaps(t, lo, hi))
		t->change_settled = ushm__client_ensure() < 0 ? -1 : 1;
}

void ushm__pieces_change_done(struct ushm__attach_table *t)
{
	t->change_settled = 0;
}

/* Sends what the change did to each segment, removals first. */
static void flush(const struct ushm__attach_table *t, struct touched *tc)
{
	if (tc->failed) {
		tc->n = 0;
		return;
	}
	for (size_t i = 0; i < tc->n; i++)
		if (tc->v[i].net < 0)
			send_detach(&tc->v[i].last, -tc->v[i].net);
	for (size_t i = 0; i < tc->n; i++)
		if (tc->v[i].net > 0)
			send_register(t, &tc->v[i].last, tc->v[i].net);
	tc->n = 0;
}

static void note(const struct ushm__attach_table *t, struct touched *tc,
		 const struct ushm__attach *p, long d)
{
	size_t i;

	settle(t, tc);
	for (i = 0; i < tc->n && tc->v[i].id != p->id; i++)
		;
	if (i == tc->n) {
		if (tc->n == TOUCHED_MAX)
			flush(t, tc);
		i = tc->n++;
		tc->v[i].id = p->id;
		tc->v[i].net = 0;
	}
	tc->v[i].net += d;
	tc->v[i].last = *p;
}

/* Splits piece i at address at (strictly inside it): the table gains the
 * upper part.  0 or -ENOMEM (then nothing changes).  Noted first: the
 * change's first note may connect (settle()), which registers the table
 * as it is, and must find it as it was before the change. */
static int split_at(struct ushm__attach_table *t, size_t i, uintptr_t at,
		    struct touched *tc)
{
	struct ushm__attach up = t->v[i];

	up.addr = at;
	up.len = t->v[i].addr + t->v[i].len - at;
	up.off = t->v[i].off + (at - t->v[i].addr);
	note(t, tc, &up, +1);
	if (ushm__table_add(t, &up) < 0) {
		note(t, tc, &up, -1);
		return -ENOMEM;
	}
	t->v[i].len = at - t->v[i].addr;
	return 0;
}

/* Would setting prot (>= 0) and the advice bits (set, clear) change
 * piece p?  Linux splits only a vma whose flags change. */
static int changes(const struct ushm__attach *p, int prot, unsigned set,
		   unsigned clear)
{
	if (prot >= 0)
		return p->prot != prot;
	if (set || clear)
		return ((p->advice | set) & ~clear) != p->advice;
	return 1;
}

/* Splits every piece that [lo, hi) cuts through, at lo and at hi (only
 * pieces it changes, see changes()). */
static void split_where(struct ushm__attach_table *t, uintptr_t lo,
			uintptr_t hi, int prot, unsigned set, unsigned clear,
			struct touched *tc)
{
	for (size_t i = 0; i < t->n; i++) {
		uintptr_t s = t->v[i].addr, e = s + t->v[i].len;

		if (!changes(&t->v[i], prot, set, clear))
			continue;
		if (s < lo && lo < e)
			split_at(t, i, lo, tc);
		s = t->v[i].addr;
		e = s + t->v[i].len;
		if (s < hi && hi < e)
			split_at(t, i, hi, tc);
	}
}

static void split_range(struct ushm__attach_table *t, uintptr_t lo,
			uintptr_t hi, int prot, struct touched *tc)
{
	split_where(t, lo, hi, prot, 0, 0, tc);
}

static void cut(struct ushm__attach_table *t, uintptr_t lo, uintptr_t hi,
		struct touched *tc)
{
	split_range(t, lo, hi, -1, tc);
	for (size_t i = 0; i < t->n;) {
		struct ushm__attach *p = &t->v[i];

		if (p->addr >= lo && p->addr + p->len <= hi) {
			note(t, tc, p, -1);
			ushm__table_remove(t, p);
			continue;
		}
		i++;
	}
}

void ushm__pieces_cut(struct ushm__attach_table *t, uintptr_t lo,
		      uintptr_t hi)
{
	struct touched tc;

	begin(&tc, 1);
	cut(t, lo, hi, &tc);
	flush(t, &tc);
}

void ushm__pieces_protect(struct ushm__attach_table *t, uintptr_t lo,
			  uintptr_t hi, int prot)
{
	struct touched tc;

	begin(&tc, 1);
	split_range(t, lo, hi, prot, &tc);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].addr >= lo && t->v[i].addr + t->v[i].len <= hi)
			t->v[i].prot = prot;
	flush(t, &tc);
}

/* The vma flag an advice sets (*set) or clears (*clear). */
static void advice_bits(int advice, unsigned *set, unsigned *clear)
{
	*set = *clear = 0;
	switch (advice) {
	case MADV_DONTFORK: *set = USHM__ADV_DONTFORK; break;
	case MADV_DOFORK: *clear = USHM__ADV_DONTFORK; break;
	case MADV_DONTDUMP: *set = USHM__ADV_DONTDUMP; break;
	case MADV_DODUMP: *clear = USHM__ADV_DONTDUMP; break;
	case MADV_WIPEONFORK: *set = USHM__ADV_WIPEONFORK; break;
	case MADV_KEEPONFORK: *clear = USHM__ADV_WIPEONFORK; break;
	case MADV_HUGEPAGE:
		*set = USHM__ADV_HUGEPAGE;
		*clear = USHM__ADV_NOHUGEPAGE;
		break;
	case MADV_NOHUGEPAGE:
		*set = USHM__ADV_NOHUGEPAGE;
		*clear = USHM__ADV_HUGEPAGE;
		break;
	case MADV_MERGEABLE: *set = USHM__ADV_MERGEABLE; break;
	case MADV_UNMERGEABLE: *clear = USHM__ADV_MERGEABLE; break;
	/* The read-ahead hints: one flag or the other, or neither. */
	case MADV_NORMAL:
		*clear = USHM__ADV_RANDOM | USHM__ADV_SEQUENTIAL;
		break;
	case MADV_RANDOM:
		*set = USHM__ADV_RANDOM;
		*clear = USHM__ADV_SEQUENTIAL;
		break;
	case MADV_SEQUENTIAL:
		*set = USHM__ADV_SEQUENTIAL;
		*clear = USHM__ADV_RANDOM;
		break;
	}
}

void ushm__pieces_advise(struct ushm__attach_table *t, uintptr_t lo,
			 uintptr_t hi, int advice)
{
	struct touched tc;
	unsigned set, clear;

	advice_bits(advice, &set, &clear);
	if (!set && !clear)
		return; /* the others leave the vmas as they are */
	begin(&tc, 1);
	if (set & USHM__ADV_DONTFORK)
		t->dontfork_seen = 1;
	split_where(t, lo, hi, -1, set, clear, &tc);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].addr >= lo && t->v[i].addr + t->v[i].len <= hi)
			t->v[i].advice = (t->v[i].advice | set) & ~clear;
	flush(t, &tc);
}

void ushm__pieces_forked(struct ushm__attach_table *t)
{
	/* Most processes never advise MADV_DONTFORK: their child need not
	 * read the pieces at all.  On a VM that shadows page tables the
	 * first touch of a page in a new process is costly, and this read
	 * was the child's only touch of the pieces' page (BENCHMARKS.md,
	 * "Where a fork's time goes"). */
	if (!t->dontfork_seen)
		return;
	for (size_t i = 0; i < t->n;) {
		if (t->v[i].advice & USHM__ADV_DONTFORK) {
			t->v[i] = t->v[t->n - 1];
			__atomic_store_n(&t->n, t->n - 1, __ATOMIC_RELEASE);
			continue;
		}
		i++;
	}
}

void ushm__pieces_remap(struct ushm__attach_table *t, uintptr_t old,
			size_t old_len, uintptr_t now, size_t new_len,
			int keep_old)
{
	uintptr_t page = ushm__page_size();
	struct touched tc;
	size_t i;

	begin(&tc, 1);
	old_len = (old_len + page - 1) & ~(page - 1);
	new_len = (new_len + page - 1) & ~(page - 1);
	for (i = 0; i < t->n; i++)
		if (t->v[i].addr <= old && old < t->v[i].addr + t->v[i].len)
			break;
	if (i == t->n) {
		/* Not ours: only what it landed on may be. */
		if (now != old)
			cut(t, now, now + new_len, &tc);
		flush(t, &tc);
		return;
	}
	if (old_len == 0 || keep_old) {
		/* A second mapping of the same pages: a new piece (with
		 * MREMAP_DONTUNMAP, of the old range, which stays mapped,
		 * unsplit, however much of its piece it was). */
		struct ushm__attach dup = t->v[i];

		dup.off += old - dup.addr;
		dup.addr = now;
		dup.len = new_len;
		cut(t, now, now + new_len, &tc);
		note(t, &tc, &dup, +1);
		if (ushm__table_add(t, &dup) < 0)
			note(t, &tc, &dup, -1);
		flush(t, &tc);
		return;
	}
	/* Shrinking unmaps the tail first, as munmap would. */
	if (new_len < old_len) {
		cut(t, old + new_len, old + old_len, &tc);
		old_len = new_len;
	}
	if (now == old) {
		/* In place: a piece that grows is one piece still. */
		for (i = 0; i < t->n; i++)
			if (t->v[i].addr <= old &&
			    old + old_len == t->v[i].addr + t->v[i].len)
				t->v[i].len = old + new_len - t->v[i].addr;
		flush(t, &tc);
		return;
	}
	/* Moved: [old, old + old_len) becomes a piece of its own (the
	 * splits count), and its vma is copied to the new place and the
	 * old one closed (no change in count). */
	split_range(t, old, old + old_len, -1, &tc);
	for (i = 0; i < t->n && t->v[i].addr != old; i++)
		;
	if (i < t->n) {
		struct ushm__attach moved = t->v[i];

		/* Out of the table and back, without a note of its own:
		 * no connection may be made in between (one that the
		 * cut below would make would not count it). */
		settle(t, &tc);
		ushm__table_remove(t, &t->v[i]);
		cut(t, now, now + new_len, &tc);
		moved.addr = now;
		moved.len = new_len;
		if (ushm__table_add(t, &moved) < 0)
			note(t, &tc, &moved, -1);
	}
	flush(t, &tc);
}

/* The piece shmdt(addr) starts from: the lowest at or above addr that
 * maps offset (its address - addr).  -1 when there is none. */
static long first_match(const struct ushm__attach_table *t, uintptr_t addr)
{
	long best = -1;

	for (size_t i = 0; i < t->n; i++) {
		const struct ushm__attach *p = &t->v[i];

		if (p->addr >= addr && p->addr - addr == p->off &&
		    (best < 0 || p->addr < t->v[best].addr))
			best = (long)i;
	}
	return best;
}

int ushm__pieces_detach(struct ushm__attach_table *t, uintptr_t addr)
{
	struct touched tc;
	struct ushm__attach head;
	long first;

	begin(&tc, 0);
	/* Before anything is unmapped: a connection made now registers the
	 * pieces as they are mapped (and, in a child made without fork
	 * handlers, drops those it did not inherit: first_match after). */
	settle(t, &tc);
	first = first_match(t, addr);
	if (first < 0)
		return -EINVAL;
	head = t->v[first];
	for (size_t i = 0; i < t->n;) {
		struct ushm__attach *p = &t->v[i];

		if (p->att == head.att && p->addr >= head.addr &&
		    p->addr - addr == p->off &&
		    (p->addr == head.addr ||
		     p->addr + p->len - addr <= head.seglen)) {
			ushm__sys_munmap((void *)p->addr, p->len);
			note(t, &tc, p, -1);
			ushm__table_remove(t, p);
			continue;
		}
		i++;
	}
	flush(t, &tc);
	return 0;
}
