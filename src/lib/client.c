/*
 * client.c - the process's connection to ushmd.
 *
 * The connection belongs to the process that opened it, with the
 * identity it had then: before each request the library checks both.
 *  - After fork, the child must not share its parent's connection.  The
 *    atfork prepare handler opens a connection for the child and queues
 *    the parent's attachments on it without waiting for the daemon (the
 *    daemon applies them before any later request: "The fork protocol"
 *    in src/daemon/loop.c), so that nattch counts the child as soon as
 *    fork() returns, as on Linux; the child takes the connection over.
 *  - After setuid/setgid/setgroups, the daemon must see the new identity
 *    (SO_PEERCRED and SO_PEERGROUPS are fixed at connect), so the
 *    library reconnects and moves its attachments to the new connection.
 *  - When the daemon dies or is stopped, the next request reconnects
 *    (starting a daemon) and moves the attachments over as well.
 *  - A daemon that does not answer (stopped by a debugger or SIGSTOP,
 *    swamped) is waited for at most USHM_TIMEOUT seconds (default
 *    TIMEOUT_DEFAULT_S) per call, then the call fails with ETIMEDOUT.
 *    The connection is kept: the reply still owed is read (and an
 *    attach it granted given back) before the next request.  Signal
 *    handlers run while a call waits; the bound counts from the start.
 */
#define _GNU_SOURCE
#include "client.h"
#include "../common/paths.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GROUPS_SEEN 64

/* How long a call waits for the daemon, in seconds (USHM_TIMEOUT). */
#define TIMEOUT_DEFAULT_S 10
#define TIMEOUT_MAX_S 86400

/* Who this process was when it connected. */
struct identity {
	pid_t pid;
	uid_t euid;
	gid_t egid;
	int ngroups;
	uint32_t groups_hash;
};

struct client {
	pthread_mutex_t lock;
	int fd;                 /* the connection, or -1 */
	int spare;              /* a second descriptor of it, given up while
				   a reply brings the segment's fd */
	ino_t sock_ino;         /* the socket's inode: a program may close
				   our descriptors and reuse the numbers */
	struct identity id;     /* of the process when fd was opened */
	int timeout_ms;         /* bound of a wait for the daemon (0: none;
				   -1: not read from USHM_TIMEOUT yet) */
	unsigned owed_op;       /* a reply that timed out is still owed on
				   fd (its op), 0 if none */
	int owed_id;            /* its request's id (AT: to give it back) */
	int notes_inflight;     /* notes sent since the last reply: the
				   daemon may not have served them yet */
	int fork_fd;            /* prepared for the child during fork */
	int register_fork;      /* connect with the table as new attaches */
	struct ushm__attach_table table;
	/* The daemon's published table, fetched on first use after each
	 * connection (see table.c). */
	struct ushm__view view;
	/* The daemon this process uses, fixed at its first connection:
	 * kept across fork and setuid (a process keeps its namespace, as
	 * it keeps its kernel), never rediscovered. */
	int pinned;
	char sock_path[108];
	char state_dir[256];
};

/* libushm's one piece of process-wide state (see client.h). */
static struct client g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.spare = -1,
	.fork_fd = -1,
	.timeout_ms = -1,
	.view = { .watch_fd = -1 },
};
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ushm__fork's hand-over from the parent's fork handler: set while this
 * thread is inside ushm__fork, and the child's connection kept for it
 * (per thread: two threads may fork one after the other). */
static __thread int fork_naming;
static __thread int fork_named_fd = -1;

static void identity_now(struct identity *id)
{
	gid_t groups[GROUPS_SEEN];
	int n = getgroups(GROUPS_SEEN, groups);
	uint32_t h = 2166136261u;

	id->pid = getpid();
	id->euid = geteuid();
	id->egid = getegid();
	if (n < 0) /* more groups than we look at: compare the count */
		n = getgroups(0, NULL);
	else
		for (int i = 0; i < n; i++)
			h = (h ^ (uint32_t)groups[i]) * 16777619u;
	id->ngroups = n;
	id->groups_hash = h;
}

/* Is fd still our connection's socket (and not a number the program
 * reused after closing ours)? */
static int still_ours(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_ino == g.sock_ino;
}

/* Lets go of the connection: closes what is still ours, forgets the
 * rest. */
static void drop_connection(void)
{
	if (still_ours(g.fd))
		close(g.fd);
	if (still_ours(g.spare))
		close(g.spare);
	g.fd = g.spare = -1;
	g.owed_op = 0;
}

