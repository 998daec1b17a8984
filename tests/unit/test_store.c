/*
 * test_store.c - the state directory: its lock, segments written and read
 * back into a fresh registry, torn metadata records, leftovers of
 * interrupted creations and removals; and the CRC that guards records.
 *
 * Everything happens under a fresh directory in /dev/shm, removed at the
 * end: ROOT/state is the store, ROOT/log receives the daemon's log lines
 * so that the repairs it reports can be checked.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"
#include "daemon/keeper.h"
#include "common/crc32.h"
#include "common/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

/* A metadata slot as store.c lays it out: 128 bytes, CRC-32 last. */
#define SLOT 128
struct slot {
	uint32_t magic;
	uint32_t version;
	uint32_t gen;
	uint32_t len;
	unsigned char payload[SLOT - 5 * 4];
	uint32_t crc;
};
_Static_assert(sizeof(struct slot) == SLOT, "slot layout");

static char root[64];
static char state[128];
static char logpath[128];
static int logfd = -1;

static struct ushm__registry reg, reg2;
static struct ushm__pub pub;

static const struct ushm__limits lim = {
	.shmmax = UINT64_MAX,
	.shmall = UINT64_MAX,
	.shmmni = 4096,
};

/* state/name; the names used here are short, so truncation would be a
 * bug of this test: it gives "" (no such file) rather than a wrong one. */
static const char *path(const char *name)
{
	static char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s/%s", state, name);

	if (n < 0 || (size_t)n >= sizeof(buf))
		buf[0] = '\0';
	return buf;
}

static int exists(const char *name)
{
	struct stat sb;

	return stat(path(name), &sb) == 0;
}

