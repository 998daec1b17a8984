/*
 * publish.c - the segment table clients read (src/proto/table.h).
 *
 *   table        the published table, in the state directory
 *   table.new    the next one, while a starting daemon fills it
 *
 * A starting daemon takes atime, dtime and lpid from the table the last
 * daemon left (they are persisted only there), fills a new table with
 * every segment it loaded, and renames it over the old one: a daemon
 * killed while starting leaves the old table, with every time in it.
 *
 * The table's pages are allocated (fallocate) before a row in them is
 * first written: a store to a tmpfs page that cannot be allocated would
 * kill the daemon with SIGBUS, so a full filesystem refuses the shmget
 * that needed the page instead.
 *
 * The watch set is an epoll set of every descriptor the daemon waits on
 * (connections, the listening socket, the pidfds of clients and
 * orphans), which nobody waits on: a client polls it to learn whether
 * the daemon has work pending that could change nattch (see
 * src/lib/table.c).  Clients get it read-only in spirit only: a client
 * may add descriptors of its own to it, which makes it always ready and
 * so only sends every reader to the daemon, whose answers stay right.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TABLE_NAME "table"
#define TABLE_NEW "table.new"
#define PAGE_ROWS(ps) ((ps) / sizeof(struct ushm__table_row))

static struct ushm__table_hdr *hdr(const struct ushm__pub *p)
{
	return p->base;
}

void ushm__pub_init(struct ushm__pub *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = p->ro_fd = p->watch_fd = -1;
	p->base = NULL;
}

/* Is the mapped file a table this version can read? */
static int table_valid(const void *base, uint64_t size)
{
	const struct ushm__table_hdr *h = base;

	return size == USHM__TABLE_SIZE && h->magic == USHM__TABLE_MAGIC &&
	       h->version == USHM__TABLE_VERSION &&
	       h->rows == USHM__TABLE_ROWS &&
	       h->row_size == sizeof(struct ushm__table_row);
}

/*
 * Takes atime, dtime and lpid of each loaded segment from the table the
 * last daemon left, where attaches and detaches stored them.  A row torn
 * by a daemon killed while writing it keeps the record's values (that
 * attach or detach had not answered).
 */
static void take_times(int dirfd, struct ushm__registry *r)
{
	struct stat sb;
	void *old;
	int fd, took = 0;

	fd = openat(dirfd, TABLE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != USHM__TABLE_SIZE) {
		ushm__log(USHM__LOG_WARN, "%s: not a table of this version; "
			  "attach times come from the records", TABLE_NAME);
		close(fd);
		return;
	}
	old = mmap(NULL, USHM__TABLE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (old == MAP_FAILED)
		return;
	if (!table_valid(old, USHM__TABLE_SIZE)) {
		munmap(old, USHM__TABLE_SIZE);
		return;
	}
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		struct ushm__segment *s = r->slot[i];
		struct ushm__table_row row;

		if (!s || !ushm__table_row_read(
				  ushm__table_row_at(old, (uint32_t)i), &row) ||
		    !(row.flags & USHM__ROW_USED) || row.id != s->m.id)
			continue;
		s->m.atime = row.atime;
		s->m.dtime = row.dtime;
		s->m.lpid = row.lpid;
		took++;
	}
	munmap(old, USHM__TABLE_SIZE);
	ushm__log(USHM__LOG_DEBUG, "%d segment(s): times from the table", took);
}

/* Makes sure the page holding row idx exists in the file. */
static int reserve_row(struct ushm__pub *p, uint32_t idx)
{
	size_t ps = (size_t)p->page_size;
	uint64_t off = sizeof(struct ushm__table_hdr) +
		       (uint64_t)idx * sizeof(struct ushm__table_row);
	uint64_t first = off / ps, last = (off + sizeof(struct ushm__table_row) -
					    1) / ps;

	for (uint64_t pg = first; pg <= last; pg++) {
		if (p->have[pg / 64] & (1ull << (pg % 64)))
			continue;
		if (fallocate(p->fd, 0, (off_t)(pg * ps), (off_t)ps) < 0 &&
		    errno != EOPNOTSUPP)
			return errno == ENOSPC || errno == EDQUOT ? -ENOSPC :
								   -ENOMEM;
		p->have[pg / 64] |= 1ull << (pg % 64);
	}
	return 0;
}

int ushm__pub_reserve(struct ushm__pub *p, int idx)
{
	if (!p || !p->base)
		return 0;
	return reserve_row(p, (uint32_t)idx);
}

void ushm__seg_to_row(const struct ushm__segment *s,
		      struct ushm__table_row *row)
{
	memset(row, 0, sizeof(*row));
	row->flags = USHM__ROW_USED;
	row->id = s->m.id;
	row->key = s->m.key;
	row->mode = s->m.mode;
	row->uid = s->m.uid;
	row->gid = s->m.gid;
	row->cuid = s->m.cuid;
	row->cgid = s->m.cgid;
	row->cpid = s->m.cpid;
	row->lpid = s->m.lpid;
	row->segsz = s->m.segsz;
	row->atime = s->m.atime;
	row->dtime = s->m.dtime;
	row->ctime = s->m.ctime;
	row->nattch = s->nattch;
	row->dev = s->dev;
	row->ino = s->ino;
}

