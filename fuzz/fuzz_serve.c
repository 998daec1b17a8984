/*
 * fuzz_serve.c - libFuzzer target for ushmd's request handling, end to
 * end, inside one process.
 *
 * Each input gets a server of its own, opened by the daemon's own
 * ushm__server_open (server.c): a store in a fresh state directory, a
 * registry with small limits and a listening SEQPACKET socket (abstract,
 * so no path to clean up), without the daemon's signal handling (the
 * process's signals are libFuzzer's) and without publishing the table.
 * Up to FS_CLIENTS client sockets of this process connect to it and send
 * the input's messages (serve_input.h), with the credentials,
 * descriptors and hang-ups the input asks for.  The harness's pump()
 * runs the daemon's own loop, ushm__server_pass, with a zero timeout
 * (accept, serve one request per client per pass, departures first), so
 * what runs is what runs in ushmd.  Replies are read back, checked with
 * ushm__rep_check (what the daemon sends, the library must accept),
 * descriptors in them mapped when asked and closed.
 *
 * After every pass the registry's books must balance (see
 * check_invariants); at the end of the input, once every client has
 * gone, no attachment may be left, the daemon's descriptors must be back
 * to what it had before the first client, what is on disk must load back
 * into the same table, and once the server is torn down the process must
 * hold exactly the descriptors it held before.  Nothing survives from one
 * input to the next (the state directory is removed), so every crash
 * reproduces from its input alone.
 */
#define _GNU_SOURCE
#include "daemon/server.h"
#include "proto/cmsg.h"
#include "serve_input.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A broken property is a crash: libFuzzer keeps the input. */
#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_serve: %s:%d: %s\n",         \
				__FILE__, __LINE__, #cond);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* Passes one pump may take: far more than any input can queue. */
#define MAX_PASSES 4096
#define MAX_MAPS 64
/* Indexes the registry can hand out here: it cycles through the first
 * max(in_use * 3/2, 64) (registry.c), and SHMMNI is at most 16.  The
 * checks look at these only; walking all 32768 slots after every pass,
 * instrumented, would take most of the time. */
#define SLOTS_USED 64

struct client {
	int fd;     /* -1: none */
	int map;    /* mmap the descriptors its replies carry */
};

static struct ushm__server srv;
static struct client clients[FS_CLIENTS];
static struct {
	void *addr;
	size_t len;
} maps[MAX_MAPS];
static int nmaps;

static char base_dir[PATH_MAX];  /* this process's scratch directory */
static char state_dir[PATH_MAX]; /* the state directory of each input */
static struct sockaddr_un listen_addr;
/* The kernel refuses descriptors sent to the server (SO_PASSRIGHTS, as
 * main.c sets it): a message with one must then never be delivered. */
static int rights_refused;
static socklen_t listen_len;
static int devnull = -1;         /* the daemon's log; descriptors to send */
static int is_root;
static long page_size;

/* ---- scratch directory ---- */

/* Removes every file of dir, then dir (the store makes no subdirs). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			CHECK(unlinkat(dirfd(d), de->d_name, 0) == 0);
	closedir(d);
	CHECK(rmdir(dir) == 0);
}

static void remove_base(void)
{
	remove_dir(state_dir);
	rmdir(base_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	/* A reply to a client that has gone must not kill the process,
	 * as it does not kill ushmd (main.c ignores SIGPIPE too). */
	signal(SIGPIPE, SIG_IGN);
	/* /dev/shm is a tmpfs like the daemon's default state directory,
	 * and fast; TMPDIR (make check's scratch area) comes first. */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base_dir, sizeof(base_dir), "%s/ushm-fuzz.XXXXXX", tmp);
	CHECK(mkdtemp(base_dir) != NULL);
	snprintf(state_dir, sizeof(state_dir), "%s/state", base_dir);
	atexit(remove_base);

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(devnull >= 0);
	/* Every log line is formatted (its code runs), none is kept. */
	ushm__log_setup(USHM__LOG_DEBUG, devnull, -1);
	is_root = geteuid() == 0;
	page_size = sysconf(_SC_PAGESIZE);
	CHECK(page_size > 0);

	listen_addr.sun_family = AF_UNIX;
	/* Abstract: nothing in the filesystem, one name per process. */
	snprintf(listen_addr.sun_path + 1, sizeof(listen_addr.sun_path) - 1,
		 "ushm-fuzz-%ld", (long)getpid());
	listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				 strlen(listen_addr.sun_path + 1));
	for (int k = 0; k < FS_CLIENTS; k++)
		clients[k].fd = -1;
	return 0;
}

