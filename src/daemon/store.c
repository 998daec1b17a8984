/*
 * store.c - segments as files in the daemon's private state directory.
 *
 *   lock             flock()ed by the running daemon: one daemon a directory
 *   ushmd.pid        its pid, for tools and tests
 *   ids              the id allocator (seq, last index)
 *   seg-N.data       segment with index N: its bytes (clients mmap this)
 *   seg-N.meta       its shmid_ds (minus nattch, which is derived)
 *
 * Metadata files hold two 128-byte slots, each a checksummed record with a
 * generation number; a write goes to the slot the previous write did not
 * use, so a torn write leaves the previous record intact and the loader
 * picks the newest valid one.  Creation writes data before metadata and
 * removal unlinks metadata before data, so a crash between the two steps
 * leaves a data file without metadata, which the loader deletes.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../common/crc32.h"
#include "../common/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every file here is opened by name: never through a symbolic link. */
#define NOFOLLOW_CLOEXEC (O_NOFOLLOW | O_CLOEXEC)

#define REC_MAGIC 0x63727375u /* "usrc" */
#define REC_VERSION 1u
#define REC_SLOT 128
#define REC_PAYLOAD (REC_SLOT - 5 * 4)

struct rec {
	uint32_t magic;
	uint32_t version;
	uint32_t gen;
	uint32_t len;
	unsigned char payload[REC_PAYLOAD];
	uint32_t crc; /* of everything above */
};

_Static_assert(sizeof(struct rec) == REC_SLOT, "record slot size");
_Static_assert(sizeof(struct ushm__seg_meta) <= REC_PAYLOAD, "meta fits");

struct ids_rec {
	int32_t seq;
	int32_t last_idx;
};

struct ushm__store {
	int dirfd;
	int lockfd;
	uint32_t ids_gen;
};

int ushm__store_dirfd(const struct ushm__store *st)
{
	return st->dirfd;
}

/* Is the daemon named in the state directory's pid file running (not
 * gone, not a zombie)? */
static int holder_running(struct ushm__store *st)
{
	char buf[32], state;
	ssize_t n;
	int fd = openat(st->dirfd, "ushmd.pid", O_RDONLY | NOFOLLOW_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return ushm__proc_stat((pid_t)strtol(buf, NULL, 10), &state, NULL) ==
		       0 &&
	       state != 'Z' && state != 'X';
}

/*
 * Takes the state directory's lock.  A daemon killed a moment ago holds
 * it until its exit completes, while its socket already refuses
 * connections: the client that finds it dead starts a new daemon, which
 * must wait for the lock rather than give up.  One that is running is
 * answered at once with -EBUSY.
 */
static int lock_state(struct ushm__store *st)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int running = 0;

	/* At most 2 s; a holder seen running for 50 ms is not exiting (an
	 * exiting process shows as running until it is a zombie). */
	for (int i = 0; i < 200 && running < 5; i++) {
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		running = holder_running(st) ? running + 1 : 0;
		nanosleep(&tick, NULL);
	}
	return -EBUSY;
}

int ushm__store_open(const char *dir, struct ushm__store **out)
{
	struct ushm__store *st;
	struct stat sb;
	char pid[32];
	int err, fd, n;

	err = ushm__mkdir_private(dir);
	if (err < 0)
		return err;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->dirfd < 0) {
		err = -errno;
		goto fail_free;
	}
	/* Only the daemon ever opens what is in here (clients receive
	 * descriptors), so nobody else needs any access: a directory made
	 * beforehand with a wider mode is narrowed. */
	if (fstat(st->dirfd, &sb) < 0 ||
	    ((sb.st_mode & 077) && sb.st_uid == geteuid() &&
	     fchmod(st->dirfd, 0700) < 0)) {
		err = -errno;
		goto fail_dir;
	}
	st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_CREAT | NOFOLLOW_CLOEXEC,
			    0600);
	if (st->lockfd < 0) {
		err = -errno;
		goto fail_dir;
	}
	err = lock_state(st);
	if (err < 0)
		goto fail_lock;
	fd = openat(st->dirfd, "ushmd.pid",
		    O_WRONLY | O_CREAT | O_TRUNC | NOFOLLOW_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto fail_lock;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, (size_t)n) != n) {
		err = -EIO;
		close(fd);
		goto fail_lock;
	}
	close(fd);
	*out = st;
	return 0;

