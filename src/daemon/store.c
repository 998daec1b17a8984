/*
 * store.c - segments as files in the daemon's private state directory.
 *
 *   lock             flock()ed by the running daemon: one daemon a directory
 *   ushmd.pid        its pid, for tools and tests
 *   ids              the id allocator's sequence number
 *   seg-N.meta       segment with index N: its shmid_ds (minus nattch,
 *                    which is derived); both slots zero: no segment
 *   keeper.sock      the keeper, which holds every segment's memory while
 *   keeper.pid       no daemon runs (keeper.c)
 *   seg-N.data       only from ushm versions before sealed memory: the
 *                    segment's bytes as a file (see "Old state" below)
 *
 * A segment's bytes are a memfd sealed with F_SEAL_SHRINK, F_SEAL_GROW
 * and F_SEAL_SEAL once it has its size: no client holding a descriptor
 * (a writable one included) can shrink it (which would SIGBUS every other
 * attacher), grow it (past the quotas and the reservation), or add a
 * seal of its own (F_SEAL_FUTURE_WRITE would stop others' writable
 * attaches).  The daemon holds each memfd, and reopens it through
 * /proc/self/fd for each shmat (O_RDONLY for SHM_RDONLY); the keeper
 * holds a copy, which the next daemon takes back at start-up.
 *
 * Metadata files hold two 128-byte slots, each a checksummed record with a
 * generation number; a write goes to the slot the previous write did not
 * use, so a torn write leaves the previous record intact and the loader
 * picks the newest valid one.  Creation gives the memory to the keeper
 * before it writes the record, and removal clears the record before the
 * keeper drops the memory, so a crash between the two steps leaves memory
 * without a record, which the loader discards.
 *
 * What a create and a remove cost is mostly here, so each is a few
 * system calls on files that exist: a removal clears seg-N.meta (one
 * write of both slots, zeroes) instead of unlinking it, and the next
 * segment at index N writes its first record and a cleared other slot in
 * one write; creating and unlinking a file cost 100 us on an ext4 state
 * directory, against 10 for opening and writing one.  A cleared file is
 * what a free index looks like to the loader, which passes over it.  The
 * ids record stays open; the keeper is told of new memory without
 * waiting for it (the descriptor is in its socket's queue once sendmsg
 * returns, and it reads every message a dead daemon left before it takes
 * the next daemon's connection), and is told it only after the reply
 * where the order allows it ("After the reply" below).
 *
 * Old state: a state directory written by an earlier ushm has seg-N.data
 * files.  A daemon that finds one (and no memfd for that index) keeps
 * serving that file until the segment is removed: programs that still
 * map it keep sharing it with new attachers.  Such a segment is not
 * sealed; a restart sets its file back to the segment's size if a client
 * changed it, keeping its bytes.
 */
#define _GNU_SOURCE
#include "server.h"
#include "keeper.h"
#include "../common/crc32.h"
#include "../common/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
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

/* Record files kept open: the last segment's and the next one's. */
#define META_OPEN 2

/* Buckets of the inode index (a power of two). */
#define INO_BUCKETS 4096

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Keeper DROPs a daemon may owe before it sends them anyway. */
#define DROPS_OWED 64

struct ushm__store {
	int dirfd;
	int lockfd;
	int ids_fd; /* the ids record, once written (-1: not yet) */
	uint32_t ids_gen;
	int ids_seq; /* the sequence number it holds (-1: unknown) */
	struct ushm__keeper keeper;
	/* Where the keeper's hang-up is watched (0: not yet). */
	int epfd;
	void *keeper_item;
	/* Each segment index's memory: a sealed memfd, an old-format
	 * seg-N.data file (legacy[N]), or -1. */
	int data[USHM__IPCMNI];
	unsigned char legacy[USHM__IPCMNI];
	/* An old-format seg-N.data that could not be removed: the next
	 * segment at N removes it first (otherwise none is there). */
	unsigned char stray_data[USHM__IPCMNI];
	/* (device, inode) of each data[N], and an index by inode: a line
	 * of /proc/PID/maps is matched in O(1) (recover.c). */
	dev_t dev[USHM__IPCMNI];
	ino_t ino[USHM__IPCMNI];
	int ino_head[INO_BUCKETS];
	int ino_next[USHM__IPCMNI];
	/* Work of the next create done ahead (ushm__store_prepare): a
	 * memfd not sized yet (-1: none), the index the keeper holds it
	 * as (-1: none) and its device and inode. */
	int spare_mem;
	int spare_kept;
	dev_t spare_dev;
	ino_t spare_ino;
	/* Indexes whose memory the keeper is still to drop (see
	 * "After the reply"). */
	int drops[DROPS_OWED];
	int ndrops;
	/* The index prepare found no record file for (-1: none): not
	 * looked for again until a create makes it. */
	int no_meta_idx;
	/* A segment was created since the daemon last slept: only then is
	 * the next create's work worth doing ahead. */
	int creating;
	/* Record files kept open (see meta_open); fd -1: none. */
	struct {
		int idx, fd;
		unsigned used; /* when last used, for the replacement */
	} meta[META_OPEN];
	unsigned meta_clock;
};