/* ---- the server: the daemon's own open and close (server.c) ---- */

/* The lowest descriptor not in use. */
static int lowest_free_fd(void)
{
	int fd = fcntl(devnull, F_DUPFD_CLOEXEC, 0);

	CHECK(fd >= 0);
	close(fd);
	return fd;
}

/* The listening socket, as main.c would be handed one by systemd. */
static int listener(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);

	CHECK(fd >= 0);
	rights_refused = ushm__refuse_rights(fd);
	CHECK(rights_refused >= 0);
	CHECK(bind(fd, (struct sockaddr *)&listen_addr, listen_len) == 0);
	CHECK(listen(fd, 16) == 0);
	return fd;
}

/* The store (loaded: empty at first, the previous daemon's after a
 * restart), the epoll sets, recovery, the listener. */
static void server_setup(uint8_t cfg)
{
	struct ushm__limits lim = {
		.shmmax = 1u << 20,
		.shmall = (cfg & FS_CFG_SMALL) ? 16 : 1024,
		.shmmni = (cfg & FS_CFG_SMALL) ? 4 : 16,
		.quota_segments = (cfg & FS_CFG_QUOTA) ? 3 : 0,
		.quota_bytes =
			(cfg & FS_CFG_QUOTA) ? 8 * (uint64_t)page_size : 0,
		.owner_uid = (cfg & FS_CFG_OWNER) ? 1000 : geteuid(),
	};
	char name[sizeof(listen_addr.sun_path) + 1];
	struct ushm__server_conf conf = {
		.state_dir = state_dir,
		.socket_path = name,
		.lim = &lim,
		.max_conns_per_uid = 2,
		.log_level = USHM__LOG_DEBUG,
		/* The daemon's signals, its table and its log file are
		 * not the harness's. */
		.flags = 0,
	};

	snprintf(name, sizeof(name), "@%s", listen_addr.sun_path + 1);
	conf.listen_fd = listener();
	CHECK(ushm__server_open(&srv, &conf) == 0);
	CHECK(srv.reserve_fd >= 0);
	/* Room for one client (its socket, its connection), then
	 * connections are refused as by a daemon short of descriptors. */
	if (cfg & FS_CFG_FD_CEILING)
		srv.fd_ceiling = lowest_free_fd() + 3;
}

/* As ushmd stops; the state directory stays for a restart. */
static void server_free(void)
{
	ushm__server_close(&srv);
	CHECK(srv.conns == NULL && srv.orphans == NULL);
}

/* ---- invariants ---- */

static uint32_t held(int id)
{
	uint32_t n = 0;

	for (const struct ushm__conn *c = srv.conns; c; c = c->next)
		if (!c->dead)
			n += ushm__holds_count(&c->holds, id);
	for (const struct ushm__orphan *o = srv.orphans; o; o = o->next)
		if (!o->dead)
			n += ushm__holds_count(&o->holds, id);
	return n;
}

/* Pages uid has locked, counted from the segments. */
static uint64_t locked_by(uid_t uid)
{
	uint64_t n = 0;

	for (int i = 0; i < SLOTS_USED; i++) {
		const struct ushm__segment *s = srv.reg.slot[i];

		if (s && (s->m.mode & USHM__SHM_LOCKED) && s->m.lock_uid == uid)
			n += ushm__pages(&srv.reg, s->m.segsz);
	}
	return n;
}