/* Writes len bytes of buf at the start of file name.  0 or -1. */
static int write_bytes(const char *name, const void *buf, size_t len)
{
	int fd = open(path(name), O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && pwrite(fd, buf, len, 0) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Does file name start with the string want? */
static int starts_with(const char *name, const char *want)
{
	char buf[64] = { 0 };
	int fd = open(path(name), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, buf, strlen(want), 0) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static long long file_size(const char *name)
{
	struct stat sb;

	return stat(path(name), &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Is a file all zeroes (and not empty)? */
static int all_zero_file(const char *name)
{
	unsigned char buf[4096];
	int fd = open(path(name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Copies slot i of meta file from into slot i of meta file to. */
static int copy_slot(const char *from, const char *to, int i)
{
	unsigned char buf[SLOT];
	int in = open(path(from), O_RDONLY | O_CLOEXEC);
	int out = open(path(to), O_WRONLY | O_CLOEXEC);
	int ok_ = in >= 0 && out >= 0 &&
		  pread(in, buf, SLOT, (off_t)i * SLOT) == SLOT &&
		  pwrite(out, buf, SLOT, (off_t)i * SLOT) == SLOT;

	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok_ ? 0 : -1;
}

/* Is the log written since the last call free of / containing what? */
static off_t log_seen;

static int log_has(const char *what)
{
	char buf[8192];
	ssize_t n = pread(logfd, buf, sizeof(buf) - 1, log_seen);

	if (n < 0)
		return 0;
	buf[n] = '\0';
	log_seen += n;
	return strstr(buf, what) != NULL;
}

/* Reads slot i of a meta file; 1 if it holds a valid record. */
static int slot_valid(const char *name, int i, uint32_t *gen)
{
	struct slot s;
	int fd = open(path(name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, &s, sizeof(s), (off_t)i * SLOT);
	close(fd);
	if (n != (ssize_t)sizeof(s))
		return 0;
	*gen = s.gen;
	return s.magic == 0x63727375u && s.version == 1 &&
	       s.len == sizeof(struct ushm__seg_meta) &&
	       s.crc == ushm__crc32(&s, offsetof(struct slot, crc));
}

/* Overwrites the last len bytes of slot i of a meta file with garbage,
 * as a write torn after SLOT - len bytes. */
static int tear(const char *name, int i, size_t len)
{
	unsigned char junk[SLOT];
	int fd = open(path(name), O_WRONLY | O_CLOEXEC);
	off_t at = (off_t)i * SLOT + (off_t)(SLOT - len);
	ssize_t n;

	if (fd < 0)
		return -1;
	for (int k = 0; k < SLOT; k++)
		junk[k] = (unsigned char)(k * 37 + 11);
	n = pwrite(fd, junk, len, at);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* The name of index idx's file with extension ext ("meta", "data"). */
static const char *seg_file(int idx, const char *ext)
{
	static char buf[2][32];
	static int turn;

	turn ^= 1;
	snprintf(buf[turn], sizeof(buf[turn]), "seg-%d.%s", idx, ext);
	return buf[turn];
}

static int make_file(const char *name, off_t size)
{
	int fd = open(path(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		      0600);
	int err = 0;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) < 0)
		err = -1;
	close(fd);
	return err;
}

/* A segment with every persisted field set to something recognisable. */
static int add(struct ushm__registry *r, int32_t key, uint64_t size,
	       struct ushm__segment **out)
{
	struct ushm__seg_meta m = {
		.key = key,
		.uid = 1001, .gid = 102, .cuid = 1003, .cgid = 104,
		.mode = 0640,
		.flags = 0,
		.segsz = size,
		.atime = 1700000001, .dtime = 1700000002,
		.ctime = 1700000003,
		.cpid = 4242, .lpid = 4343,
	};

	return ushm__registry_add(r, &m, out);
}

/* Writes the record of an old-format segment of index idx (as an
 * earlier ushm would have, generation 1 in slot 1). */
static int craft(int idx, int32_t key, uint64_t size)
{
	struct ushm__seg_meta m = {
		.id = 7 * USHM__IPCMNI + idx, .key = key,
		.uid = 1001, .gid = 102, .cuid = 1003, .cgid = 104,
		.mode = 0640, .segsz = size, .cpid = 1, .lpid = 1,
	};
	struct slot sl[2];
	int fd, ok;

	memset(sl, 0, sizeof(sl));
	sl[1].magic = 0x63727375u;
	sl[1].version = 1;
	sl[1].gen = 1;
	sl[1].len = sizeof(m);
	memcpy(sl[1].payload, &m, sizeof(m));
	sl[1].crc = ushm__crc32(&sl[1], offsetof(struct slot, crc));
	fd = open(path(seg_file(idx, "meta")),
		  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, sl, sizeof(sl)) == (ssize_t)sizeof(sl);
	close(fd);
	return ok ? 0 : -1;
}

static void test_crc(void)
{
	is_int(ushm__crc32("123456789", 9), 0xCBF43926u,
	       "crc32(\"123456789\") is 0xCBF43926");
	is_int(ushm__crc32("", 0), 0, "crc32 of nothing is 0");
	is_int(ushm__crc32("a", 1), 0xE8B7BE43u, "crc32(\"a\")");
	is_int(ushm__crc32("The quick brown fox jumps over the lazy dog", 43),
	       0x414FA339u, "crc32 of the pangram");
	/* Every record written before the table came in must still check:
	 * the same sum as bit by bit, on bytes of every value. */
	{
		unsigned char b[256];
		uint32_t want = 0xffffffffu;

		for (int i = 0; i < 256; i++) {
			b[i] = (unsigned char)(255 - i);
			want ^= b[i];
			for (int k = 0; k < 8; k++)
				want = (want >> 1) ^
				       (0xedb88320u & (0u - (want & 1u)));
		}
		is_int(ushm__crc32(b, sizeof(b)), ~want,
		       "crc32 as bit by bit over every byte value");
	}
}

static void test_lock(void)
{
	struct ushm__store *st = NULL, *st2 = NULL;
	char sub[192], buf[32];
	FILE *f;

	is_int(ushm__store_open(state, &st), 0, "store_open creates the dir");
	ok(exists("lock"), "lock file");
	f = fopen(path("ushmd.pid"), "re");
	ok(f && fgets(buf, sizeof(buf), f) && atol(buf) == (long)getpid(),
	   "ushmd.pid holds our pid");
	if (f)
		fclose(f);
	if (!is_int(ushm__store_open(state, &st2), -EBUSY,
		    "a second open of the same dir: -EBUSY"))
		ushm__store_close(st2);
	st2 = NULL;
	ok(exists("ushmd.pid"), "the refused open left ushmd.pid alone");
	ushm__store_close(st);
	ok(!exists("ushmd.pid"), "close removes ushmd.pid");
	is_int(ushm__store_open(state, &st2), 0, "open again after close");
	ushm__store_close(st2);

	snprintf(sub, sizeof(sub), "%s/a/b", root);
	is_int(ushm__store_open(sub, &st), 0, "store_open makes parents");
	ushm__store_close(st);
	/* (the keeper of a/b ends when its socket goes) */
	for (int i = 0; i < 3; i++) {
		static const char *const f[] = { "lock", "keeper.sock",
						 "keeper.pid" };

		snprintf(sub, sizeof(sub), "%s/a/b/%s", root, f[i]);
		unlink(sub);
	}
	snprintf(sub, sizeof(sub), "%s/a/b", root);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", root);
	rmdir(sub);
}

static void test_roundtrip(void)
{
	struct ushm__store *st;
	struct ushm__segment *a, *b, *c, *d, *e, copy_a, copy_c;
	struct stat sb;
	int ida, idb, idc, fd;
	uint32_t mode_a, g0 = 0;
	uint64_t ps, tot;

	if (ushm__store_open(state, &st) < 0) {
		ok(0, "store_open for the round trip");
		return;
	}
	ushm__registry_init(&reg, &lim, st);
	/* Opened as a daemon opens it: the load takes the keeper that
	 * answers (test_lock's, which holds nothing, may be ending: then
	 * another), and there is nothing yet to load. */
	is_int(ushm__store_load(st, &reg), 0, "an empty store loads");
	ps = (uint64_t)reg.page_size;
	reg.seq = 5; /* so that restoring it is visible */
	ida = add(&reg, 0x5151, 10000, &a);
	idb = add(&reg, 0x5252, ps, &b);
	idc = add(&reg, IPC_PRIVATE, 3 * ps + 1, &c);
	is_int(ida, 5 * USHM__IPCMNI, "id of seq 5, index 0");
	is_int(idc, 5 * USHM__IPCMNI + 2, "id of seq 5, index 2");
	ok(!exists("seg-0.data"), "no data file: the memory is a memfd");
	fd = a ? ushm__store_open_data(st, a, 0) : -1;
	ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size == 10000,
	   "memory of segsz bytes");
	ok(fd >= 0 && sb.st_dev == a->dev && sb.st_ino == a->ino,
	   "dev and ino of the memory recorded");
	is_int(fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1,
	       F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
	       "sealed: no shrinking, growing or further seals");
	ok(fd >= 0 && ftruncate(fd, 4096) < 0 && errno == EPERM,
	   "a writable descriptor cannot shrink it");
	ok(fd >= 0 && ftruncate(fd, 20000) < 0 && errno == EPERM,
	   "nor grow it");
	is_int(ushm__store_find(st, a->dev, a->ino), 0,
	       "found by device and inode");
	if (fd >= 0)
		close(fd);
	is_int(file_size("seg-0.meta"), 2 * SLOT, "meta file of two slots");
	is_int(a->meta_gen, 1, "first record: generation 1");

	/* An attach and a detach of a go to the published table (its
	 * times and lpid are persisted there, not in the record), then
	 * two more records of a (an IPC_SET changing nothing, twice; the
	 * torn-record test wants three) and c (locked, as SHM_LOCK
	 * leaves it). */
	ushm__pub_init(&pub);
	is_int(ushm__pub_open(&pub, ushm__store_dirfd(st), &reg), 0,
	       "the table is published");
	ushm__registry_attach(&reg, a, 2, 5151, 1700000100);
	ushm__registry_detach(&reg, a, 1, 5152, 1700000200);
	is_int(a->meta_gen, 1, "an attach and a detach write no record");
	mode_a = a->m.mode;
	a->m.mode = (mode_a & ~0777u) | 0604; /* only in generation 2 */
	ushm__registry_save(&reg, a);
	a->m.mode = mode_a;
	ushm__registry_save(&reg, a);
	c->m.mode |= USHM__SHM_LOCKED;
	c->m.lock_uid = 1003;
	ushm__memlock_charge(&reg, 1003,
			     (int64_t)ushm__pages(&reg, c->m.segsz));
	ushm__registry_save(&reg, c);

	/* Remove b: its record is cleared (the file stays, for the next
	 * segment at index 1: no file made and unlinked per segment);
	 * its index is not reused. */
	ushm__registry_destroy(&reg, b);
	ok(!slot_valid("seg-1.meta", 0, &g0) &&
	   !slot_valid("seg-1.meta", 1, &g0) && all_zero_file("seg-1.meta") &&
	   !exists("seg-1.data"),
	   "destroy clears the record of index 1, both slots zero");
	copy_a = *a;
	copy_c = *c;
	tot = reg.shm_tot;
	ushm__registry_free(&reg);
	ushm__pub_close(&pub);
	ushm__store_close(st);

	/* A new daemon: the records, then the times from the table. */
	if (ushm__store_open(state, &st) < 0) {
		ok(0, "store_open to load");
		return;
	}
	ushm__registry_init(&reg2, &lim, st);
	is_int(ushm__store_load(st, &reg2), 0, "store_load");
	ushm__registry_loaded(&reg2);
	ushm__pub_init(&pub);
	is_int(ushm__pub_open(&pub, ushm__store_dirfd(st), &reg2), 0,
	       "the table is published again");
	is_int(reg2.in_use, 2, "in_use restored");
	is_int(reg2.shm_tot, tot, "shm_tot restored");
	is_int(reg2.seq, 6, "the next sequence number is taken");
	is_int(reg2.last_idx, -1, "from index 0");
	is_int(ushm__memlock_get(&reg2, 1003), 4,
	       "the locked segment's pages charged again to its locker");
	a = ushm__registry_find_id(&reg2, ida);
	c = ushm__registry_find_id(&reg2, idc);
	ok(ushm__registry_find_id(&reg2, idb) == NULL, "b stays removed");
	if (ok(a && c, "a and c found by id")) {
		ok(memcmp(&a->m, &copy_a.m, sizeof(a->m)) == 0,
		   "a: every persisted field restored");
		ok(memcmp(&c->m, &copy_c.m, sizeof(c->m)) == 0,
		   "c: every persisted field restored");
		is_int(a->m.atime, 1700000100, "a: atime");
		is_int(a->m.dtime, 1700000200, "a: dtime");
		is_int(a->m.lpid, 5152, "a: lpid");
		is_int(a->m.uid, 1001, "a: uid");
		is_int(a->m.cgid, 104, "a: cgid");
		is_int(a->m.key, 0x5151, "a: key");
		is_int(c->m.mode, USHM__SHM_LOCKED | 0640, "c: mode");
		is_int(c->m.lock_uid, 1003, "c: lock_uid");
		is_int(a->nattch, 0, "nattch is not persisted");
		is_int(a->meta_gen, copy_a.meta_gen, "a: meta_gen");
		ok(a->dev == copy_a.dev && a->ino == copy_a.ino, "a: dev/ino");
		ok(c->dev == copy_c.dev && c->ino == copy_c.ino, "c: dev/ino");
		ok(ushm__registry_find_key(&reg2, 0x5151) == a,
		   "a found by key");
	}
	ok(!log_has("damaged"), "nothing reported as damaged");

	/* The allocator goes on with the next sequence number, at the
	 * first free index: no id made before is made again. */
	is_int(add(&reg2, 0x5353, 1, &d), 6 * USHM__IPCMNI + 1,
	       "the next id has the next sequence number");
	ok(!log_has("no valid record"), "a cleared record is passed over");
	is_int(ushm__registry_destroy(&reg2, d), 0, "and is removed");

	/* A segment at a cleared index whose file holds an older valid
	 * record (a's generation 2, put there by hand): the new segment's
	 * first record (generation 1) clears the other slot as it is
	 * written, so it is the one loaded. */
	ok(copy_slot("seg-0.meta", "seg-1.meta", 0) == 0 &&
	   slot_valid("seg-1.meta", 0, &g0) && g0 == 2,
	   "a stale record of generation 2 in seg-1.meta's slot 0");
	reg2.last_idx = 0; /* so that index 1 comes next */
	is_int(add(&reg2, 0x5454, 1, &e), 6 * USHM__IPCMNI + 1,
	       "a new segment at index 1");
	ok(!slot_valid("seg-1.meta", 0, &g0) && slot_valid("seg-1.meta", 1, &g0) &&
	   g0 == 1, "its first record written, the stale slot cleared");
	ushm__registry_free(&reg2);
	ushm__pub_close(&pub);
	ushm__store_close(st);
}

/* Loads the store into reg2 (a fresh registry); leaves it open in *st.
 * On failure *st is NULL and reg2 empty, so that the caller's cleanup
 * (registry_free, store_close) is safe either way. */
static int reload(struct ushm__store **st)
{
	int err = ushm__store_open(state, st);

	if (err < 0)
		*st = NULL;
	ushm__registry_init(&reg2, &lim, *st);
	return err < 0 ? err : ushm__store_load(*st, &reg2);
}

static void test_torn(void)
{
	struct ushm__store *st;
	struct ushm__segment *a;
	uint32_t g0 = 0, g1 = 0;
	int id = 5 * USHM__IPCMNI; /* a of the round trip, index 0 */

	/* a has had three records: generation 1 at its creation (slot 1),
	 * 2 and 3 at the two saves (slots 0 and 1). */
	ok(slot_valid("seg-0.meta", 0, &g0) && slot_valid("seg-0.meta", 1,
							   &g1),
	   "both slots of seg-0.meta valid before");
	is_int(g0, 2, "slot 0: generation 2");
	is_int(g1, 3, "slot 1: generation 3");
	if (g0 != 2 || g1 != 3)
		return;

	/* Garbage over the whole newest slot: the record before it is
	 * loaded. */
	ok(tear("seg-0.meta", 1, SLOT) == 0, "newest slot overwritten");
	is_int(reload(&st), 0, "load with a torn record");
	a = ushm__registry_find_id(&reg2, id);
	if (ok(a != NULL, "the segment survives a torn record")) {
		/* The older record has the mode generation 2 had. */
		is_int(a->m.mode & 0777, 0604, "older record: its mode");
		is_int(a->m.atime, 1700000100, "older record: atime");
	}
	ok(log_has("damaged"), "the repair is logged");
	ok(slot_valid("seg-0.meta", 0, &g0) && slot_valid("seg-0.meta", 1,
							   &g1),
	   "both slots valid after the load");
	is_int(g0, 2, "slot 0 still generation 2");
	is_int(g1, 3, "slot 1 rewritten as generation 3");
	is_int(a ? (long long)a->meta_gen : -1, 3,
	       "the segment's meta_gen is the rewritten record's");
	ushm__registry_free(&reg2);
	ushm__store_close(st);

	is_int(reload(&st), 0, "load again");
	ok(!log_has("damaged"), "nothing damaged any more");
	a = ushm__registry_find_id(&reg2, id);
	is_int(a ? (long long)(a->m.mode & 0777) : -1, 0604,
	       "same record loaded");
	ushm__registry_free(&reg2);
	ushm__store_close(st);

	/* Tear the older slot (2) after half of it: the newest (3) is
	 * loaded and the other slot rewritten as 4. */
	ok(tear("seg-0.meta", 0, SLOT / 2) == 0, "older slot torn");
	is_int(reload(&st), 0, "load with the older record torn");
	a = ushm__registry_find_id(&reg2, id);
	is_int(a ? (long long)(a->m.mode & 0777) : -1, 0604,
	       "the newest record loaded");
	ok(log_has("damaged"), "the repair is logged");
	ok(slot_valid("seg-0.meta", 0, &g0) && slot_valid("seg-0.meta", 1,
							   &g1),
	   "both slots valid after the load");
	is_int(g0, 4, "slot 0 rewritten as generation 4");
	ushm__registry_free(&reg2);
	ushm__store_close(st);

	/* Both torn: nothing to load, both files dropped. */
	ok(tear("seg-0.meta", 0, 4) == 0 && tear("seg-0.meta", 1, 4) == 0,
	   "both slots torn");
	is_int(reload(&st), 0, "load with both records torn");
	ok(ushm__registry_find_id(&reg2, id) == NULL,
	   "a segment without a valid record is dropped");
	ok(!exists("seg-0.meta") && !exists("seg-0.data"),
	   "and its files removed");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
}

static void test_leftovers(void)
{
	struct ushm__store *st;
	struct ushm__segment *s;
	char buf[4];
	int id, n, lost, bad, fd;

	/* Start from what is there (c and d of the round trip). */
	is_int(reload(&st), 0, "load");
	n = reg2.in_use;

	/* A data file without meta: a creation cut short. */
	ok(make_file("seg-77.data", 4096) == 0, "a stray seg-77.data");
	/* An old-format segment (a data file and its record), whose file a
	 * client truncated. */
	bad = 90;
	ok(craft(bad, 0x6161, 4096) == 0 && make_file("seg-90.data", 4096) == 0 &&
		   write_bytes("seg-90.data", "kept", 4) == 0 &&
		   truncate(path("seg-90.data"), 100) == 0,
	   "an old-format segment, its file written, then truncated");
	/* An empty record file: a creation killed between making the file
	 * and writing its record. */
	ok(make_file(seg_file(92, "meta"), 0) == 0, "an empty seg-92.meta");
	/* A record without memory: the keeper ended while no daemon ran. */
	lost = 91;
	ok(craft(lost, 0x6060, 4096) == 0, "a record whose memory is gone");
	/* Names that are not the store's are left alone. */
	ok(make_file("seg-x.data", 1) == 0, "seg-x.data");
	ok(make_file("seg-78.data~", 1) == 0, "seg-78.data~");
	ushm__registry_free(&reg2);
	ushm__store_close(st);

	is_int(reload(&st), 0, "load with leftovers");
	ok(!exists("seg-77.data"), "data without meta is removed");
	ok(file_size(seg_file(92, "meta")) == 2 * 128 &&
		   all_zero_file(seg_file(92, "meta")),
	   "an empty record file is cleared (what every free index has)");
	ok(!exists(seg_file(lost, "meta")), "a record without memory is removed");
	ok(ushm__registry_find_key(&reg2, 0x6060) == NULL,
	   "and its segment not loaded");
	ok(log_has("the segment's memory is gone"), "which is logged");
	s = ushm__registry_find_key(&reg2, 0x6161);
	ok(s != NULL, "an old-format segment of the wrong size is kept");
	is_int(file_size(seg_file(bad, "data")), 4096,
	       "its file set back to the segment's size");
	ok(starts_with(seg_file(bad, "data"), "kept"), "with its bytes");
	fd = s ? ushm__store_open_data(st, s, 1) : -1;
	ok(fd >= 0 && read(fd, buf, 4) == 4 && memcmp(buf, "kept", 4) == 0,
	   "and served from that file");
	if (fd >= 0)
		close(fd);
	ok(exists("seg-x.data") && exists("seg-78.data~"),
	   "other names left alone");
	is_int(reg2.in_use, n + 1, "the others loaded as before (and that one)");
	if (s) {
		ushm__registry_destroy(&reg2, s);
		ok(!exists(seg_file(bad, "data")) &&
			   all_zero_file(seg_file(bad, "meta")),
		   "removing it unlinks its file and clears its record");
	}

	/* store_remove on its own. */
	id = ushm__id_index(add(&reg2, 0x6262, 1, &s));
	ok(id >= 0 && exists(seg_file(id, "meta")) &&
		   !exists(seg_file(id, "data")),
	   "a new segment's record (and no data file)");
	if (id >= 0)
		ushm__store_remove(st, s);
	ok(all_zero_file(seg_file(id, "meta")),
	   "store_remove clears the record (both slots zero)");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
	unlink(path("seg-x.data"));
	unlink(path("seg-78.data~"));
}

static void test_ids(void)
{
	struct ushm__store *st;

	/* Loaded first: the next record must be newer than the last. */
	is_int(reload(&st), 0, "load");
	ushm__registry_free(&reg2);
	if (!st)
		return;
	is_int(ushm__store_save_ids(st, USHM__SEQ_MAX + 1, 3), 0,
	       "save an out-of-range seq");
	ushm__store_close(st);
	is_int(reload(&st), 0, "load");
	ok(reg2.seq >= 0 && reg2.seq < USHM__SEQ_MAX,
	   "an out-of-range seq is not loaded (a fresh random one instead)");
	is_int(reg2.last_idx, -1, "nor its last_idx");
	ushm__registry_free(&reg2);
	/*
	 * The daemon goes on and writes its allocator once (the next
	 * shmget).  That record is the newest, and the next start must
	 * load it.  But load_ids leaves the store's generation at 0 when
	 * it rejects the record, so this one is written as generation 1
	 * and loses to the rejected one, still in the other slot.
	 */
	is_int(ushm__store_save_ids(st, 9, 40), 0,
	       "save seq 9, last 40 after the rejected record");
	ushm__store_close(st);
	is_int(reload(&st), 0, "load");
	is_int(reg2.seq, 10,
	       "ids_after_rejected: the newer record is loaded (its next seq)");
	is_int(reg2.last_idx, -1, "ids_after_rejected: from index 0");
	ushm__registry_free(&reg2);
	ushm__store_close(st);

	/* Two writes later both slots have been rewritten. */
	is_int(reload(&st), 0, "load");
	ushm__registry_free(&reg2);
	ushm__store_save_ids(st, 9, 40);
	ushm__store_save_ids(st, 10, 41);
	ushm__store_close(st);
	is_int(reload(&st), 0, "load");
	is_int(reg2.seq, 11,
	       "seq 10 loaded once both slots are rewritten (11 next)");
	is_int(reg2.last_idx, -1, "from index 0");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
}

static void test_data(void)
{
	struct ushm__store *st;
	struct ushm__segment *s;
	char c = 'x';
	int fd;

	if (!is_int(reload(&st), 0, "load")) {
		ushm__registry_free(&reg2);
		ushm__store_close(st);
		return;
	}
	if (!ok(add(&reg2, 0x7070, 8192, &s) >= 0, "a segment to open")) {
		ushm__registry_free(&reg2);
		ushm__store_close(st);
		return;
	}
	fd = ushm__store_open_data(st, s, 1);
	ok(fd >= 0, "open_data read-only");
	if (fd >= 0) {
		ok(write(fd, &c, 1) < 0 && errno == EBADF,
		   "a read-only data fd cannot write");
		ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "it is close-on-exec");
		close(fd);
	}
	fd = ushm__store_open_data(st, s, 0);
	ok(fd >= 0 && pwrite(fd, &c, 1, 4096) == 1, "open_data read-write");
	if (fd >= 0)
		close(fd);
	ok(ushm__store_resident(st, s) >= 1, "resident counts a written page");
	ushm__registry_destroy(&reg2, s);
	ushm__registry_free(&reg2);
	ushm__store_close(st);
}

/*
 * A daemon that ends right after making segments may leave its messages
 * to the keeper unread when the next daemon connects: the keeper reads
 * them first, so every segment is there.
 */
static void test_handover(void)
{
	struct ushm__store *st;
	struct ushm__segment *s;
	int made = 0, n;

	if (!is_int(reload(&st), 0, "load")) {
		ushm__registry_free(&reg2);
		ushm__store_close(st);
		return;
	}
	n = reg2.in_use;
	for (int i = 0; i < 300; i++)
		made += add(&reg2, 0x7100 + i, 4096, &s) >= 0;
	is_int(made, 300, "300 segments made");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
	is_int(reload(&st), 0, "load at once");
	is_int(reg2.in_use, n + 300, "every one of them is back");
	for (int i = 0; i < 300; i++) {
		s = ushm__registry_find_key(&reg2, 0x7100 + i);
		if (s)
			ushm__registry_destroy(&reg2, s);
	}
	is_int(reg2.in_use, n, "and removed");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
}

/*
 * A keeper that holds nothing ends when its daemon leaves.  A daemon that
 * starts just then connects to it, and the kernel queues the connection
 * in a backlog the ending keeper never reads: the daemon's load must not
 * take it for its keeper (what it then handed over would be lost with
 * it), but start another (ushm__store_load).  Here the keeper is stopped
 * while the first store closes and the second one opens and asks it for
 * its segments, then let go: it ends without reading the new connection.
 */
static char ending[160];
static struct ushm__store *ending_st;
static struct ushm__registry ending_reg;
static int ending_err, ending_done;
static pid_t ending_tid;

/* The daemon's start: open, then load. */
static void *open_ending(void *arg)
{
	int err;

	(void)arg;
	__atomic_store_n(&ending_tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	err = ushm__store_open(ending, &ending_st);
	if (err == 0) {
		ushm__registry_init(&ending_reg, &lim, ending_st);
		err = ushm__store_load(ending_st, &ending_reg);
	}
	ending_err = err;
	__atomic_store_n(&ending_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Is thread tid of process pid in system call nr now (waiting in it)? */
static int in_call(pid_t pid, pid_t tid, long nr)
{
	char p[64], buf[64] = { 0 };
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%ld/task/%ld/syscall", (long)pid,
		 (long)tid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strtol(buf, NULL, 10) == nr;
}

/* Is process pid waiting in poll (the keeper's loop)? */
static int in_poll(pid_t pid)
{
#ifdef SYS_poll
	if (in_call(pid, pid, SYS_poll))
		return 1;
#endif
	return in_call(pid, pid, SYS_ppoll);
}

static pid_t keeper_of(const char *dir)
{
	char p[224], buf[32] = { 0 };
	int fd;

	snprintf(p, sizeof(p), "%s/keeper.pid", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) <= 0)
		buf[0] = '\0';
	close(fd);
	return (pid_t)atoi(buf);
}

/* Has child pid ended (reaped here), within 10 s? */
static int ended(pid_t pid)
{
	struct timespec ms = { 0, 1000000 };
	int status;

	for (int i = 0; i < 10000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

/* Removes dir and the files in it (one level). */
static void remove_dir(const char *dir)
{
	char p[448];
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(dir);
}

static void test_keeper_ending(void)
{
	struct ushm__registry r;
	struct ushm__store *st;
	struct ushm__segment *s;
	struct timespec ms = { 0, 1000000 };
	pthread_t th;
	pid_t keeper, tid = 0;
	int status;

	snprintf(ending, sizeof(ending), "%s/ending", root);
	if (!is_int(ushm__store_open(ending, &st), 0,
		    "a store whose keeper holds nothing"))
		goto out;
	keeper = keeper_of(ending);
	/* Stopped in its loop, once it has closed what it inherited (the
	 * store's lock among them): 10 s at most. */
	for (int i = 0; i < 10000 && keeper > 0 && !in_poll(keeper); i++)
		nanosleep(&ms, NULL);
	if (!ok(keeper > 0 && kill(keeper, SIGSTOP) == 0 &&
			waitpid(keeper, &status, WUNTRACED) == keeper &&
			WIFSTOPPED(status),
		"its keeper stopped")) {
		ushm__store_close(st);
		goto out;
	}
	ushm__store_close(st);
	if (!ok(pthread_create(&th, NULL, open_ending, NULL) == 0,
		"the store opened again")) {
		kill(keeper, SIGCONT);
		goto out;
	}
	/* Until it waits for the stopped keeper's answer (or is done): 10 s
	 * at most, well within the keeper's 2 s timeout once there. */
	for (int i = 0; i < 10000; i++) {
		tid = __atomic_load_n(&ending_tid, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&ending_done, __ATOMIC_ACQUIRE) ||
		    (tid > 0 && in_call(getpid(), tid, SYS_recvmsg)))
			break;
		nanosleep(&ms, NULL);
	}
	kill(keeper, SIGCONT);
	pthread_join(th, NULL);
	ok(ended(keeper), "the keeper that held nothing ended");
	if (!is_int(ending_err, 0, "the second store opened and loaded")) {
		ushm__registry_free(&ending_reg);
		if (ending_st)
			ushm__store_close(ending_st);
		goto out;
	}
	ok(add(&ending_reg, 0x7e7e, 4096, &s) >= 0, "a segment made in it");
	ushm__registry_free(&ending_reg);
	ushm__store_close(ending_st);
	if (is_int(ushm__store_open(ending, &st), 0, "opened once more")) {
		ushm__registry_init(&r, &lim, st);
		is_int(ushm__store_load(st, &r), 0, "loaded");
		is_int(r.in_use, 1, "the segment's memory was kept");
		s = ushm__registry_find_key(&r, 0x7e7e);
		if (s)
			ushm__registry_destroy(&r, s);
		ushm__registry_free(&r);
		ushm__store_close(st);
	}
out:
	remove_dir(ending);
}

/* Indexes the keeper gave back (ushm__keeper_take_all's callback). */
static int held[USHM__IPCMNI];

static void note_held(void *arg, int idx, int fd)
{
	(void)arg;
	if (idx >= 0 && idx < USHM__IPCMNI)
		held[idx] = 1;
	close(fd);
}

/*
 * Memory the keeper holds with no seals was never a segment's: a spare
 * given ahead of a create that never came (empty), or one a create cut
 * short sized but did not seal.  The next daemon drops both without a
 * word, and the keeper lets them go.
 */
static void test_unsealed(void)
{
	struct ushm__keeper k = { .fd = -1 };
	struct ushm__store *st;
	int dirfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int empty = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int sized = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int partly = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (!ok(dirfd >= 0 && empty >= 0 && sized >= 0 && partly >= 0 &&
			ftruncate(sized, 8192) == 0 &&
			ftruncate(partly, 4096) == 0 &&
			fcntl(partly, F_ADD_SEALS, F_SEAL_SHRINK) == 0 &&
			ushm__keeper_open(&k, dirfd) == 0 &&
			ushm__keeper_put(&k, 201, empty) == 0 &&
			ushm__keeper_put(&k, 202, sized) == 0 &&
			ushm__keeper_put(&k, 203, partly) == 0,
		"the keeper holds an empty memfd and a sized one, unsealed, "
		"and one sealed otherwise than a segment's"))
		goto out;
	ushm__keeper_close(&k);
	(void)log_has(""); /* (what earlier tests logged) */
	is_int(reload(&st), 0, "a daemon loads beside them");
	{
		off_t from = log_seen;
		int quiet = !log_has("segment 201 ");

		log_seen = from;
		quiet = quiet && !log_has("segment 202 ");
		log_seen = from;
		ok(quiet, "without a word about the unsealed ones");
		ok(log_has("the keeper's memory for segment 203 is not sealed "
			   "memory"),
		   "the other one is said to be ignored");
	}
	ushm__registry_free(&reg2);
	ushm__store_close(st);
	memset(held, 0, sizeof(held));
	ok(ushm__keeper_open(&k, dirfd) == 0 &&
		   ushm__keeper_take_all(&k, note_held, NULL) == 0,
	   "the keeper lists what it holds");
	ok(!held[201] && !held[202] && !held[203], "none of them is among it");
	ushm__keeper_close(&k);
out:
	if (dirfd >= 0)
		close(dirfd);
	if (empty >= 0)
		close(empty);
	if (sized >= 0)
		close(sized);
	if (partly >= 0)
		close(partly);
}

/* What the daemon does while it waits for a client to read its reply
 * (ushm__registry_prepare): the next create's memfd made and its record
 * file opened ahead if it exists, the last two record files kept open
 * until it sleeps (ushm__registry_idle).  Whatever was prepared, a reload
 * sees exactly the segments that exist, and every other record file is
 * cleared. */
static void test_prepared(void)
{
	char saved[sizeof(state)];
	struct ushm__store *st;
	struct ushm__segment *a = NULL, *b = NULL, *c;
	int bad = 0, made = 0;

	strcpy(saved, state);
	snprintf(state, sizeof(state), "%s/prepared", root);
	if (!is_int(reload(&st), 0, "a new state directory"))
		goto out;
	ushm__registry_prepare(&reg2);
	ok(!exists(seg_file(0, "meta")),
	   "no record file is made ahead for an index never used");
	ok(add(&reg2, 0x1111, 4096, &a) >= 0 && a &&
		   ushm__id_index(a->m.id) == 0,
	   "a segment (index 0)");
	ushm__registry_prepare(&reg2);
	ok(a && ushm__registry_destroy(&reg2, a) == 0,
	   "removed through the file kept open");
	ok(all_zero_file(seg_file(0, "meta")), "its record is cleared");
	ok(add(&reg2, 0x2222, 8192, &b) >= 0 && b, "another segment made");
	/* Around the cycle of indexes (64), so that prepared files are
	 * ones that exist: each made and removed, prepared between. */
	for (int i = 0; i < 70; i++) {
		ushm__registry_prepare(&reg2);
		c = NULL;
		made += add(&reg2, 0x3000 + i, 4096, &c) >= 0 && c;
		ushm__registry_prepare(&reg2);
		if (c)
			bad += ushm__registry_destroy(&reg2, c) != 0;
		if (i % 9 == 0)
			ushm__registry_idle(&reg2);
	}
	is_int(made, 70, "70 more made, with the next one prepared each time");
	is_int(bad, 0, "and removed");
	/* Nothing is prepared for a daemon that has created nothing since
	 * it slept.  After a create (and its removal), past the cycle so
	 * that the next index has a record file: the store holds the
	 * removed one's record file, the next one's and a spare memfd;
	 * idle, none of them. */
	{
		uint64_t idle, busy;

		ushm__registry_idle(&reg2);
		idle = ushm__open_fds();
		ushm__registry_prepare(&reg2);
		is_int((long long)ushm__open_fds(), (long long)idle,
		       "no create since the sleep: nothing prepared");
		c = NULL;
		ok(add(&reg2, 0x4000, 4096, &c) >= 0 && c &&
			   ushm__registry_destroy(&reg2, c) == 0,
		   "one more made and removed");
		ushm__registry_prepare(&reg2);
		busy = ushm__open_fds();
		ushm__registry_idle(&reg2);
		is_int((long long)(busy - idle), 3,
		       "then prepared: a memfd and the next record file held, "
		       "and the last one written");
		is_int((long long)ushm__open_fds(), (long long)idle,
		       "idle: all let go");
	}
	ushm__registry_idle(&reg2);
	ushm__registry_free(&reg2);
	ushm__store_close(st);
	if (!is_int(reload(&st), 0, "reloaded"))
		goto out;
	is_int(reg2.in_use, 1, "one segment after the reload");
	b = ushm__registry_find_key(&reg2, 0x2222);
	is_int(b ? (long long)b->m.segsz : -1, 8192, "the one not removed");
	for (int i = 0; i < 72; i++)
		bad += exists(seg_file(i, "meta")) &&
		       (!b || i != ushm__id_index(b->m.id)) &&
		       !all_zero_file(seg_file(i, "meta"));
	is_int(bad, 0, "every other record file is cleared");
	ok(!log_has("damaged"), "and nothing was taken for damage");
	ushm__registry_free(&reg2);
	ushm__store_close(st);
out:
	remove_dir(state);
	strcpy(state, saved);
}

/* Removes everything under root (one level of files plus state/). */
static void cleanup(void)
{
	remove_dir(state);
	unlink(logpath);
	if (rmdir(root) < 0)
		diag("could not remove %s", root);
}

int main(void)
{
	strcpy(root, "/dev/shm/ushm-unit.XXXXXX");
	if (!mkdtemp(root)) {
		printf("1..0 # SKIP no /dev/shm\n");
		return 0;
	}
	snprintf(state, sizeof(state), "%s/state", root);
	snprintf(logpath, sizeof(logpath), "%s/log", root);
	logfd = open(logpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (logfd >= 0)
		ushm__log_setup(USHM__LOG_DEBUG, logfd, -1);

	test_crc();
	test_lock();
	test_roundtrip();
	test_torn();
	test_leftovers();
	test_ids();
	test_data();
	test_handover();
	test_keeper_ending();
	test_unsealed();
	test_prepared();

	if (logfd >= 0)
		close(logfd);
	cleanup();
	return done_testing();
}
