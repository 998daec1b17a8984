/*
 * transport.c - one connection to ushmd, as transport.h describes it.
 *
 * A daemon that does not answer (stopped by a debugger or SIGSTOP,
 * swamped) is waited for at most USHM_TIMEOUT seconds (default
 * TIMEOUT_DEFAULT_S) per call, then the call fails with ETIMEDOUT.  The
 * connection is kept: the reply still owed is read (and an attach it
 * granted given back) before the next request.  Signal handlers run
 * while a call waits; the bound counts from the start.
 */
#define _GNU_SOURCE
#include "client.h"
#include "transport.h"
#include "rawsys.h"
#include "../common/paths.h"
#include "../common/spin.h"

#include <errno.h>
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

/* How long a call waits for the daemon, in seconds (USHM_TIMEOUT). */
#define TIMEOUT_DEFAULT_S 10
#define TIMEOUT_MAX_S 86400

/* The bound of a wait for the daemon in ms (0: none), read once from
 * USHM_TIMEOUT (-1: not yet).  Threads that read it at once store the
 * same value. */
static int timeout_cached = -1;

/* USHM_TIMEOUT: whole seconds, 0 for no bound. */
static int timeout_ms(void)
{
	int ms = __atomic_load_n(&timeout_cached, __ATOMIC_RELAXED);
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
	__atomic_store_n(&timeout_cached, (int)(s * 1000), __ATOMIC_RELAXED);
	return (int)(s * 1000);
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

/*
 * The kernel's shm calls take no descriptor; ours must hold one.  It is
 * moved high, out of the way of programs that expect the lowest free
 * number to stay free or dup2 over low numbers.  Not too high: fork
 * copies the descriptor table up to the highest open descriptor, and
 * exit frees it.  From 100 up the table has 128 slots (256 once a
 * program uses 128 or more, as AFL++'s fork server does at 198); from
 * 1000 up it had 1,024, and the copy cost a fork about 8 us (dup_fd,
 * against 1 us: BENCHMARKS.md).  The numbers programs pick for
 * themselves are below (shells' 10 and up) or above (AFL++'s 198 and
 * 199, bash's 255).  Returns the new fd (the old one closed), or fd
 * itself if there is no room up there.
 */
#define FD_FLOOR 100

int ushm__move_high(int fd)
{
	struct rlimit rl;
	int floor = FD_FLOOR, hi;

	/* Tried first without asking for the limit (one system call
	 * fewer on every connection and first attach): it fails (EINVAL,
	 * EMFILE) only when there is no room from FD_FLOOR up.  A limit
	 * that leaves less than 24 numbers up there: the last 24 below
	 * it. */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
	if (hi < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < FD_FLOOR + 24) {
		floor = rl.rlim_cur > 64 ? (int)rl.rlim_cur - 24 : 3;
		hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
	}
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
 * stays non-blocking, without the timeouts. */
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
	err = type_flags & SOCK_NONBLOCK ? 0 : set_timeouts(fd, timeout_ms());
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

int ushm__connect_nowait(const char *socket_path)
{
	return connect_to(socket_path, SOCK_NONBLOCK);
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
int ushm__send(int fd, const void *req, size_t len, int flags)
{
	struct ushm__sender me = { getpid(), geteuid(), USHM__FSGID };

	return ushm__send_as(fd, req, len, flags, &me);
}

int ushm__send_as(int fd, const void *req, size_t len, int flags,
		  const struct ushm__sender *as)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)req, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	gid_t gid = as->gid == USHM__FSGID ? current_fsgid() : as->gid;
	struct ucred uc = { as->pid, as->euid, gid };
	struct cmsghdr *cm;
	ssize_t n;

	for (;;) {
		memset(&u, 0, sizeof(u));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(cm), &uc, sizeof(uc));
		/* (Without libc: a forked child sends from here.) */
		do
			n = ushm__raw_sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
		while (n == -EINTR);
		if (n == -EPERM && uc.gid != getegid()) {
			uc.gid = getegid();
			continue;
		}
		break;
	}
	if (n == -EINVAL) {
		/* Ids the kernel cannot vouch for: this process's user or
		 * group has no mapping in its user namespace (one made
		 * with no maps written).  Like a daemon whose user is not
		 * mapped there, refused. */
		ushm__say_once(USHM__SAY_UNMAPPED,
			       "this process's uid or gid (%lu, %lu) is not "
			       "mapped in its user namespace, so the daemon "
			       "cannot be told who it is: refused; write its "
			       "uid_map and gid_map (newuidmap, newgidmap) or "
			       "make the calls outside that namespace",
			       (unsigned long)uc.uid, (unsigned long)uc.gid);
		return -EACCES;
	}
	if (n < 0)
		return n == -EAGAIN && !(flags & MSG_DONTWAIT) ? timed_out() :
								 (int)n;
	return (size_t)n == len ? 0 : -EPIPE;
}

/* How long a caller looks for its reply before it sleeps (spin.h).  A
 * reply usually comes within the daemon's work plus its wake-up, well
 * under the budget; one that does not (a daemon that is busy, stopped
 * or starting) halves it. */
static unsigned reply_spin_ns;

/* One look for the reply, without waiting (ushm__spin's ready). */
struct reply_look {
	int fd;
	struct msghdr *mh;
	ssize_t n;
	int err;
};