/* The books after every pass of the loop. */
static void check_invariants(void)
{
	uint64_t live = 0, pages = 0;
	int in_use = 0;

	for (const struct ushm__conn *c = srv.conns; c; c = c->next) {
		live += !c->dead;
		if (c->dead)
			continue;
		/* A live holder holds only segments that exist. */
		for (size_t i = 0; i < c->holds.n; i++) {
			CHECK(c->holds.v[i].count > 0);
			CHECK(ushm__registry_find_id(&srv.reg,
						     c->holds.v[i].id));
		}
	}
	CHECK(live == srv.nconns);
	for (int i = 0; i < SLOTS_USED; i++) {
		const struct ushm__segment *s = srv.reg.slot[i];

		if (!s)
			continue;
		in_use++;
		pages += ushm__pages(&srv.reg, s->m.segsz);
		CHECK(s->m.id >= 0 && ushm__id_index(s->m.id) == i);
		CHECK(s->m.segsz >= 1 && s->m.segsz <= srv.reg.lim.shmmax);
		CHECK((s->m.mode & ~(0777u | USHM__SHM_DEST |
				     USHM__SHM_LOCKED)) == 0);
		/* Once the daemon stops, closing a connection detaches
		 * nothing (the mappings outlive it): no books to keep. */
		if (srv.stopping)
			continue;
		/* nattch is the sum over the holders (server.h). */
		CHECK(s->nattch == held(s->m.id));
		/* A removed segment goes with its last attachment. */
		if (s->m.mode & USHM__SHM_DEST) {
			CHECK(s->nattch > 0);
			CHECK(s->m.key == IPC_PRIVATE);
		} else if (s->m.key != IPC_PRIVATE) {
			/* A key names one live segment. */
			for (int j = i + 1; j < SLOTS_USED; j++) {
				const struct ushm__segment *t =
					srv.reg.slot[j];

				CHECK(!t || (t->m.mode & USHM__SHM_DEST) ||
				      t->m.key != s->m.key);
			}
		}
	}
	/* (So no segment is beyond SLOTS_USED either.) */
	CHECK(in_use == srv.reg.in_use);
	CHECK(pages == srv.reg.shm_tot);
	CHECK((uint64_t)in_use <= srv.reg.lim.shmmni);
	CHECK(pages <= srv.reg.lim.shmall);
	/* Locked pages, per user, as the segments say. */
	for (size_t i = 0; i < srv.reg.nmemlock; i++) {
		CHECK(srv.reg.memlock[i].pages > 0);
		CHECK(srv.reg.memlock[i].pages ==
		      locked_by(srv.reg.memlock[i].uid));
		for (size_t j = i + 1; j < srv.reg.nmemlock; j++)
			CHECK(srv.reg.memlock[i].uid !=
			      srv.reg.memlock[j].uid);
	}
	for (int i = 0; i < SLOTS_USED; i++) {
		const struct ushm__segment *s = srv.reg.slot[i];

		if (s && (s->m.mode & USHM__SHM_LOCKED))
			CHECK(ushm__memlock_get(&srv.reg, s->m.lock_uid) > 0);
	}
}

/* What is on disk loads back into the table in memory: every change was
 * saved (a restarted daemon would see exactly this). */
static void check_store(void)
{
	struct ushm__registry r2;

	ushm__registry_init(&r2, &srv.reg.lim, srv.store);
	/* The records only: the memory was taken from the keeper once, at
	 * start-up, and the keeper gives nothing twice. */
	CHECK(ushm__store_load_records(srv.store, &r2) == 0);
	CHECK(r2.in_use == srv.reg.in_use);
	CHECK(r2.shm_tot == srv.reg.shm_tot);
	/* A load goes on with the sequence number after the one last
	 * written: the daemon's own when it made no id since it loaded,
	 * else the next (or, after a create that failed once it had
	 * written a new one, the one after). */
	CHECK(r2.last_idx == -1);
	CHECK((r2.seq - srv.reg.seq + USHM__SEQ_MAX) % USHM__SEQ_MAX <= 2);
	for (int i = 0; i < SLOTS_USED; i++) {
		const struct ushm__segment *a = srv.reg.slot[i];
		const struct ushm__segment *b = r2.slot[i];

		CHECK(!a == !b);
		if (!a)
			continue;
		CHECK(memcmp(&a->m, &b->m, sizeof(a->m)) == 0);
		CHECK(a->meta_gen == b->meta_gen);
		CHECK(a->dev == b->dev && a->ino == b->ino);
	}
	CHECK(r2.nmemlock == srv.reg.nmemlock);
	for (size_t i = 0; i < r2.nmemlock; i++)
		CHECK(ushm__memlock_get(&srv.reg, r2.memlock[i].uid) ==
		      r2.memlock[i].pages);
	ushm__registry_free(&r2);
}

/* ---- clients ---- */

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
}

static void unmap_oldest(void)
{
	if (nmaps == 0)
		return;
	CHECK(munmap(maps[0].addr, maps[0].len) == 0);
	memmove(&maps[0], &maps[1], (size_t)(nmaps - 1) * sizeof(maps[0]));
	nmaps--;
}

/* A descriptor a reply carried: an AT's segment. */
static void reply_fd(struct client *cl, const struct ushm__rep *rep, int fd)
{
	struct stat sb;
	void *p;

	/* The daemon hands out the segment's file, at the segment's size. */
	CHECK(fstat(fd, &sb) == 0);
	CHECK(S_ISREG(sb.st_mode));
	CHECK((uint64_t)sb.st_size == rep->segsz);
	if (cl->map && nmaps < MAX_MAPS) {
		p = mmap(NULL, rep->segsz, PROT_READ, MAP_SHARED, fd, 0);
		CHECK(p != MAP_FAILED);
		maps[nmaps].addr = p;
		maps[nmaps++].len = rep->segsz;
	}
	close(fd);
}