static void meta_forget(struct ushm__store *st, int idx);

static unsigned ino_bucket(ino_t ino)
{
	return (unsigned)(((uint64_t)ino * 0x9e3779b97f4a7c15ull) >> 52) &
	       (INO_BUCKETS - 1);
}

/* Records fd (whose stat is sb) as the memory of idx. */
static void data_set(struct ushm__store *st, int idx, int fd,
		     const struct stat *sb, int legacy)
{
	unsigned b = ino_bucket(sb->st_ino);

	st->data[idx] = fd;
	st->legacy[idx] = (unsigned char)legacy;
	st->dev[idx] = sb->st_dev;
	st->ino[idx] = sb->st_ino;
	st->ino_next[idx] = st->ino_head[b];
	st->ino_head[b] = idx;
}

/* Forgets and closes the memory of idx. */
static void data_clear(struct ushm__store *st, int idx)
{
	int *pp;

	if (st->data[idx] < 0)
		return;
	for (pp = &st->ino_head[ino_bucket(st->ino[idx])]; *pp >= 0;
	     pp = &st->ino_next[*pp])
		if (*pp == idx) {
			*pp = st->ino_next[idx];
			break;
		}
	close(st->data[idx]);
	st->data[idx] = -1;
	st->legacy[idx] = 0;
}

int ushm__store_find(const struct ushm__store *st, dev_t dev, ino_t ino)
{
	for (int i = st->ino_head[ino_bucket(ino)]; i >= 0; i = st->ino_next[i])
		if (st->ino[i] == ino && st->dev[i] == dev)
			return i;
	return -1;
}

int ushm__store_dirfd(const struct ushm__store *st)
{
	return st->dirfd;
}

/* Is the daemon named in the state directory's pid file running (not
 * gone, not a zombie)? */
static int holder_running(struct ushm__store *st)
{
	pid_t pid = ushm__pid_file(st->dirfd, "ushmd.pid");
	char state;

	return pid > 0 && ushm__proc_stat(pid, &state, NULL) == 0 &&
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
	st->keeper.fd = -1;
	st->ids_fd = st->ids_seq = -1;
	st->spare_mem = st->spare_kept = st->no_meta_idx = -1;
	for (int i = 0; i < META_OPEN; i++)
		st->meta[i].fd = st->meta[i].idx = -1;
	for (int i = 0; i < USHM__IPCMNI; i++)
		st->data[i] = st->ino_next[i] = -1;
	for (int i = 0; i < INO_BUCKETS; i++)
		st->ino_head[i] = -1;
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
	err = ushm__keeper_open(&st->keeper, st->dirfd);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "cannot reach or start the keeper: %s",
			  strerror(-err));
		goto fail_lock;
	}
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
	/* (What is owed to the keeper, and the spare it holds, first.) */
	ushm__store_release(st);
	/* The keeper keeps the memory: segments outlive the daemon. */
	ushm__keeper_close(&st->keeper);
	for (int i = 0; i < USHM__IPCMNI; i++)
		data_clear(st, i);
	if (st->ids_fd >= 0)
		close(st->ids_fd);
	close(st->lockfd);
	close(st->dirfd);
	free(st);
}

static int watch_keeper(struct ushm__store *st)
{
	struct epoll_event ev = { .events = EPOLLRDHUP,
				  .data.ptr = st->keeper_item };

	if (st->epfd <= 0 || st->keeper.fd < 0)
		return 0;
	return epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->keeper.fd, &ev) < 0 ?
		       -errno :
		       0;
}

int ushm__store_watch_keeper(struct ushm__store *st, int epfd, void *item)
{
	st->epfd = epfd;
	st->keeper_item = item;
	return watch_keeper(st);
}