static int reply_ready(void *arg)
{
	struct reply_look *l = arg;

	l->n = recvmsg(l->fd, l->mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	l->err = l->n < 0 ? errno : 0;
	return l->n >= 0 || l->err != EAGAIN;
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
	struct reply_look look = { fd, &mh, -1, 0 };
	int fds[4], nfds = 0, err, reset = 0, bound = timeout_ms();
	int64_t deadline = bound > 0 ? ushm__mono_ns() / 1000000 + bound : 0;
	ssize_t n;

	for (int i = 0; i < nout; i++)
		outfd[i] = -1; /* defined on every return, success or not */
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left;

		/* Looked for without sleeping first (once: a signal that
		 * interrupted the sleep is not a reason to spin again). */
		if (look.fd >= 0 && ushm__spin(&reply_spin_ns, reply_ready,
					       &look)) {
			n = look.n;
			errno = look.err;
		} else {
			n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		}
		look.fd = -1;
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

			left = deadline - ushm__mono_ns() / 1000000;
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
	/* (ENOTCONN: a socket never connected, put in place of ours in a
	 * child forked by a signal handler; see session.c.) */
	if (n < 0)
		return errno == ECONNRESET || errno == EAGAIN ||
				       errno == ENOTCONN ?
			       -EPIPE :
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

int ushm__send_from(int fd, const void *req, size_t len, int flags,
		    const struct ushm__sender *as)
{
	int err;

	if (!as)
		return ushm__send(fd, req, len, flags);
	err = ushm__send_as(fd, req, len, flags, as);
	/* Another thread changed our ids since the caller read them (a
	 * setuid that dropped the old one altogether): the kernel refused
	 * them, and nothing was sent.  As ours now, then. */
	if (err == -EPERM)
		err = ushm__send(fd, req, len, flags);
	return err;
}

int64_t ushm__roundtrip(int fd, const void *req, size_t len,
			struct ushm__rep *rep, int *outfd, int nout, int *owed,
			const struct ushm__sender *as)
{
	const struct ushm__hdr *h = req;
	int err;

	err = ushm__send_from(fd, req, len, 0, as);
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

ino_t ushm__socket_ino(int fd)
{
	/* (Zeroed for the analyzers, which cannot see the kernel fill it.) */
	struct stat st = { 0 };

	/* Not a socket: 0, so that a file of the program's whose inode
	 * number happens to be a socket's (another file system) is never
	 * taken for ours. */
	return ushm__raw_fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ?
		       st.st_ino :
		       0;
}

void ushm__link_take(struct ushm__link *l, int fd, ino_t ino, int raw)
{
	/* (Without libc: a forked child takes its connection here.) */
	l->ino = ino;
	l->fd = fd;
	/* The spare now, even for a fork's child that may never call: by
	 * its first call it may have used every descriptor it may have,
	 * and the spare is what keeps one for a reply's descriptor. */
	l->spare = ushm__raw_fcntl(fd, F_DUPFD_CLOEXEC, fd);
	if (l->spare < 0)
		l->spare = -1;
	l->owed_op = 0;
	l->raw = raw;
}

int ushm__socket_is(int fd, ino_t ino)
{
	return ino != 0 && fd >= 0 && ushm__socket_ino(fd) == ino;
}

int ushm__link_ours(const struct ushm__link *l, int fd)
{
	return ushm__socket_is(fd, l->ino);
}

void ushm__link_drop(struct ushm__link *l)
{
	if (ushm__link_ours(l, l->fd))
		(void)ushm__raw_close(l->fd);
	if (ushm__link_ours(l, l->spare))
		(void)ushm__raw_close(l->spare);
	l->fd = l->spare = -1;
	l->owed_op = 0;
}

void ushm__link_forget(struct ushm__link *l)
{
	l->fd = -1;
	if (!ushm__link_ours(l, l->spare))
		l->spare = -1;
}

int64_t ushm__link_call(struct ushm__link *l, const void *req, size_t len,
			struct ushm__rep *rep, int *outfd, int nout,
			const struct ushm__sender *as)
{
	const struct ushm__req *q = req;
	int owed = 0;
	int64_t r;

	r = ushm__roundtrip(l->fd, req, len, rep, outfd, nout, &owed, as);
	if (owed) {
		l->owed_op = q->hdr.op;
		l->owed_id = q->id;
	}
	return r;
}

int64_t ushm__link_pay_owed(struct ushm__link *l)
{
	struct ushm__rep rep;
	struct ushm__req q;
	int fd, err;
	int64_t r;

	err = recv_rep(l->fd, &rep, l->owed_op, &fd, 1);
	if (err == -ETIMEDOUT)
		return err;
	if (fd >= 0)
		close(fd);
	if (err < 0) { /* the daemon went away: reconnect */
		ushm__link_drop(l);
		return 0;
	}
	if (l->owed_op != USHM__OP_AT || rep.result < 0) {
		l->owed_op = 0;
		return 0;
	}
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_AT_UNDO, sizeof(q), 0);
	q.id = l->owed_id;
	l->owed_op = 0;
	r = ushm__link_call(l, &q, sizeof(q), &rep, NULL, 0, NULL);
	return r == -ETIMEDOUT ? r : 0;
}

void ushm__link_unspare(struct ushm__link *l)
{
	if (l->spare >= 0) {
		if (ushm__link_ours(l, l->spare))
			close(l->spare);
		l->spare = -1;
	}
}

void ushm__link_respare(struct ushm__link *l)
{
	if (l->fd >= 0 && l->spare < 0)
		l->spare = fcntl(l->fd, F_DUPFD_CLOEXEC, l->fd);
}