/* USHM_TIMEOUT: whole seconds, 0 for no bound. */
static int timeout_ms(void)
{
	int ms = __atomic_load_n(&g.timeout_ms, __ATOMIC_RELAXED);
	const char *v;
	char *end;
	long s;

	if (ms >= 0)
		return ms;
	v = ushm__env("USHM_TIMEOUT");
	s = TIMEOUT_DEFAULT_S;
	if (v && *v) {
		errno = 0;
		s = strtol(v, &end, 10);
		if (*end || errno || s < 0 || s > TIMEOUT_MAX_S) {
			ushm__say_once(USHM__SAY_BAD_TIMEOUT,
				       "USHM_TIMEOUT=%s: not a number of "
				       "seconds from 0 (no bound) to %d; "
				       "using %d",
				       v, TIMEOUT_MAX_S, TIMEOUT_DEFAULT_S);
			s = TIMEOUT_DEFAULT_S;
		}
	}
	/* Threads that read it at once store the same value. */
	__atomic_store_n(&g.timeout_ms, (int)(s * 1000), __ATOMIC_RELAXED);
	return (int)(s * 1000);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bounds connect, send and receive on fd by the timeout: the kernel
 * then returns EAGAIN instead of waiting longer. */
static int set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms <= 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* The daemon did not answer in time: said once, with what to do. */
static int timed_out(void)
{
	ushm__say_once(USHM__SAY_TIMEOUT,
		       "the daemon has not answered for %d s (stopped, or "
		       "overloaded?): the call fails with ETIMEDOUT; "
		       "USHM_TIMEOUT sets the bound",
		       timeout_ms() / 1000);
	return -ETIMEDOUT;
}

static int identity_same(const struct identity *a, const struct identity *b)
{
	return a->euid == b->euid && a->egid == b->egid &&
	       a->ngroups == b->ngroups && a->groups_hash == b->groups_hash;
}

/*
 * The kernel's shm calls take no descriptor; ours must hold one.  It is
 * moved high, out of the way of programs that expect the lowest free
 * number to stay free or dup2 over low numbers.  Returns the new fd (the
 * old one closed), or fd itself if there is no room up there.
 */
int ushm__move_high(int fd)
{
	struct rlimit rl;
	int floor = 1000, hi;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		floor = rl.rlim_cur > 64 ? (int)rl.rlim_cur - 24 : 3;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

/* May this process trust a daemon run by uid with its data?  Root's,
 * and its own; a privileged process only its effective uid's (its real
 * uid is whoever ran it). */
static int trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid() ||
	       (uid == getuid() && !ushm__privileged());
}

/* Connects to socket_path; with SOCK_NONBLOCK in type_flags, a daemon
 * whose backlog is full is -EAGAIN rather than a wait, and the socket
 * stays non-blocking. */
static int connect_to(const char *socket_path, int type_flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int fd, err;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | type_flags, 0);
	if (fd < 0)
		return -errno;
	err = set_timeouts(fd, timeout_ms());
	if (err < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		/* A blocking connect that waited out SO_SNDTIMEO. */
		if (err == -EAGAIN && !(type_flags & SOCK_NONBLOCK))
			err = timed_out();
		goto fail;
	}
	/* Only a daemon run by root or by this user is trusted with our
	 * data; anyone could have left a socket at a guessable path. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		err = -errno;
		goto fail;
	}
	if (!trusted(uc.uid)) {
		ushm__say_once(USHM__SAY_UNTRUSTED,
			       "%s: the daemon there runs as uid %lu, neither "
			       "root nor you (uid %lu): refused; set "
			       "USHM_SOCKET to your own daemon's socket or the "
			       "system one (" USHM__SYSTEM_SOCKET ")",
			       socket_path, (unsigned long)uc.uid,
			       (unsigned long)geteuid());
		err = -EACCES;
		goto fail;
	}
	return ushm__move_high(fd);

fail:
	close(fd);
	return err;
}

int ushm__connect(const char *socket_path)
{
	return connect_to(socket_path, 0);
}

/* The gid this process's file accesses use (Linux decides group
 * membership by it); setfsgid with an invalid gid only reports it. */
static gid_t current_fsgid(void)
{
	return (gid_t)setfsgid((gid_t)-1);
}

/* Sends one request with credentials the kernel checks attached: pid,
 * effective uid, and the fsgid, which decides group membership.  The
 * kernel accepts a gid that is the real, effective or saved one (which
 * an fsgid set without privileges always is); an fsgid set while
 * privileged to something else is refused (EPERM), and then the
 * effective gid is sent instead. */
static int send_req_flags(int fd, const void *req, size_t len, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)req, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct ucred uc = { getpid(), geteuid(), current_fsgid() };
	struct cmsghdr *cm;
	ssize_t n;

	for (;;) {
		memset(&u, 0, sizeof(u));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(cm), &uc, sizeof(uc));
		do
			n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EPERM && uc.gid != getegid()) {
			uc.gid = getegid();
			continue;
		}
		break;
	}
	if (n < 0)
		return errno == EAGAIN && !(flags & MSG_DONTWAIT) ?
			       timed_out() :
			       -errno;
	return (size_t)n == len ? 0 : -EPIPE;
}