/* keys_gen is a sequence lock over which row holds which key: odd while
 * a row gains or loses one (see table.h). */
static void keys_begin(struct ushm__pub *p)
{
	__atomic_fetch_add(&hdr(p)->keys_gen, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void keys_end(struct ushm__pub *p)
{
	__atomic_fetch_add(&hdr(p)->keys_gen, 1, __ATOMIC_RELEASE);
}

void ushm__pub_row(struct ushm__pub *p, const struct ushm__segment *s)
{
	struct ushm__table_row row, *cur;
	int idx, keyed;

	if (!p || !p->base)
		return;
	idx = ushm__id_index(s->m.id);
	ushm__seg_to_row(s, &row);
	cur = ushm__table_row_at(p->base, (uint32_t)idx);
	row.gen = cur->gen; /* the row's own (ushm__pub_gen_begin) */
	/* The daemon is the only writer: its own reads need no lock. */
	keyed = cur->flags != row.flags || cur->id != row.id ||
		cur->key != row.key ||
		((cur->mode ^ row.mode) & USHM__SHM_DEST);
	if (keyed)
		keys_begin(p);
	ushm__table_row_write(cur, &row);
	if (keyed)
		keys_end(p);
	if (idx > hdr(p)->max_idx)
		__atomic_store_n(&hdr(p)->max_idx, idx, __ATOMIC_RELEASE);
}

void ushm__pub_clear(struct ushm__pub *p, int idx, int max_idx)
{
	struct ushm__table_row row;

	if (!p || !p->base)
		return;
	memset(&row, 0, sizeof(row));
	row.gen = ushm__table_row_at(p->base, (uint32_t)idx)->gen;
	keys_begin(p);
	ushm__table_row_write(ushm__table_row_at(p->base, (uint32_t)idx), &row);
	keys_end(p);
	/* Lowered after the row is cleared: a reader scanning up to the
	 * old bound finds it empty. */
	__atomic_store_n(&hdr(p)->max_idx, max_idx, __ATOMIC_RELEASE);
}

/*
 * gen: odd while the daemon changes what decides a shmat of the row's
 * segment.  The fence orders the odd gen before whatever the daemon
 * reads next (the pending messages it then serves): a client that sent
 * its ATTACHED and then reads gen either sees it odd or changed, or its
 * message is among those the daemon finds (src/lib/attach.c).
 */
void ushm__pub_gen_begin(struct ushm__pub *p, int idx)
{
	if (!p || !p->base)
		return;
	__atomic_fetch_add(&ushm__table_row_at(p->base, (uint32_t)idx)->gen, 1,
			   __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void ushm__pub_gen_end(struct ushm__pub *p, int idx)
{
	if (!p || !p->base)
		return;
	__atomic_fetch_add(&ushm__table_row_at(p->base, (uint32_t)idx)->gen, 1,
			   __ATOMIC_RELEASE);
}

/*
 * The epoch is odd from the moment the daemon takes an event from the
 * kernel (reads a request, accepts, handles a hang-up or an exit) until
 * what it does is in the table: in that window the watch set no longer
 * shows the event, and the table does not show it yet.  A reply is sent
 * with the epoch even (whatever the request did is published by then),
 * so that a client that just got its answer finds the table usable.
 */
int ushm__pub_enter(struct ushm__pub *p)
{
	if (!p || !p->base || p->busy)
		return 0;
	p->busy = 1;
	/* Seen before whatever the daemon takes next. */
	__atomic_fetch_add(&hdr(p)->epoch, 1, __ATOMIC_SEQ_CST);
	return 1;
}

int ushm__pub_leave(struct ushm__pub *p)
{
	if (!p || !p->base || !p->busy)
		return 0;
	p->busy = 0;
	__atomic_fetch_add(&hdr(p)->epoch, 1, __ATOMIC_RELEASE);
	return 1;
}

/*
 * Wakes the clients waiting for the epoch to move (a client whose own
 * shmdt or shmat note is still queued waits for the pass that serves it,
 * rather than ask: src/lib/table.c).  A futex on the epoch's low word,
 * which clients wait on through their read-only mapping of the file: a
 * shared futex, keyed by the file, not the address.  Once per pass of
 * the loop; a waiter that read the epoch before a change returns at
 * once (the value differs), so no change is missed.
 */
void ushm__pub_wake(struct ushm__pub *p)
{
	if (!p || !p->base)
		return;
	(void)syscall(SYS_futex, ushm__table_epoch_word(p->base), FUTEX_WAKE,
		      INT_MAX, NULL, NULL, 0);
}

void ushm__pub_slow(struct ushm__pub *p, const char *why)
{
	if (!p || !p->base || hdr(p)->slow)
		return;
	__atomic_store_n(&hdr(p)->slow, 1, __ATOMIC_RELEASE);
	ushm__log(USHM__LOG_WARN, "clients will ask the daemon for every "
		  "shmget and IPC_STAT: %s", why);
}

void ushm__pub_gathering(struct ushm__pub *p, int on)
{
	if (p && p->base)
		__atomic_store_n(&hdr(p)->gathering, (uint32_t)!!on,
				 __ATOMIC_RELEASE);
}

int ushm__pub_watch(struct ushm__pub *p, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = 0 };

	if (!p || p->watch_fd < 0)
		return 0;
	if (epoll_ctl(p->watch_fd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	ushm__pub_slow(p, "the watch set is full (fs.epoll.max_user_watches)");
	return -errno;
}

/*
 * Locks the header's liveness mutex for good (see table.h).  The reader
 * looks at its first word, which must then be our tid: where the C
 * library lays mutexes out otherwise, readers are told to go slow.
 */
static void hold_alive(struct ushm__pub *p)
{
	pthread_mutex_t *m = (pthread_mutex_t *)(void *)hdr(p)->alive;
	pthread_mutexattr_t a;

	_Static_assert(sizeof(pthread_mutex_t) <=
			       sizeof(((struct ushm__table_hdr *)0)->alive),
		       "the mutex fits");
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(m, &a) != 0 || pthread_mutex_lock(m) != 0) {
		ushm__pub_slow(p, "no robust mutex for the daemon's liveness");
		return;
	}
	pthread_mutexattr_destroy(&a);
	p->alive_held = 1;
	if (!ushm__table_daemon_alive(p->base))
		ushm__pub_slow(p, "the C library's mutexes do not hold the "
			       "owner's tid first");
}

/* The table file, filled with every segment r holds, under its final
 * name.  0 or -errno. */
static int create_table(struct ushm__pub *p, int dirfd,
			struct ushm__registry *r)
{
	int err;

	unlinkat(dirfd, TABLE_NEW, 0);
	p->fd = openat(dirfd, TABLE_NEW,
		       O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (p->fd < 0)
		return -errno;
	if (ftruncate(p->fd, (off_t)USHM__TABLE_SIZE) < 0)
		return -errno;
	p->base = mmap(NULL, USHM__TABLE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, p->fd, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return -errno;
	}
	/* The header's page, then every loaded segment's row. */
	if (fallocate(p->fd, 0, 0, p->page_size) < 0 && errno != EOPNOTSUPP)
		return -errno;
	p->have[0] |= 1;
	hdr(p)->magic = USHM__TABLE_MAGIC;
	hdr(p)->version = USHM__TABLE_VERSION;
	hdr(p)->rows = USHM__TABLE_ROWS;
	hdr(p)->row_size = sizeof(struct ushm__table_row);
	hdr(p)->max_idx = -1;
	hdr(p)->daemon_pid = (int32_t)getpid();
	hold_alive(p);
	for (int i = 0, max = ushm__registry_max_idx(r); i <= max; i++) {
		if (!r->slot[i])
			continue;
		if ((err = reserve_row(p, (uint32_t)i)) < 0)
			return err;
		ushm__pub_row(p, r->slot[i]);
	}
	if (renameat(dirfd, TABLE_NEW, dirfd, TABLE_NAME) < 0)
		return -errno;
	p->ro_fd = openat(dirfd, TABLE_NAME,
			  O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return p->ro_fd < 0 ? -errno : 0;
}

int ushm__pub_open(struct ushm__pub *p, int dirfd, struct ushm__registry *r)
{
	long ps = sysconf(_SC_PAGESIZE);
	int err;

	p->page_size = ps > 0 ? (size_t)ps : 4096;
	take_times(dirfd, r);
	err = create_table(p, dirfd, r);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "%s: cannot publish the segment "
			  "table (%s)", TABLE_NAME, strerror(-err));
		ushm__pub_close(p);
		return err;
	}
	r->pub = p;
	p->watch_fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->watch_fd < 0)
		ushm__pub_slow(p, "no epoll set for the watch");
	return 0;
}

int ushm__pub_fds(const struct ushm__pub *p, int fds[2])
{
	if (!p || !p->base || p->ro_fd < 0 || p->watch_fd < 0)
		return -ENOSYS;
	fds[0] = p->ro_fd;
	fds[1] = p->watch_fd;
	return 0;
}

void ushm__pub_close(struct ushm__pub *p)
{
	/* Readers see the daemon gone (and the C library's list of robust
	 * mutexes keeps no entry in memory about to be unmapped). */
	if (p->alive_held && p->base)
		pthread_mutex_unlock((pthread_mutex_t *)(void *)hdr(p)->alive);
	p->alive_held = 0;
	if (p->base)
		munmap(p->base, USHM__TABLE_SIZE);
	p->base = NULL;
	if (p->fd >= 0)
		close(p->fd);
	if (p->ro_fd >= 0)
		close(p->ro_fd);
	if (p->watch_fd >= 0)
		close(p->watch_fd);
	p->fd = p->ro_fd = p->watch_fd = -1;
}