fail_lock:
	close(st->lockfd);
fail_dir:
	close(st->dirfd);
fail_free:
	free(st);
	return err;
}

void ushm__store_close(struct ushm__store *st)
{
	if (!st)
		return;
	unlinkat(st->dirfd, "ushmd.pid", 0);
	close(st->lockfd);
	close(st->dirfd);
	free(st);
}

static void name_of(char *buf, size_t len, int idx, const char *ext)
{
	snprintf(buf, len, "seg-%d.%s", idx, ext);
}

/* Writes payload as generation gen into the slot gen selects. */
static int rec_write(int fd, uint32_t gen, const void *payload, size_t len)
{
	struct rec r;
	ssize_t n;

	memset(&r, 0, sizeof(r));
	r.magic = REC_MAGIC;
	r.version = REC_VERSION;
	r.gen = gen;
	r.len = (uint32_t)len;
	memcpy(r.payload, payload, len);
	r.crc = ushm__crc32(&r, offsetof(struct rec, crc));
	n = pwrite(fd, &r, sizeof(r), (off_t)(gen & 1u) * REC_SLOT);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(r) ? 0 : -EIO;
}

static int rec_valid(const struct rec *r, size_t len)
{
	return r->magic == REC_MAGIC && r->version == REC_VERSION &&
	       r->len == len &&
	       r->crc == ushm__crc32(r, offsetof(struct rec, crc));
}

/*
 * Reads the newest valid record of len bytes into payload.  Returns its
 * generation (>= 0 as int64), -ENOENT when neither slot is valid.  Sets
 * *torn when one slot was damaged (the caller rewrites it).
 */
static int all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		if (*c++)
			return 0;
	return 1;
}

static int64_t rec_read(int fd, void *payload, size_t len, int *torn)
{
	struct rec r[2];
	ssize_t n = pread(fd, r, sizeof(r), 0);
	int ok0, ok1, pick;

	if (n < 0)
		return -errno;
	if (n < (ssize_t)sizeof(r))
		memset((char *)r + n, 0, sizeof(r) - (size_t)n);
	ok0 = rec_valid(&r[0], len);
	ok1 = rec_valid(&r[1], len);
	/* A never-written slot is all zeroes (the first write fills slot 1
	 * only); anything else that fails the checks is damage. */
	*torn = (!ok0 && !all_zero(&r[0], sizeof(r[0]))) ||
		(!ok1 && !all_zero(&r[1], sizeof(r[1])));
	if (!ok0 && !ok1)
		return -ENOENT;
	if (ok0 && ok1)
		pick = (int32_t)(r[1].gen - r[0].gen) > 0;
	else
		pick = ok1;
	memcpy(payload, r[pick].payload, len);
	return r[pick].gen;
}