/*
 * After the reply.  A message to the keeper costs the daemon about 2 us
 * (a sendmsg, with a descriptor for a PUT, that wakes another process),
 * and a create and a removal each sent one before answering.  Neither
 * has to come first:
 *  - A removal's DROP: the record is cleared before the reply, and the
 *    next daemon discards memory without a record, so a crash before
 *    the DROP brings nothing back.  DROPs are owed until the daemon
 *    next waits (ushm__store_prepare, _release), and every owed one is
 *    sent before any PUT, so the keeper sees them in the daemon's order.
 *  - A create's PUT: the spare memfd is given to the keeper ahead, as
 *    the index the next create will take (ushm__store_prepare); the
 *    create sizes and seals that very memory, which the keeper holds
 *    as it then is.  A crash before the create has sealed it leaves
 *    the keeper a memfd with no seals (empty, or sized) at an index
 *    without a record, which the next daemon drops without a word
 *    (take_one).
 */
static void drops_send(struct ushm__store *st)
{
	for (int i = 0; i < st->ndrops; i++)
		(void)ushm__keeper_drop(&st->keeper, st->drops[i]);
	st->ndrops = 0;
}

static void drop_later(struct ushm__store *st, int idx)
{
	if (idx == st->spare_kept)
		st->spare_kept = -1;
	if (st->ndrops == DROPS_OWED)
		drops_send(st);
	st->drops[st->ndrops++] = idx;
}

/*
 * The keeper no longer answers (it was killed, or stopped reading):
 * another one is started and given every segment's memory, which this
 * daemon still holds, so nothing is lost.  Until that succeeds, the
 * segments would not survive the daemon's end: said loudly.
 */
int ushm__store_keeper_lost(struct ushm__store *st)
{
	pid_t was = st->keeper.pid;
	int err, n = 0;

	ushm__log(USHM__LOG_ERR, "the keeper (pid %ld) is gone: starting "
		  "another and giving it every segment again", (long)was);
	ushm__keeper_close(&st->keeper);
	err = ushm__keeper_open(&st->keeper, st->dirfd);
	if (err == 0)
		(void)ushm__refuse_rights(st->keeper.fd); /* it sends none */
	/* What was owed, and the spare, dropped first: "another" keeper
	 * may be the one that stalled, reached again, still holding them.
	 * (None of these indexes is a live segment's.) */
	if (err == 0) {
		drops_send(st);
		if (st->spare_kept >= 0)
			(void)ushm__keeper_drop(&st->keeper, st->spare_kept);
	}
	st->ndrops = 0;
	st->spare_kept = -1;
	for (int i = 0; err == 0 && i < USHM__IPCMNI; i++)
		if (st->data[i] >= 0 && !st->legacy[i]) {
			err = ushm__keeper_put(&st->keeper, i, st->data[i]);
			n++;
		}
	if (err == 0)
		err = watch_keeper(st);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "no keeper (%s): segments will be "
			  "lost when this daemon ends; stop it and start it "
			  "again to retry", strerror(-err));
		ushm__keeper_close(&st->keeper);
		return err;
	}
	ushm__log(USHM__LOG_WARN, "keeper pid %ld holds the %d segment(s)",
		  (long)st->keeper.pid, n);
	return 0;
}

/* Gives the keeper fd as idx's memory; once more with a new keeper if
 * the current one does not take it. */
static int keep(struct ushm__store *st, int idx, int fd)
{
	int err;

	drops_send(st);
	err = ushm__keeper_put(&st->keeper, idx, fd);

	if (err < 0 && ushm__store_keeper_lost(st) == 0)
		err = ushm__keeper_put(&st->keeper, idx, fd);
	return err;
}

static void name_of(char *buf, size_t len, int idx, const char *ext)
{
	snprintf(buf, len, "seg-%d.%s", idx, ext);
}

/* Writes payload as generation gen into the slot gen selects; with
 * clear_other, the other slot is cleared in the same write (a file's
 * first record: nothing older may compete with it). */
