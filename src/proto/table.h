/*
 * table.h - the segment table ushmd publishes, and how it is read.
 *
 * The kernel answers shmget of an existing key and IPC_STAT in a few
 * hundred nanoseconds; a round trip to the daemon costs tens of
 * microseconds.  So the daemon, the only writer, keeps every segment's
 * key, id and shmid_ds in a file its clients map read-only (the same
 * facts /proc/sysvipc/shm shows everyone on Linux), and the library
 * answers those calls from it.
 *
 * The file: one header, then one row per index (shmid % 32768), each
 * under its own sequence lock.  The daemon makes a row's seq odd, writes
 * the fields, and makes it even again; a reader copies the row between
 * two reads of an even, unchanged seq.  Every field is read and written
 * with relaxed atomics (the fences order them), so a reader racing the
 * writer sees torn values only in a copy it then throws away.
 *
 * The file lives in the state directory, so that what is stored in it
 * outlives a daemon killed at any point: atime, dtime and lpid, which
 * change with every attach and detach, are persisted there (and only
 * there) by the store into the row.
 *
 * nattch is exact in the row only while the daemon has nothing pending:
 * a client that exited (its hang-up), a request or a forked child's
 * registration the daemon has not read yet.  The header's epoch is odd
 * while the daemon serves a pass of its loop; together with the watch
 * set (an epoll set of everything the daemon waits on, which a reader
 * polls) it tells a reader that nothing it must see is pending (see
 * src/lib/table.c).
 */
#ifndef USHM_TABLE_H
#define USHM_TABLE_H

#include <stdint.h>
#include <string.h>

#include "proto.h"

#define USHM__TABLE_MAGIC 0x6c627474u /* "ttbl" */
#define USHM__TABLE_VERSION 2u /* 2: rows carry gen, dev and ino */
#define USHM__TABLE_ROWS 32768u /* Linux's IPCMNI: every index */

struct ushm__table_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t rows;     /* USHM__TABLE_ROWS */
	uint32_t row_size; /* sizeof(struct ushm__table_row) */
	/* Odd while the daemon serves a pass of its loop. */
	uint64_t epoch;
	/* The highest index that may be in use: readers scan up to it. */
	int32_t max_idx;
	int32_t daemon_pid;
	/* Non-zero: readers must ask the daemon (it could not watch
	 * everything it waits on, so the watch set cannot be trusted). */
	uint32_t slow;
	/* Non-zero while the daemon holds work it gathers (departures,
	 * what comes on the fork socket: src/daemon/loop.c), which its
	 * next passes may leave pending for up to a millisecond: a reader
	 * that finds the watch set busy asks rather than wait for them. */
	uint32_t gathering;
	/* A sequence lock over which row holds which key: odd while a
	 * row gains or loses one (a segment made, removed, marked
	 * SHM_DEST); a reader that scanned for a key while it changed
	 * scans again. */
	uint64_t keys_gen;
	uint8_t pad[16];
	/* A robust process-shared mutex the daemon locks at start and
	 * never releases (glibc's: its first word is the owner's tid).
	 * The kernel marks it FUTEX_OWNER_DIED the moment the daemon dies,
	 * however it dies, so a reader learns that without a system call:
	 * the daemon is alive while the word is daemon_pid. */
	uint8_t alive[64];
};

/* ushm__table_row.flags */
#define USHM__ROW_USED 1u

struct ushm__table_row {
	uint32_t seq;   /* even: stable; odd: being written */
	uint32_t pad0;  /* never written: word 0 is the lock's alone */
	uint32_t flags; /* USHM__ROW_* */
	int32_t id;
	int32_t key;
	uint32_t mode;  /* permission bits | SHM_DEST | SHM_LOCKED */
	uint32_t uid, gid, cuid, cgid;
	int32_t cpid, lpid;
	uint64_t segsz;
	int64_t atime, dtime, ctime;
	uint64_t nattch;
	/* The segment's data file (its memfd): a descriptor a client kept
	 * from an earlier shmat is this segment's only if it matches. */
	uint64_t dev, ino;
	/* Even: what decides a shmat (the row's id, owner, mode) is
	 * stable; odd while the daemon changes it (IPC_RMID, IPC_SET),
	 * after which it is 2 more.  Never reset, not even when the row is
	 * cleared: a client that attached from the row and then finds gen
	 * unchanged knows the daemon will count its attach before any
	 * such change (see "shmat from a kept descriptor" in
	 * src/lib/attach.c). */
	uint32_t gen;
	uint32_t pad1;
	uint8_t pad[16];
};