int ushm__store_save_ids(struct ushm__store *st, int seq, int last_idx)
{
	struct ids_rec ir = { seq, last_idx };
	int fd, err;

	fd = openat(st->dirfd, "ids", O_RDWR | O_CREAT | NOFOLLOW_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = rec_write(fd, ++st->ids_gen, &ir, sizeof(ir));
	close(fd);
	return err;
}

int ushm__store_save_meta(struct ushm__store *st, struct ushm__segment *s)
{
	char name[64];
	int fd, err;

	name_of(name, sizeof(name), ushm__id_index(s->m.id), "meta");
	fd = openat(st->dirfd, name, O_RDWR | O_CREAT | NOFOLLOW_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = rec_write(fd, ++s->meta_gen, &s->m, sizeof(s->m));
	close(fd);
	return err;
}

int ushm__store_create(struct ushm__store *st, struct ushm__segment *s)
{
	char name[64];
	struct stat sb;
	int fd, err, idx = ushm__id_index(s->m.id);

	name_of(name, sizeof(name), idx, "data");
	/* A leftover of a crash between the two unlinks of a removal. */
	unlinkat(st->dirfd, name, 0);
	fd = openat(st->dirfd, name, O_RDWR | O_CREAT | O_EXCL | NOFOLLOW_CLOEXEC,
		    0600);
	if (fd < 0)
		return errno == ENOSPC ? -ENOSPC : -ENOMEM;
	if (ftruncate(fd, (off_t)s->m.segsz) < 0 || fstat(fd, &sb) < 0) {
		err = errno == EFBIG || errno == EINVAL ? -EINVAL : -ENOMEM;
		goto fail_unlink;
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->meta_gen = 0;
	err = ushm__store_save_meta(st, s);
	if (err < 0) {
		err = -ENOSPC;
		goto fail_unlink;
	}
	close(fd);
	return 0;

fail_unlink:
	close(fd);
	unlinkat(st->dirfd, name, 0);
	return err;
}

int ushm__store_remove(struct ushm__store *st, const struct ushm__segment *s)
{
	char name[64];
	int idx = ushm__id_index(s->m.id);

	/* The record first: while it is there, the segment is. */
	name_of(name, sizeof(name), idx, "meta");
	if (unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT) {
		int err = -errno;

		ushm__log(USHM__LOG_ERR, "unlink %s: %s; the segment is kept",
			  name, strerror(errno));
		return err;
	}
	name_of(name, sizeof(name), idx, "data");
	if (unlinkat(st->dirfd, name, 0) < 0)
		ushm__log(USHM__LOG_WARN, "unlink %s: %s (removed at the next "
			  "start)", name, strerror(errno));
	return 0;
}

int ushm__store_open_data(struct ushm__store *st, const struct ushm__segment *s,
			  int rdonly)
{
	char name[64];
	int fd;

	name_of(name, sizeof(name), ushm__id_index(s->m.id), "data");
	fd = openat(st->dirfd, name, (rdonly ? O_RDONLY : O_RDWR) | NOFOLLOW_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

uint64_t ushm__store_resident(struct ushm__store *st,
			      const struct ushm__segment *s)
{
	char name[64];
	struct stat sb;

	name_of(name, sizeof(name), ushm__id_index(s->m.id), "data");
	if (fstatat(st->dirfd, name, &sb, 0) < 0)
		return 0;
	return (uint64_t)sb.st_blocks * 512;
}

/* Loads seg-N.meta into a new segment; checks it against its data file. */
/*
 * A segment whose record cannot be trusted (both slots damaged, or not
 * matching its data file) is not served: guessing its owner or mode
 * would hand its bytes to the wrong users.  A creation cut short left
 * nothing to lose, so its files go; bytes that were written are kept
 * aside (NAME.damaged) for the administrator, never deleted.
 */
static void drop(struct ushm__store *st, const char *meta, const char *data)
{
	char aside[80];
	struct stat sb;

	if (fstatat(st->dirfd, data, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    sb.st_blocks > 0) {
		snprintf(aside, sizeof(aside), "%s.damaged", data);
		if (renameat(st->dirfd, data, st->dirfd, aside) == 0) {
			snprintf(aside, sizeof(aside), "%s.damaged", meta);
			renameat(st->dirfd, meta, st->dirfd, aside);
			ushm__log(USHM__LOG_ERR,
				  "%s: no valid record; not served, its bytes "
				  "kept in %s.damaged", meta, data);
			return;
		}
	}
	ushm__log(USHM__LOG_ERR, "%s: no valid record or data file; dropped",
		  meta);
	unlinkat(st->dirfd, meta, 0);
	unlinkat(st->dirfd, data, 0);
}

/*
 * A data file whose size is not its record's: a client with a writable
 * descriptor truncated or extended it.  The record is the truth (the
 * size a segment has for its life): the file is set back to it, keeping
 * every byte the segment has, and the repair is logged.  The segment is
 * never dropped for it.
 */
static int resize(struct ushm__store *st, const char *data,
		  const struct ushm__segment *s, struct stat *sb)
{
	int fd = openat(st->dirfd, data, O_RDWR | NOFOLLOW_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)s->m.segsz) < 0 || fstat(fd, sb) < 0)
		err = -errno;
	close(fd);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "%s: cannot set it back to its "
			  "size (%s)", data, strerror(-err));
		return err;
	}
	ushm__log(USHM__LOG_WARN, "%s: a client changed its size; set back "
		  "to the segment's %llu bytes", data,
		  (unsigned long long)s->m.segsz);
	return 0;
}

static int load_one(struct ushm__store *st, struct ushm__registry *r, int idx)
{
	char meta[64], data[64];
	struct ushm__segment *s;
	struct stat sb;
	int fd, torn = 0;
	int64_t gen;

	name_of(meta, sizeof(meta), idx, "meta");
	name_of(data, sizeof(data), idx, "data");
	fd = openat(st->dirfd, meta, O_RDWR | NOFOLLOW_CLOEXEC);
	if (fd < 0)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	gen = rec_read(fd, &s->m, sizeof(s->m), &torn);
	close(fd);
	if (gen < 0 || ushm__id_index(s->m.id) != idx || s->m.id < 0 ||
	    fstatat(st->dirfd, data, &sb, 0) < 0) {
		free(s);
		drop(st, meta, data);
		return 0;
	}
	if ((uint64_t)sb.st_size != s->m.segsz && resize(st, data, s, &sb) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->meta_gen = (uint32_t)gen;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	r->slot[idx] = s;
	r->in_use++;
	r->shm_tot += ushm__pages(r, s->m.segsz);
	if ((s->m.mode & USHM__SHM_LOCKED) &&
	    ushm__memlock_charge(r, s->m.lock_uid,
				 (int64_t)ushm__pages(r, s->m.segsz)) < 0)
		return -ENOMEM;
	if (torn) {
		ushm__log(USHM__LOG_WARN,
			  "%s: a damaged record was found; repaired from the "
			  "previous one (generation %u)", meta, s->meta_gen);
		/* The next write goes to the damaged slot. */
		(void)ushm__registry_save(r, s); /* logged if it fails */
	}
	return 0;
}

/*
 * A fresh state's first sequence number: random, so that ids of two
 * daemons (a per-user one and the system one, say) almost never coincide,
 * and an id carried from one to the other is stale there (EINVAL) rather
 * than the name of an unrelated segment.  Kept in the ids record, so a
 * restarted daemon goes on from where it was.
 */
static int random_seq(void)
{
	uint32_t v = 0;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		/* No entropy yet (early boot): still unlike any other. */
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid() ^
		    (uint32_t)ts.tv_sec;
	}
	return (int)(v % USHM__SEQ_MAX);
}

/* Starts the allocator at a random sequence number and records it. */
static void seed_ids(struct ushm__store *st, struct ushm__registry *r)
{
	int err;

	r->seq = random_seq();
	err = ushm__store_save_ids(st, r->seq, r->last_idx);
	if (err < 0)
		ushm__log(USHM__LOG_WARN, "ids: not saved: %s", strerror(-err));
}

static void load_ids(struct ushm__store *st, struct ushm__registry *r)
{
	struct ids_rec ir = { 0 };
	int fd, torn = 0;
	int64_t gen;

	fd = openat(st->dirfd, "ids", O_RDONLY | NOFOLLOW_CLOEXEC);
	if (fd < 0) {
		seed_ids(st, r);
		return;
	}
	gen = rec_read(fd, &ir, sizeof(ir), &torn);
	close(fd);
	/* Even a record refused below must be outdone by the next write,
	 * or it would win again at the next start. */
	if (gen >= 0)
		st->ids_gen = (uint32_t)gen;
	if (gen < 0 || ir.seq < 0 || ir.seq >= USHM__SEQ_MAX ||
	    ir.last_idx < -1 || ir.last_idx >= USHM__IPCMNI) {
		ushm__log(USHM__LOG_WARN, "ids: no valid record");
		seed_ids(st, r);
		return;
	}
	st->ids_gen = (uint32_t)gen;
	r->seq = ir.seq;
	r->last_idx = ir.last_idx;
}

int ushm__store_load(struct ushm__store *st, struct ushm__registry *r)
{
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	load_ids(st, r);
	fd = dup(st->dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		int idx, len = 0;

		if (sscanf(de->d_name, "seg-%d.meta%n", &idx, &len) != 1 ||
		    de->d_name[len] != '\0' || idx < 0 ||
		    idx >= USHM__IPCMNI)
			continue;
		err = load_one(st, r, idx);
		if (err < 0)
			break;
	}
	closedir(d);
	/* Slots were filled here, not through the registry's functions. */
	ushm__registry_loaded(r);
	if (err < 0)
		return err;
	/* Data files without metadata: creations or removals cut short. */
	fd = dup(st->dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		int idx, len = 0;

		if (sscanf(de->d_name, "seg-%d.data%n", &idx, &len) != 1 ||
		    de->d_name[len] != '\0' || idx < 0 ||
		    idx >= USHM__IPCMNI || r->slot[idx])
			continue;
		ushm__log(USHM__LOG_INFO, "%s: no metadata; removed",
			  de->d_name);
		unlinkat(st->dirfd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}