static int rec_write(int fd, uint32_t gen, const void *payload, size_t len,
		     int clear_other)
{
	struct rec r[2];
	struct rec *mine = &r[gen & 1u];
	ssize_t n;

	memset(r, 0, sizeof(r));
	mine->magic = REC_MAGIC;
	mine->version = REC_VERSION;
	mine->gen = gen;
	mine->len = (uint32_t)len;
	memcpy(mine->payload, payload, len);
	mine->crc = ushm__crc32(mine, offsetof(struct rec, crc));
	if (clear_other)
		n = pwrite(fd, r, sizeof(r), 0);
	else
		n = pwrite(fd, mine, sizeof(*mine),
			   (off_t)(gen & 1u) * REC_SLOT);
	if (n < 0)
		return -errno;
	return n == (clear_other ? (ssize_t)sizeof(r) :
				   (ssize_t)sizeof(*mine)) ?
		       0 :
		       -EIO;
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

/*
 * The ids record: the sequence number ids are made with.  It is written
 * when the sequence moves (once in about 64 creates: registry.c cycles
 * through the indexes), not at every create.  That is enough because a
 * daemon that starts goes on with the next sequence number, from index
 * 0 (load_ids), and writes it before it makes any id: no id a daemon
 * made is made again after a crash, whatever index it had reached.  The
 * file stays open.
 */
int ushm__store_save_ids(struct ushm__store *st, int seq, int last_idx)
{
	struct ids_rec ir = { seq, last_idx };
	int err;

	if (st->ids_fd >= 0 && seq == st->ids_seq)
		return 0;
	if (st->ids_fd < 0) {
		st->ids_fd = openat(st->dirfd, "ids",
				    O_RDWR | O_CREAT | NOFOLLOW_CLOEXEC, 0600);
		if (st->ids_fd < 0)
			return -errno;
	}
	err = rec_write(st->ids_fd, ++st->ids_gen, &ir, sizeof(ir), 0);
	if (err == 0)
		st->ids_seq = seq;
	return err;
}

/*
 * While the daemon is busy, two record files stay open: the last one
 * written (a segment's removal or a change often follows its creation at
 * once) and the one the next create will write (ushm__store_prepare).
 * Opening and closing a file cost twice what its write does.  The daemon
 * alone writes here, so a descriptor stays its file's until the loader's
 * repairs unlink or rename one, which forget it first.  Before the
 * daemon sleeps, ushm__store_release closes them: an idle daemon holds
 * only what its segments and clients need.
 */
static int meta_cached(struct ushm__store *st, int idx)
{
	for (int i = 0; i < META_OPEN; i++)
		if (st->meta[i].fd >= 0 && st->meta[i].idx == idx) {
			st->meta[i].used = ++st->meta_clock;
			return st->meta[i].fd;
		}
	return -1;
}

static void meta_forget(struct ushm__store *st, int idx)
{
	for (int i = 0; i < META_OPEN; i++)
		if (st->meta[i].fd >= 0 && st->meta[i].idx == idx) {
			close(st->meta[i].fd);
			st->meta[i].fd = st->meta[i].idx = -1;
		}
}

/* idx's record file (created if missing with O_CREAT in flags), kept
 * open in place of the one used longest ago.  fd or -errno. */
static int meta_open(struct ushm__store *st, int idx, int flags)
{
	char name[64];
	int fd = meta_cached(st, idx), old = 0;

	if (fd >= 0)
		return fd;
	name_of(name, sizeof(name), idx, "meta");
	fd = openat(st->dirfd, name, O_RDWR | NOFOLLOW_CLOEXEC | flags, 0600);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
		/* What is kept for work ahead must not cost a create. */
		ushm__store_release(st);
		fd = openat(st->dirfd, name, O_RDWR | NOFOLLOW_CLOEXEC | flags,
			    0600);
	}
	if (fd < 0)
		return -errno;
	if (idx == st->no_meta_idx)
		st->no_meta_idx = -1;
	for (int i = 1; i < META_OPEN; i++)
		if (st->meta[i].fd < 0 ||
		    (st->meta[old].fd >= 0 &&
		     st->meta[i].used < st->meta[old].used))
			old = i;
	if (st->meta[old].fd >= 0)
		close(st->meta[old].fd);
	st->meta[old].idx = idx;
	st->meta[old].fd = fd;
	st->meta[old].used = ++st->meta_clock;
	return fd;
}

/* Writes s's next record; its first (meta_gen 0) clears the other slot,
 * which a segment once at this index may have left. */
int ushm__store_save_meta(struct ushm__store *st, struct ushm__segment *s)
{
	int fd = meta_open(st, ushm__id_index(s->m.id), O_CREAT),
	    first = s->meta_gen == 0;

	if (fd < 0)
		return fd;
	return rec_write(fd, ++s->meta_gen, &s->m, sizeof(s->m), first);
}

/* Clears both slots of index idx's record: no segment there any more.
 * The file stays, for the next segment at idx.  0, or -errno. */