static int send_req(int fd, const void *req, size_t len)
{
	return send_req_flags(fd, req, len, 0);
}

/* Receives the reply to op; *fd gets a descriptor it carries (or -1).
 * -EPIPE when the daemon went away. */
static int recv_rep(int fd, struct ushm__rep *rep, unsigned op, int *outfd,
		    int nout)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int fds[4], nfds = 0, err, reset = 0, bound = timeout_ms();
	int64_t deadline = bound > 0 ? now_ms() + bound : 0;
	ssize_t n;

	for (int i = 0; i < nout; i++)
		outfd[i] = -1; /* defined on every return, success or not */
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left;

		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		/* A daemon that turned us away closed the socket with our
		 * request unread: the first receive reports the reset, a
		 * second one still finds the refusal queued before it. */
		if (n < 0 && errno == ECONNRESET) {
			reset = 1;
			n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		}
		if (n >= 0 || errno != EINTR)
			break;
		/* A signal's handler ran; SO_RCVTIMEO would start again
		 * from zero, so wait for what is left of the bound. */
		while (deadline) {
			int r;

			left = deadline - now_ms();
			if (left <= 0)
				return timed_out();
			r = poll(&pfd, 1, (int)left);
			if (r == 0)
				return timed_out();
			if (r > 0 || errno != EINTR)
				break; /* recvmsg says what there is */
		}
	}
	if (n < 0 && errno == EAGAIN && !reset)
		return timed_out(); /* SO_RCVTIMEO ran out */
	if (n < 0)
		return errno == ECONNRESET || errno == EAGAIN ? -EPIPE :
								-errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				if (nfds < 4)
					fds[nfds++] = f;
				else
					close(f);
			}
		}
	}
	if (n == 0)
		return -EPIPE;
	err = ushm__rep_check(rep, (size_t)n, nfds, op);
	if (err < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return err < 0 ? err : -EBADMSG;
	}
	for (int i = 0; i < nfds; i++) {
		if (i < nout)
			outfd[i] = fds[i];
		else
			close(fds[i]);
	}
	return 0;
}

/* Sends req and receives its reply.  *owed (when given) is set when the
 * request went out but its reply did not come in time. */
static int64_t roundtrip_owing(int fd, const void *req, size_t len,
			       struct ushm__rep *rep, int *outfd, int nout,
			       int *owed)
{
	const struct ushm__hdr *h = req;
	int err;

	err = send_req(fd, req, len);
	if (err == -EPIPE || err == -ECONNRESET) {
		/* Closed on us: a daemon that turned us away left its
		 * reason queued; one that died left nothing (-EPIPE). */
		err = recv_rep(fd, rep, h->op, NULL, 0);
		return err < 0 ? err : rep->result;
	}
	if (err < 0)
		return err == -ENOTCONN ? -EPIPE : err;
	/* Up to nout descriptors into outfd; any other is closed. */
	err = recv_rep(fd, rep, h->op, outfd, nout);
	if (err == -ETIMEDOUT && owed)
		*owed = 1;
	return err < 0 ? err : rep->result;
}

static int64_t roundtrip(int fd, const void *req, size_t len,
			 struct ushm__rep *rep, int *outfd)
{
	return roundtrip_owing(fd, req, len, rep, outfd, outfd ? 1 : 0, NULL);
}

/* Registers the table's entries on fd, USHM__REG_MAX per request.  For
 * a child (USHM__REG_FORK), not the pieces fork does not copy
 * (MADV_DONTFORK).  With USHM__REG_NOREPLY, only sends them (on a
 * non-blocking fd: a full queue is -EAGAIN, never a wait). */