/* Reads every reply queued for cl; closes cl at the daemon's hang-up. */
static void drain(struct client *cl)
{
	while (cl->fd >= 0) {
		union {
			struct ushm__rep rep;
			char buf[USHM__MSG_MAX];
		} m;
		union {
			char buf[CMSG_SPACE(16 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { m.buf, sizeof(m.buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		int fds[16], nfds = 0;
		ssize_t n = recvmsg(cl->fd, &mh,
				    MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* the daemon closed it */
			client_close(cl);
			return;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k;

			/* The daemon sends descriptors and nothing else. */
			CHECK(cm->cmsg_level == SOL_SOCKET &&
			      cm->cmsg_type == SCM_RIGHTS);
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k && nfds < 16; i++)
				memcpy(&fds[nfds++],
				       CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
		}
		CHECK(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)));
		/* Whatever the request, the reply passes the library's
		 * check (against the op it names: an unknown op's
		 * EINVAL echoes it). */
		CHECK(ushm__rep_check(m.buf, (size_t)n, nfds, m.rep.hdr.op) ==
		      0);
		CHECK(nfds <= 1);
		if (nfds == 1)
			reply_fd(cl, &m.rep, fds[0]);
	}
}

static void drain_all(void)
{
	for (int k = 0; k < FS_CLIENTS; k++)
		drain(&clients[k]);
}

/* ---- the loop ---- */

/* The most one pass of the loop may take (a sanitizer build is slow):
 * no request may cost the daemon more than what its caller holds, and
 * none may block it (a /proc scan of every holder, a descriptor whose
 * close waits) -- a pass past this is a stall every user would feel. */
#define PASS_BOUND_NS (2 * 1000000000LL)

static long long mono_ns(void)
{
	struct timespec ts;

	CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The daemon's passes (server.c), without blocking, until nothing is
 * ready: the barrier (departures, new clients, what parents queued for
 * their children) first, then one request per client.  As the daemon's
 * loop does, the next create is prepared after a pass that replied, and
 * what that holds is let go when nothing is left (before it sleeps). */
static void pump(void)
{
	for (int pass = 0; pass < MAX_PASSES && !srv.stopping; pass++) {
		long long t0 = mono_ns();
		uint64_t replies = srv.replies;
		int n = ushm__server_pass(&srv, 0);

		if (n == -EINTR)
			continue;
		CHECK(n >= 0);
		if (n == 0)
			break;
		/* Time per request is an invariant too. */
		CHECK(mono_ns() - t0 < PASS_BOUND_NS);
		if (srv.replies != replies)
			ushm__registry_prepare(&srv.reg);
		drain_all();
		check_invariants();
	}
	ushm__registry_idle(&srv.reg);
	drain_all();
	check_invariants();
}

/* ---- actions ---- */

static void client_connect(struct client *cl)
{
	client_close(cl);
	cl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(cl->fd >= 0);
	/* The backlog (16) always has room: pump() accepts each one. */
	CHECK(connect(cl->fd, (struct sockaddr *)&listen_addr, listen_len) ==
	      0);
	pump();
}

/* Credentials variant v: the fuzzer's own, or (as root, who may send
 * any) another user's. */
static void cred_of(int v, struct ucred *uc)
{
	static const struct {
		uid_t uid;
		gid_t gid;
	} other[4] = { { 0, 0 }, { 1000, 1000 }, { 1001, 1000 },
		       { 1001, 1001 } };

	uc->pid = getpid();
	uc->uid = geteuid();
	uc->gid = getegid();
	if (is_root && v) {
		uc->uid = other[v].uid;
		uc->gid = other[v].gid;
	}
}

static void client_send(struct client *cl, const uint8_t *msg, size_t len,
			int action, int cred)
{
	union {
		char buf[USHM__CMSG_ROOM(1)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct ucred uc, *creds = NULL;
	int fd = -1;
	ssize_t n;

	/* Without SO_PASSRIGHTS, descriptors are closed by the daemon's
	 * closer thread, at its own pace: the descriptor counts this
	 * harness checks could not be exact, so none is sent. */
	if (action == FS_A_SEND_FD && !rights_refused)
		return;
	if (action != FS_A_SEND_NOCREDS) {
		cred_of(cred, &uc);
		creds = &uc;
	}
	if (action == FS_A_SEND_FD) {
		fd = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
		CHECK(fd >= 0);
	}
	CHECK(ushm__cmsg_put(&mh, creds, &fd, fd >= 0) == 0);
	do
		n = sendmsg(cl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (fd >= 0)
		close(fd);
	/* A descriptor never reaches the daemon. */
	if (action == FS_A_SEND_FD)
		CHECK(n < 0);
	/* EAGAIN: requests queued past the socket's buffer are dropped,
	 * as a client's would block; EPIPE and the like: the daemon has
	 * closed this connection. */
	if (n < 0 && errno != EAGAIN && errno != ENOBUFS)
		client_close(cl);
}

/* The harness's header, when FS_FIX asks: the daemon's checks let the
 * message through to the op's code. */
static void fix_header(uint8_t *msg, size_t len)
{
	struct ushm__hdr h;

	if (len < sizeof(h))
		return;
	memcpy(&h, msg, sizeof(h));
	h.magic = USHM__MAGIC;
	h.version = USHM__PROTO_VERSION;
	h.size = (uint32_t)len;
	memcpy(msg, &h, sizeof(h));
}

/* Descriptors the server holds with no client connected and no
 * segment: each segment adds its memory's (store.c: the daemon holds
 * every segment's memfd), so the count is taken less the segments a
 * restarted daemon loaded. */
static uint64_t fds_server;
/* Restarts one input may ask for: each reads every process's maps. */
#define MAX_RESTARTS 2
static int restarts;

/*
 * ushmd stops and starts again on the same state directory: connections
 * end without detaching anything (srv.stopping, as in main.c), the new
 * daemon loads what the old one saved and recovers.  The clients see
 * the hang-up; their next request connects again.
 */
static void restart(uint8_t cfg)
{
	if (restarts >= MAX_RESTARTS)
		return;
	restarts++;
	for (int k = 0; k < FS_CLIENTS; k++)
		client_close(&clients[k]);
	srv.stopping = 1;
	check_store();
	server_free();
	server_setup(cfg);
	check_invariants();
	fds_server = ushm__open_fds() - srv.reg.in_use;
}

static void run_input(const uint8_t *data, size_t size)
{
	size_t pos = 1;

	while (pos < size && !srv.stopping) {
		uint8_t ctl = data[pos++];
		struct client *cl = &clients[FS_CLIENT(ctl)];
		int action = FS_ACTION(ctl);
		uint8_t msg[FS_MSG_MAX];
		size_t len;

		switch (action) {
		case FS_A_HANGUP:
			if (cl->fd >= 0 && (ctl & FS_FIX))
				CHECK(shutdown(cl->fd, SHUT_WR) == 0);
			else
				client_close(cl);
			pump();
			continue;
		case FS_A_UNMAP:
			if (ctl & FS_FIX)
				restart(data[0]);
			else
				unmap_oldest();
			continue;
		case FS_A_RECONNECT:
			client_connect(cl);
			continue;
		}
		if (size - pos < 2)
			break;
		len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		len %= FS_MSG_MAX + 1;
		if (len > size - pos)
			len = size - pos;
		memcpy(msg, data + pos, len);
		pos += len;
		if (ctl & FS_FIX)
			fix_header(msg, len);
		if (cl->fd < 0)
			client_connect(cl);
		if (cl->fd < 0)
			continue;
		cl->map = action == FS_A_SEND_MAP;
		client_send(cl, msg, len, action, FS_CRED(ctl));
		if (action != FS_A_QUEUE)
			pump();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fds_before;

	if (size < 1)
		return 0;
	fds_before = ushm__open_fds();
	restarts = 0;
	server_setup(data[0]);
	CHECK(srv.reg.in_use == 0);
	fds_server = ushm__open_fds();

	run_input(data, size);

	/* Every client goes; the daemon sees the hang-ups. */
	for (int k = 0; k < FS_CLIENTS; k++)
		client_close(&clients[k]);
	pump();
	if (!srv.stopping) {
		ushm__conn_reap(&srv);
		CHECK(srv.nconns == 0 && srv.conns == NULL);
		/* No connection left, no attachment left. */
		for (int i = 0; i < SLOTS_USED; i++)
			CHECK(!srv.reg.slot[i] || srv.reg.slot[i]->nattch == 0);
		CHECK(srv.orphans == NULL);
		/* Whatever the clients did, the daemon holds what it held
		 * before the first one came, and the memory of each segment
		 * they left (segments outlive their creators). */
		CHECK(ushm__open_fds() == fds_server + srv.reg.in_use);
	}
	check_store();
	server_free();
	remove_dir(state_dir);
	while (nmaps > 0)
		unmap_oldest();
	CHECK(ushm__open_fds() == fds_before);
	return 0;
}