static int clear_meta(struct ushm__store *st, int idx)
{
	static const struct rec none[2];
	char name[64];
	ssize_t n;
	int cached = meta_cached(st, idx), fd = cached, err;

	if (fd < 0) {
		name_of(name, sizeof(name), idx, "meta");
		fd = openat(st->dirfd, name, O_WRONLY | NOFOLLOW_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
	}
	n = pwrite(fd, none, sizeof(none), 0);
	err = n < 0 ? -errno : n == (ssize_t)sizeof(none) ? 0 : -EIO;
	if (cached < 0)
		close(fd);
	return err;
}

static int new_memory(void)
{
	return memfd_create("ushm-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

/* A sealed memfd of size bytes (the spare one if made): -EINVAL when the
 * size is impossible, -ENOMEM when memory or descriptors are short. */
static int sealed_memory(struct ushm__store *st, uint64_t size)
{
	int fd = st->spare_mem;
	int err;

	st->spare_mem = -1;
	if (fd < 0) {
		fd = new_memory();
		/* What is kept for work ahead must not cost a create. */
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			ushm__store_release(st);
			fd = new_memory();
		}
	}
	if (fd < 0)
		return -ENOMEM;
	if (size > (uint64_t)INT64_MAX || ftruncate(fd, (off_t)size) < 0) {
		err = size > (uint64_t)INT64_MAX || errno == EFBIG ||
				      errno == EINVAL ?
			      -EINVAL :
			      -ENOMEM;
		close(fd);
		return err;
	}
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

int ushm__store_create(struct ushm__store *st, struct ushm__segment *s)
{
	char name[64];
	struct stat sb;
	int fd, err, kept, idx = ushm__id_index(s->m.id);

	/* An old-format file of a removal cut short. */
	if (st->stray_data[idx]) {
		name_of(name, sizeof(name), idx, "data");
		if (unlinkat(st->dirfd, name, 0) == 0 || errno == ENOENT)
			st->stray_data[idx] = 0;
	}
	data_clear(st, idx);
	st->creating = 1;
	/* (The spare, if any, is what sealed_memory uses.) */
	kept = st->spare_mem >= 0 ? st->spare_kept : -1;
	sb.st_dev = st->spare_dev;
	sb.st_ino = st->spare_ino;
	st->spare_kept = -1;
	fd = sealed_memory(st, s->m.segsz);
	if (fd >= 0 && kept != idx && fstat(fd, &sb) < 0) {
		close(fd);
		fd = -ENOMEM;
	}
	if (kept >= 0 && (fd < 0 || kept != idx))
		drop_later(st, kept);
	if (fd < 0)
		return fd;
	/* The keeper first: a record is never written for memory that
	 * would not survive the daemon. */
	if (kept != idx && keep(st, idx, fd) < 0) {
		close(fd);
		return -ENOMEM;
	}
	data_set(st, idx, fd, &sb, 0);
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->meta_gen = 0;
	err = ushm__store_save_meta(st, s);
	if (err < 0) {
		(void)ushm__keeper_drop(&st->keeper, idx);
		data_clear(st, idx);
		(void)clear_meta(st, idx); /* a part written, maybe */
		return -ENOSPC;
	}
	return 0;
}

void ushm__store_prepare(struct ushm__store *st, int next_idx)
{
	/* Not for a daemon that serves no creates: a memfd made and closed
	 * around every other request would be work for nothing.  (Failing
	 * here costs nothing: the create does it then.)  A record file is
	 * not made ahead: an index never used has none, and an empty file
	 * would look like a record left behind. */
	struct stat sb;

	drops_send(st);
	if (!st->creating)
		return;
	if (st->spare_mem < 0) {
		st->spare_mem = new_memory();
		st->spare_kept = -1;
	}
	if (st->spare_mem >= 0 && next_idx >= 0 && st->spare_kept != next_idx &&
	    fstat(st->spare_mem, &sb) == 0) {
		if (st->spare_kept >= 0)
			(void)ushm__keeper_drop(&st->keeper, st->spare_kept);
		st->spare_kept = -1;
		/* (Not taken: the create gives it, and finds a lost keeper.) */
		if (ushm__keeper_put(&st->keeper, next_idx, st->spare_mem) ==
		    0) {
			st->spare_kept = next_idx;
			st->spare_dev = sb.st_dev;
			st->spare_ino = sb.st_ino;
		}
	}
	if (next_idx >= 0 && next_idx != st->no_meta_idx &&
	    meta_open(st, next_idx, 0) == -ENOENT)
		st->no_meta_idx = next_idx;
}

void ushm__store_release(struct ushm__store *st)
{
	st->creating = 0;
	drops_send(st);
	if (st->spare_kept >= 0)
		(void)ushm__keeper_drop(&st->keeper, st->spare_kept);
	st->spare_kept = -1;
	if (st->spare_mem >= 0) {
		close(st->spare_mem);
		st->spare_mem = -1;
	}
	for (int i = 0; i < META_OPEN; i++)
		meta_forget(st, st->meta[i].idx);
}

int ushm__store_remove(struct ushm__store *st, const struct ushm__segment *s)
{
	char name[64];
	int idx = ushm__id_index(s->m.id), err;

	/* The record first: while it is there, the segment is. */
	err = clear_meta(st, idx);
	if (err < 0) {
		name_of(name, sizeof(name), idx, "meta");
		ushm__log(USHM__LOG_ERR, "clearing %s: %s; the segment is "
			  "kept", name, strerror(-err));
		return err;
	}
	if (st->legacy[idx]) {
		name_of(name, sizeof(name), idx, "data");
		if (unlinkat(st->dirfd, name, 0) < 0) {
			st->stray_data[idx] = 1;
			ushm__log(USHM__LOG_WARN, "unlink %s: %s (removed at "
				  "the next start)", name, strerror(errno));
		}
	} else if (st->data[idx] >= 0) {
		drop_later(st, idx);
	}
	data_clear(st, idx);
	return 0;
}

int ushm__store_open_data(struct ushm__store *st, const struct ushm__segment *s,
			  int rdonly)
{
	char path[64];
	int fd, idx = ushm__id_index(s->m.id);

	if (st->data[idx] < 0)
		return -EIDRM;
	/* A description of its own, with the access asked for: a
	 * read-only one cannot be made writable by any mprotect. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", st->data[idx]);
	fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

uint64_t ushm__store_resident(struct ushm__store *st,
			      const struct ushm__segment *s)
{
	struct stat sb;
	int idx = ushm__id_index(s->m.id);

	if (st->data[idx] < 0 || fstat(st->data[idx], &sb) < 0)
		return 0;
	return (uint64_t)sb.st_blocks * 512;
}

uint64_t ushm__store_on_fs(struct ushm__store *st,
			   const struct ushm__segment *s)
{
	return st->legacy[ushm__id_index(s->m.id)] ?
		       ushm__store_resident(st, s) :
		       0;
}

/* Copies memfd's bytes into a new file name of the state directory.
 * 0, or -errno (the partial copy is removed). */
static int copy_out(struct ushm__store *st, int memfd, const char *name)
{
	struct stat sb;
	off_t off = 0;
	int out, err = 0;

	if (fstat(memfd, &sb) < 0)
		return -errno;
	out = openat(st->dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
					      NOFOLLOW_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	while (off < sb.st_size) {
		ssize_t n = sendfile(out, memfd, &off,
				     (size_t)(sb.st_size - off));

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
	}
	close(out);
	if (err < 0)
		unlinkat(st->dirfd, name, 0);
	return err;
}

/*
 * A segment whose record cannot be trusted (both slots damaged, or not
 * matching its memory) is not served: guessing its owner or mode would
 * hand its bytes to the wrong users.  A creation cut short left nothing
 * to lose, so it goes; bytes that were written are kept aside
 * (seg-N.data.damaged, a file) for the administrator, never deleted.
 */
static void drop(struct ushm__store *st, int idx)
{
	char meta[64], data[64], aside[80];
	struct stat sb;
	int kept = 0, fd = st->data[idx];

	meta_forget(st, idx);
	name_of(meta, sizeof(meta), idx, "meta");
	name_of(data, sizeof(data), idx, "data");
	snprintf(aside, sizeof(aside), "%s.damaged", data);
	if (fd >= 0 && !st->legacy[idx]) {
		if (fstat(fd, &sb) == 0 && sb.st_blocks > 0)
			kept = copy_out(st, fd, aside) == 0;
		(void)ushm__keeper_drop(&st->keeper, idx);
	}
	data_clear(st, idx);
	if (!kept && fstatat(st->dirfd, data, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_blocks > 0)
		kept = renameat(st->dirfd, data, st->dirfd, aside) == 0;
	if (kept) {
		snprintf(aside, sizeof(aside), "%s.damaged", meta);
		renameat(st->dirfd, meta, st->dirfd, aside);
		ushm__log(USHM__LOG_ERR, "%s: no valid record; not served, its "
			  "bytes kept in %s.damaged", meta, data);
		return;
	}
	ushm__log(USHM__LOG_ERR, "%s: no valid record or data; dropped", meta);
	unlinkat(st->dirfd, meta, 0);
	unlinkat(st->dirfd, data, 0);
}

/*
 * An old-format data file whose size is not its record's: a client with
 * a writable descriptor truncated or extended it.  The record is the
 * truth (the size a segment has for its life): the file is set back to
 * it, keeping every byte the segment has, and the repair is logged.  The
 * segment is never dropped for it.
 */
static int resize(int fd, const char *data, const struct ushm__segment *s,
		  struct stat *sb)
{
	if (ftruncate(fd, (off_t)s->m.segsz) < 0 || fstat(fd, sb) < 0) {
		ushm__log(USHM__LOG_ERR, "%s: cannot set it back to its "
			  "size (%s)", data, strerror(errno));
		return -errno;
	}
	ushm__log(USHM__LOG_WARN, "%s: a client changed its size; set back "
		  "to the segment's %llu bytes", data,
		  (unsigned long long)s->m.segsz);
	return 0;
}

/* The memory of idx when the keeper had none: an old-format data file,
 * served as it is.  1 found, 0 none, -errno. */
static int adopt_file(struct ushm__store *st, int idx,
		      const struct ushm__segment *s)
{
	char data[64];
	struct stat sb;
	int fd;

	name_of(data, sizeof(data), idx, "data");
	fd = openat(st->dirfd, data, O_RDWR | NOFOLLOW_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    ((uint64_t)sb.st_size != s->m.segsz &&
	     resize(fd, data, s, &sb) < 0)) {
		close(fd);
		return -ENOMEM;
	}
	data_set(st, idx, fd, &sb, 1);
	ushm__log(USHM__LOG_INFO, "%s: a segment of an earlier ushm, served "
		  "from its file (not sealed) until it is removed", data);
	return 1;
}

/* Loads seg-N.meta into a new segment, with its memory. */
static int load_one(struct ushm__store *st, struct ushm__registry *r, int idx,
		    int *lost)
{
	char meta[64], data[64];
	struct ushm__segment *s;
	struct stat sb;
	int fd, torn = 0, err, short_file;
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
	/* (Whether it is shorter than a cleared one: see below.) */
	short_file = gen == -ENOENT && !torn && fstat(fd, &sb) == 0 &&
		     sb.st_size < (off_t)(2 * REC_SLOT);
	close(fd);
	if (gen == -ENOENT && !torn) {
		/* Cleared (or never written): a segment removed, or a
		 * creation cut short.  Any memory the keeper still has for
		 * idx is discarded with the other orphans.  A creation cut
		 * between making the file and writing it left it empty: it
		 * is cleared now, so that every free index looks the same
		 * (a file of zeroes). */
		free(s);
		if (short_file && (err = clear_meta(st, idx)) < 0)
			ushm__log(USHM__LOG_WARN, "%s: an empty record could "
				  "not be cleared (%s)", meta, strerror(-err));
		return 0;
	}
	if (gen >= 0 && ushm__id_index(s->m.id) == idx && s->m.id >= 0 &&
	    st->data[idx] < 0 && (err = adopt_file(st, idx, s)) <= 0) {
		free(s);
		if (err < 0)
			return err;
		/* No memory anywhere: the keeper ended while no daemon
		 * ran (or the machine restarted under a kept state).  As
		 * after a reboot, the segment is gone. */
		ushm__log(USHM__LOG_ERR, "%s: the segment's memory is gone "
			  "(its keeper ended while no daemon ran); its record "
			  "is removed", meta);
		meta_forget(st, idx);
		unlinkat(st->dirfd, meta, 0);
		(*lost)++;
		return 0;
	}
	if (gen < 0 || ushm__id_index(s->m.id) != idx || s->m.id < 0 ||
	    fstat(st->data[idx], &sb) < 0 ||
	    (uint64_t)sb.st_size != s->m.segsz) {
		free(s);
		drop(st, idx);
		return 0;
	}
	if (!st->legacy[idx] && faccessat(st->dirfd, data, F_OK,
					  AT_SYMLINK_NOFOLLOW) == 0) {
		char aside[80];

		/* Both: an old file beside the sealed memory that serves
		 * the segment; kept aside, never deleted. */
		snprintf(aside, sizeof(aside), "%s.damaged", data);
		renameat(st->dirfd, data, st->dirfd, aside);
		ushm__log(USHM__LOG_WARN, "%s: not the segment's memory; kept "
			  "in %s", data, aside);
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

/* A descriptor the keeper gave back: kept if it is what store_create
 * made (a memfd with exactly our seals), once per index. */
static void take_one(void *arg, int idx, int fd)
{
	struct ushm__store *st = arg;
	struct stat sb;
	int seals = fcntl(fd, F_GET_SEALS);
	int in_range = idx >= 0 && idx < USHM__IPCMNI && st->data[idx] < 0;

	/* Memory with no seals was never a segment's: a spare given ahead
	 * of a create that never came (ushm__store_prepare), or sized by
	 * one cut short before it sealed it.  Dropped without a word once
	 * the list is read, as is what is refused below: the keeper must
	 * not hold it for ever. */
	if (in_range && seals == 0) {
		close(fd);
		drop_later(st, idx);
		return;
	}
	if (!in_range || seals != SEALS || fstat(fd, &sb) < 0 ||
	    !S_ISREG(sb.st_mode)) {
		if (in_range) {
			ushm__log(USHM__LOG_WARN, "the keeper's memory for "
				  "segment %d is not sealed memory: ignored",
				  idx);
			drop_later(st, idx);
		}
		close(fd);
		return;
	}
	data_set(st, idx, fd, &sb, 0);
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

	/* Kept open for the writes to come (seed_ids opens it when it is
	 * missing): the daemon's descriptors do not change with its
	 * first shmget. */
	fd = openat(st->dirfd, "ids", O_RDWR | NOFOLLOW_CLOEXEC);
	if (fd < 0) {
		seed_ids(st, r);
		return;
	}
	gen = rec_read(fd, &ir, sizeof(ir), &torn);
	if (st->ids_fd < 0)
		st->ids_fd = fd;
	else
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
	/* The next sequence number (see ushm__store_save_ids), which the
	 * first create writes before it makes an id: one that cannot
	 * write it fails rather than risk an id made before. */
	r->seq = ir.seq + 1 < USHM__SEQ_MAX ? ir.seq + 1 : 0;
	r->last_idx = -1;
	st->ids_seq = -1;
}

int ushm__store_load_records(struct ushm__store *st,
			     struct ushm__registry *r)
{
	struct dirent *de;
	DIR *d;
	int fd, err = 0, lost = 0;

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
		err = load_one(st, r, idx, &lost);
		if (err < 0)
			break;
	}
	closedir(d);
	/* Slots were filled here, not through the registry's functions. */
	ushm__registry_loaded(r);
	if (err < 0)
		return err;
	if (lost)
		ushm__log(USHM__LOG_ERR, "%d segment(s) lost: their keeper "
			  "ended while no daemon ran (see %s in ushmd(8))",
			  lost, USHM__KEEPER_SOCK);
	return 0;
}

/*
 * Start-up: takes back from the keeper every segment's memory, then
 * reads every seg-N.meta.  The work is bounded by what the directory
 * holds: one pass over its entries (names that are not seg-N.meta with N
 * below USHM__IPCMNI cost a sscanf), one record of 256 bytes and one
 * descriptor per segment; only the daemon's user can write there.
 */
int ushm__store_load(struct ushm__store *st, struct ushm__registry *r)
{
	struct dirent *de;
	DIR *d;
	int fd, err;

	err = ushm__keeper_take_all(&st->keeper, take_one, st);
	if (err == -ECONNRESET || err == -EPIPE) {
		/* A keeper that held nothing ends when its daemon goes:
		 * this connection may have been queued as it did.  (One
		 * killed meanwhile had its segments lost anyway.) */
		ushm__keeper_close(&st->keeper);
		err = ushm__keeper_open(&st->keeper, st->dirfd);
		if (err == 0)
			err = ushm__keeper_take_all(&st->keeper, take_one, st);
	}
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "the keeper (pid %ld) does not give "
			  "the segments back (%s): if it is stopped, continue "
			  "it; to discard every segment, remove %s",
			  (long)st->keeper.pid, strerror(-err),
			  USHM__KEEPER_SOCK);
		return err;
	}
	/* The keeper has nothing more to give: the kernel refuses any
	 * descriptor it would send from now on (where it can). */
	(void)ushm__refuse_rights(st->keeper.fd);
	drops_send(st);
	err = ushm__store_load_records(st, r);
	if (err < 0)
		return err;
	/* Memory without a record: a creation or a removal cut short. */
	for (int i = 0; i < USHM__IPCMNI; i++)
		if (st->data[i] >= 0 && !r->slot[i]) {
			ushm__log(USHM__LOG_INFO, "segment %d: memory without "
				  "metadata; discarded", i);
			if (!st->legacy[i])
				(void)ushm__keeper_drop(&st->keeper, i);
			data_clear(st, i);
		}
	/* Old-format data files without metadata: the same. */
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
		if (unlinkat(st->dirfd, de->d_name, 0) < 0 && errno != ENOENT)
			st->stray_data[idx] = 1;
	}
	closedir(d);
	return 0;
}