static int register_table(int fd, uint32_t mode)
{
	union {
		struct ushm__req req;
		char buf[USHM__MSG_MAX];
	} m;
	struct ushm__rep rep;
	size_t i = 0;

	_Static_assert(sizeof(struct ushm__req) +
			       USHM__REG_MAX * sizeof(struct ushm__reg_entry) <=
		       USHM__MSG_MAX, "REGISTER fits a message");
	do {
		uint32_t k = 0;
		int64_t r;

		memset(&m, 0, sizeof(m));
		for (; i < g.table.n && k < USHM__REG_MAX; i++) {
			if ((mode & USHM__REG_FORK) &&
			    (g.table.v[i].advice & USHM__ADV_DONTFORK))
				continue;
			m.req.ent[k].id = g.table.v[i].id;
			m.req.ent[k].rdonly = (uint32_t)g.table.v[i].rdonly;
			m.req.ent[k].addr = g.table.v[i].addr;
			m.req.ent[k].len = g.table.v[i].len;
			k++;
		}
		if (k == 0)
			break;
		m.req.count = k;
		ushm__hdr_init(&m.req.hdr, USHM__OP_REGISTER,
			       ushm__req_size(k), mode);
		if (mode & USHM__REG_NOREPLY)
			r = send_req_flags(fd, &m.req, ushm__req_size(k),
					   MSG_DONTWAIT);
		else
			r = roundtrip(fd, &m.req, ushm__req_size(k), &rep,
				      NULL);
		if (r < 0)
			return (int)r;
	} while (i < g.table.n);
	return 0;
}

/*
 * A connection for this process as it is now.  The old one, if any,
 * stays open until the new one has taken the attachments over, so that
 * the daemon never sees them dropped.
 */