_Static_assert(sizeof(struct ushm__table_hdr) == 128, "two cache lines");
_Static_assert(sizeof(struct ushm__table_row) == 128, "two cache lines");

/* Bytes of the table file. */
#define USHM__TABLE_SIZE                                                      \
	(sizeof(struct ushm__table_hdr) +                                     \
	 (uint64_t)USHM__TABLE_ROWS * sizeof(struct ushm__table_row))

static inline struct ushm__table_row *
ushm__table_row_at(void *base, uint32_t idx)
{
	return (struct ushm__table_row *)((char *)base +
					  sizeof(struct ushm__table_hdr)) +
	       idx;
}

/* The epoch's low 32 bits, the word clients wait on with a futex (and
 * the daemon wakes after each pass). */
static inline uint32_t *ushm__table_epoch_word(const void *base)
{
	const struct ushm__table_hdr *h = base;

	return (uint32_t *)(uintptr_t)&h->epoch +
	       (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
}

/* Is the daemon that publishes the table at base alive?  Its liveness
 * word holds its tid (its pid: one thread) until it dies. */
static inline int ushm__table_daemon_alive(const void *base)
{
	const struct ushm__table_hdr *h = base;
	uint32_t w = __atomic_load_n((const uint32_t *)(const void *)h->alive,
				     __ATOMIC_ACQUIRE);

	return h->daemon_pid > 0 && w == (uint32_t)h->daemon_pid;
}

/* The row's fields as words, for copying them with atomics.  Word 0
 * holds seq (and padding nobody writes); the row's memory is only ever
 * accessed as these words and as seq. */
#define USHM__ROW_WORDS (sizeof(struct ushm__table_row) / sizeof(uint64_t))

static inline uint64_t *ushm__row_word(const struct ushm__table_row *row,
				       unsigned i)
{
	return (uint64_t *)(void *)((char *)(uintptr_t)row +
				    i * sizeof(uint64_t));
}

/*
 * Copies row into *out if it was stable throughout: 1, or 0 when the
 * writer was at work (the caller tries again or asks the daemon).
 */
static inline int ushm__table_row_read(const struct ushm__table_row *row,
				       struct ushm__table_row *out)
{
	uint64_t w[USHM__ROW_WORDS];
	uint32_t s1, s2;

	s1 = __atomic_load_n(&row->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return 0;
	w[0] = 0;
	for (unsigned i = 1; i < USHM__ROW_WORDS; i++)
		w[i] = __atomic_load_n(ushm__row_word(row, i),
				       __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&row->seq, __ATOMIC_RELAXED);
	memcpy(out, w, sizeof(w));
	out->seq = s1;
	return s1 == s2;
}

/* The writer's side: row gets in's fields (its seq is the row's own). */
static inline void ushm__table_row_write(struct ushm__table_row *row,
					 const struct ushm__table_row *in)
{
	uint64_t w[USHM__ROW_WORDS];
	uint32_t s = __atomic_load_n(&row->seq, __ATOMIC_RELAXED);

	memcpy(w, in, sizeof(w));
	/* An odd seq left by a daemon killed mid-write is simply
	 * written over. */
	s |= 1;
	__atomic_store_n(&row->seq, s, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned i = 1; i < USHM__ROW_WORDS; i++)
		__atomic_store_n(ushm__row_word(row, i), w[i],
				 __ATOMIC_RELAXED);
	__atomic_store_n(&row->seq, s + 1, __ATOMIC_RELEASE);
}

/* A row as IPC_STAT and SHM_STAT report it (the daemon's answers and
 * the library's come from the same fields). */
static inline void ushm__table_row_to_wire(const struct ushm__table_row *row,
					   struct ushm__wire_ds *w)
{
	memset(w, 0, sizeof(*w));
	w->key = row->key;
	w->uid = row->uid;
	w->gid = row->gid;
	w->cuid = row->cuid;
	w->cgid = row->cgid;
	w->mode = row->mode;
	w->seq = (uint32_t)(row->id / (int32_t)USHM__TABLE_ROWS);
	w->segsz = row->segsz;
	w->atime = row->atime;
	w->dtime = row->dtime;
	w->ctime = row->ctime;
	w->cpid = row->cpid;
	w->lpid = row->lpid;
	w->nattch = row->nattch;
}

#endif /* USHM_TABLE_H */