static int establish(int allow_start)
{
	char path[sizeof(g.sock_path)], state[sizeof(g.state_dir)];
	struct identity now;
	struct stat st;
	int fd, err;
	uint32_t mode;

	if (g.pinned) {
		memcpy(path, g.sock_path, sizeof(path));
		memcpy(state, g.state_dir, sizeof(state));
	} else {
		err = ushm__socket_path(path, sizeof(path));
		if (err == 0)
			err = ushm__state_dir_for(path, state, sizeof(state));
		if (err < 0)
			return err;
	}
	fd = ushm__connect(path);
	if (fd < 0 && allow_start &&
	    (fd == -ENOENT || fd == -ECONNREFUSED)) {
		err = ushm__autostart(path, state);
		if (err < 0)
			return err;
		fd = ushm__connect(path);
	}
	if (fd < 0) {
		if (g.pinned && fd != -ECONNREFUSED && fd != -ENOENT)
			ushm__say_once(USHM__SAY_LOST,
				       "%s: this process used the daemon there "
				       "and can no longer reach it (%s); it "
				       "keeps its daemon across fork, setuid "
				       "and exec rather than switch to another: "
				       "make that socket reachable (the system "
				       "daemon's is open to all)",
				       path, strerror(-fd));
		else if (fd == -EACCES || fd == -EPERM)
			ushm__say_once(USHM__SAY_UNREACHABLE,
				       "%s: cannot connect to the daemon (%s): "
				       "the socket or a directory above it is "
				       "closed to you (uid %lu); use the system "
				       "daemon (" USHM__SYSTEM_SOCKET ") or set "
				       "USHM_SOCKET to one you may reach",
				       path, strerror(-fd),
				       (unsigned long)geteuid());
		return fd;
	}
	identity_now(&now);
	if (g.table.n > 0) {
		mode = g.register_fork ? USHM__REG_FORK : USHM__REG_ADOPT;
		err = register_table(fd, mode);
		if (err < 0) {
			close(fd);
			return err;
		}
	}
	g.register_fork = 0;
	drop_connection();
	/* The table of whichever daemon this is: fetched again on use. */
	ushm__view_drop(&g.view);
	if (fstat(fd, &st) == 0)
		g.sock_ino = st.st_ino;
	g.fd = fd;
	g.spare = fcntl(fd, F_DUPFD_CLOEXEC, fd);
	g.id = now;
	if (!g.pinned) {
		memcpy(g.sock_path, path, sizeof(g.sock_path));
		memcpy(g.state_dir, state, sizeof(g.state_dir));
		/* Published last: readers without the lock (exec) see
		 * either no path or a whole one. */
		__atomic_store_n(&g.pinned, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

/* Makes sure g.fd belongs to this process with its current identity. */
static int ensure(int allow_start)
{
	struct identity now;

	if (g.fd >= 0 && g.id.pid != getpid()) {
		/* A child made without fork handlers (clone, vfork that
		 * did not exec): its copy of the parent's connection is not
		 * its own, and its inherited mappings are not counted. */
		drop_connection();
		ushm__pieces_forked(&g.table);
		g.register_fork = g.table.n > 0;
	}
	if (g.fd >= 0 && !still_ours(g.fd)) {
		/* The program closed it (a daemon closing every fd), and the
		 * number may be in use for something else now: so may the
		 * table's descriptor be, which is not ours to close. */
		g.view.watch_fd = -1;
		g.fd = -1;
		if (!still_ours(g.spare))
			g.spare = -1;
	}
	if (g.fd >= 0) {
		identity_now(&now);
		if (identity_same(&now, &g.id))
			return 0;
	}
	return establish(allow_start);
}

static void atfork_setup(void);

const struct ushm__attach_table *ushm__client_table(void)
{
	return &g.table;
}

struct ushm__attach_table *ushm__client_lock(void)
{
	pthread_once(&atfork_once, atfork_setup);
	pthread_mutex_lock(&g.lock);
	return &g.table;
}

void ushm__client_unlock(void)
{
	pthread_mutex_unlock(&g.lock);
}

/* Attempts at a request whose daemon dies under it; the daemon that
 * replaces it may die too (restarted in a loop, killed while it
 * recovers). */
#define ATTEMPTS 8

/* Did the daemon just go away (rather than refuse the request)? */
static int daemon_gone(int64_t r)
{
	return r == -EPIPE || r == -EBADF || r == -ENOTSOCK;
}

/* A new daemon is not up yet (its predecessor still exiting, say). */
static int daemon_starting(int64_t r)
{
	return r == -ECONNREFUSED || r == -ENOENT || daemon_gone(r);
}

/* Waits a little longer at each attempt: 10, 20, ... 70 ms. */
static void backoff(int attempt)
{
	struct timespec ts = { 0, attempt * 10 * 1000 * 1000L };

	nanosleep(&ts, NULL);
}

/*
 * Reads the reply a timed-out request still owes before the connection
 * serves another: -ETIMEDOUT while the daemon still does not answer.  An
 * attach it granted is given back (the caller was told it failed).
 */
static int64_t pay_owed(void)
{
	struct ushm__rep rep;
	struct ushm__req q;
	int fd, err, owed = 0;
	int64_t r;

	err = recv_rep(g.fd, &rep, g.owed_op, &fd, 1);
	if (err == -ETIMEDOUT)
		return err;
	if (fd >= 0)
		close(fd);
	if (err < 0) { /* the daemon went away: reconnect */
		drop_connection();
		return 0;
	}
	if (g.owed_op != USHM__OP_AT || rep.result < 0) {
		g.owed_op = 0;
		return 0;
	}
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_AT_UNDO, sizeof(q), 0);
	q.id = g.owed_id;
	g.owed_op = 0;
	r = roundtrip_owing(g.fd, &q, sizeof(q), &rep, NULL, 0, &owed);
	if (owed) {
		g.owed_op = USHM__OP_AT_UNDO;
		g.owed_id = q.id;
	}
	return r == -ETIMEDOUT ? r : 0;
}

int64_t ushm__transact(struct ushm__req *req, size_t len,
		       struct ushm__rep *rep, int *fd)
{
	int64_t r;
	int owed;

	for (int attempt = 0;; attempt++) {
		r = ensure(1);
		/* No daemon at the first attempt is an answer; after one
		 * died under us, its successor may still be on its way. */
		if (r < 0 && (attempt == 0 || attempt == ATTEMPTS - 1 ||
			      !daemon_starting(r)))
			return r;
		if (r < 0) {
			backoff(attempt);
			continue;
		}
		if (g.owed_op) {
			r = pay_owed();
			if (r < 0)
				return r;
			if (g.fd < 0)
				continue; /* gone: reconnect at once */
		}
		/* A program using every low descriptor still gets the
		 * segment's: it lands in the spare's slot. */
		if (fd && g.spare >= 0) {
			if (still_ours(g.spare))
				close(g.spare);
			g.spare = -1;
		}
		/* The dead daemon may have served the first attempt. */
		if (attempt > 0 && req->hdr.op == USHM__OP_GET)
			req->hdr.flags |= USHM__GET_RETRY;
		owed = 0;
		r = roundtrip_owing(g.fd, req, len, rep, fd, fd ? 1 : 0, &owed);
		if (owed) {
			g.owed_op = req->hdr.op;
			g.owed_id = req->id;
		}
		if (!daemon_gone(r) && !owed)
			g.notes_inflight = 0; /* served before the reply */
		if (attempt == ATTEMPTS - 1 || !daemon_gone(r))
			return r;
		/* The daemon went away (or the program closed our socket):
		 * the next attempt reconnects, a new daemon recovers our
		 * attachments, and we adopt them. */
		drop_connection();
		if (attempt > 0)
			backoff(attempt);
	}
}

/*
 * A note on this process's own connection, without credentials of ours:
 * the kernel attaches the sender's pid, effective uid and effective gid,
 * which is all a note needs (a shmdt is the connection's; an ATTACHED is
 * sent only when the caller's group membership did not decide it).
 * Three system calls where a request costs nine.  -ENOTCONN when the
 * process has no connection of its own now (nothing was sent).
 */
int ushm__notify(const struct ushm__req *req, size_t len)
{
	struct iovec iov = { (void *)req, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (g.fd < 0 || g.id.pid != getpid() || !still_ours(g.fd))
		return -ENOTCONN;
	do
		n = sendmsg(g.fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EPIPE;
	g.notes_inflight = 1;
	return 0;
}

int ushm__client_notes_inflight(void)
{
	return g.notes_inflight;
}

void ushm__post(const struct ushm__req *req, size_t len)
{
	if (ushm__notify(req, len) == 0)
		return;
	/* No daemon starts for this: without one nothing is counted. */
	if (ensure(0) < 0)
		return;
	/* A daemon gone is found by the next call's request, which then
	 * reconnects and retries as for any daemon that died under it. */
	(void)send_req(g.fd, req, len);
}

void ushm__client_respare(void)
{
	if (g.fd >= 0 && g.spare < 0)
		g.spare = fcntl(g.fd, F_DUPFD_CLOEXEC, g.fd);
}

const struct ushm__view *ushm__client_view(int own_count)
{
	struct ushm__req q;
	struct ushm__rep rep;
	int fds[2], owed = 0;
	int64_t r;

	/* The daemon first: with no connection yet; with a late reply
	 * still to read (a call that timed out: what it did, and what
	 * undoes it, go through the daemon); or in a child made without
	 * fork handlers, whose inherited attachments are not counted yet. */
	if (g.fd < 0 || g.owed_op ||
	    (own_count && g.table.n > 0 && g.id.pid != getpid()))
		return NULL;
	/* nattch counts our attachments only while our connection holds
	 * them: a program that closed it (and maybe reused its number)
	 * has them re-registered by the daemon path first. */
	if (own_count && g.table.n > 0 && !still_ours(g.fd))
		return NULL;
	if (g.view.base && g.view.watch_fd < 0) /* lost with the connection */
		ushm__view_drop(&g.view);
	if (g.view.base)
		return &g.view;
	if (g.view.refused)
		return NULL;
	/* A program may have closed our socket and reused its number: the
	 * request below must not go to its file. */
	if (!still_ours(g.fd))
		return NULL;
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_TABLE, sizeof(q), 0);
	r = roundtrip_owing(g.fd, &q, sizeof(q), &rep, fds, 2, &owed);
	if (owed) {
		g.owed_op = USHM__OP_TABLE;
		g.owed_id = 0;
	}
	if (r < 0) {
		/* A daemon without a table (or of an older version, which
		 * does not know the request): never ask again on this
		 * connection.  A broken or slow one is found by the call's
		 * own request. */
		g.view.refused = r == -ENOSYS || r == -EINVAL || r == -EPROTO;
		return NULL;
	}
	if (ushm__view_map(&g.view, fds) < 0)
		return NULL;
	return &g.view;
}

const char *ushm__used_socket(void)
{
	if (__atomic_load_n(&g.pinned, __ATOMIC_ACQUIRE))
		return g.sock_path;
	return ushm__env("USHM_SOCKET");
}

int ushm__client_socket(char *buf, size_t len)
{
	int err = 0;

	ushm__client_lock();
	if (g.pinned) {
		if ((size_t)snprintf(buf, len, "%s", g.sock_path) >= len)
			err = -ENAMETOOLONG;
	} else {
		err = ushm__socket_path(buf, len);
	}
	ushm__client_unlock();
	return err;
}

int64_t ushm__transact_once(struct ushm__req *req, struct ushm__rep *rep)
{
	char path[108];
	int64_t r;
	int fd;

	r = ushm__client_socket(path, sizeof(path));
	if (r < 0)
		return r;
	fd = ushm__connect(path);
	if (fd < 0)
		return fd;
	r = roundtrip(fd, req, req->hdr.size, rep, NULL);
	close(fd);
	/* Connected, but the daemon closed without answering: it was on
	 * its way out, so there is no daemon to report on. */
	return r == -EPIPE ? -ECONNREFUSED : r;
}

/*
 * fork() handlers (the fork protocol: src/daemon/loop.c).  prepare runs
 * in the parent before the fork with the lock held until parent/child
 * release it; nothing in them waits for the daemon.  Only syscalls run
 * in the child handler (a multithreaded parent's child may not call
 * malloc).
 */
static void before_fork(void)
{
	struct identity now;
	int fd;

	pthread_mutex_lock(&g.lock);
	g.fork_fd = -1;
	if (g.fd < 0 || g.table.n == 0 || g.id.pid != getpid())
		return;
	identity_now(&now);
	if (!identity_same(&now, &g.id) || !g.pinned)
		return;
	/* Non-blocking: a daemon whose backlog or queue is full (frozen,
	 * swamped) gets nothing now, and the child registers at its first
	 * call instead. */
	fd = connect_to(g.sock_path, SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (register_table(fd, USHM__REG_FORK | USHM__REG_NOREPLY) < 0 ||
	    fcntl(fd, F_SETFL, 0) < 0) {
		/* The daemon drops what it got with the connection. */
		close(fd);
		return;
	}
	g.fork_fd = fd;
}

static void after_fork_parent(void)
{
	/* The child has its copy.  Under ushm__fork the caller names the
	 * child on it first; a failed fork drops the registrations with
	 * the close, as Linux drops a failed fork's mappings. */
	if (g.fork_fd >= 0) {
		if (fork_naming)
			fork_named_fd = g.fork_fd;
		else
			close(g.fork_fd);
	}
	g.fork_fd = -1;
	pthread_mutex_unlock(&g.lock);
}

static void after_fork_child(void)
{
	struct ushm__req hello;
	struct stat st;

	/* fstat, fcntl, close and sendmsg are async-signal-safe. */
	drop_connection();
	ushm__pieces_forked(&g.table);
	g.fd = g.fork_fd;
	g.fork_fd = -1;
	g.id.pid = getpid();
	if (g.fd >= 0 && fstat(g.fd, &st) == 0) {
		g.sock_ino = st.st_ino;
		g.spare = fcntl(g.fd, F_DUPFD_CLOEXEC, g.fd);
		/* No reply: the daemon learns which process uses the
		 * connection now, so that our exit is reported as ours. */
		memset(&hello, 0, sizeof(hello));
		ushm__hdr_init(&hello.hdr, USHM__OP_HELLO, sizeof(hello), 0);
		if (send_req_flags(g.fd, &hello, sizeof(hello),
				   MSG_DONTWAIT) < 0)
			drop_connection();
	}
	/* Without a prepared connection, register on first use. */
	g.register_fork = g.fd < 0 && g.table.n > 0;
	pthread_mutex_unlock(&g.lock);
}

pid_t ushm__fork(pid_t (*real_fork)(void))
{
	pid_t pid;
	int fd, saved;

	fork_naming = 1;
	pid = real_fork();
	saved = errno;
	fork_naming = 0;
	if (pid != 0 && fork_named_fd >= 0) {
		fd = fork_named_fd;
		fork_named_fd = -1;
		/* Named now, for a child killed before its HELLO: its exit
		 * sets lpid to its pid, as on Linux.  No reply. */
		if (pid > 0) {
			struct ushm__req q;

			memset(&q, 0, sizeof(q));
			ushm__hdr_init(&q.hdr, USHM__OP_FORKED, sizeof(q), 0);
			q.id = pid;
			(void)send_req_flags(fd, &q, sizeof(q), MSG_DONTWAIT);
		}
		close(fd);
	}
	errno = saved;
	return pid;
}

static void atfork_setup(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
