/*
 * keeper.c - the keeper: the process that keeps segments' memory alive
 * while no daemon runs.
 *
 * A segment's bytes are a sealed memfd (store.c): its size can never
 * change, whatever a client does with its descriptor.  Unlike a file in
 * the state directory, a memfd has no name: it exists while a descriptor
 * or a mapping refers to it.  So that segments outlive the daemon (a
 * SIGKILL, a crash, `ushm daemon stop`, an upgrade), a second process
 * holds a descriptor of each: the keeper.
 *
 * - The daemon starts it (fork, no exec) the first time it finds none
 *   answering at STATE/keeper.sock.  It runs as the daemon's user with
 *   nothing more: it leaves the daemon's session, closes every other
 *   descriptor, drops every capability (root's keeper included) with
 *   no_new_privs set, takes the default signal actions, and does nothing
 *   but hold descriptors.  Its pid is in STATE/keeper.pid.
 * - Its socket is in the state directory (0700, the daemon's user), and
 *   it serves only a peer of its own uid (SO_PEERCRED); the daemon, in
 *   turn, talks only to a keeper of its own uid.  These are the only
 *   descriptors the daemon ever receives, and only in answer to its own
 *   request (LIST, at start-up).
 * - The protocol: the daemon sends PUT idx (with the memfd) when it
 *   makes a segment, DROP idx when it destroys one, LIST at start-up;
 *   the keeper answers LIST with an ENTRY idx (with the memfd) per
 *   segment, then END.  One daemon is served at a time: a new connection
 *   replaces the previous one (the state directory's lock already makes
 *   it the only daemon).
 * - The keeper ends when it is told to (SIGTERM), when its socket or the
 *   state directory is removed or renamed (inotify: the state is gone),
 *   or when it holds nothing and no daemon is connected.
 * - If the keeper dies while the daemon runs, the daemon sees its
 *   connection hang up at once, logs it as an error, starts another and
 *   hands it every segment again: nothing is lost.  If it dies while no
 *   daemon runs, its segments are lost, as at a reboot: the next daemon
 *   starts cleanly, removes their records and logs each one as an error.
 *
 * The keeper runs in a child of a daemon that may have threads (the
 * closer thread of rights.c), so it calls nothing but system calls: no
 * malloc, no stdio.  Its table is an mmap'ed array of descriptors, one
 * per segment index; the descriptor limit it inherits from the daemon
 * (raised to the hard limit) bounds how many segments it can hold, as
 * it bounds the daemon.
 */
#define _GNU_SOURCE
#include "keeper.h"
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEPER_MAGIC 0x7065656bu /* "keep" */

enum { K_PUT = 1, K_DROP, K_LIST, K_ENTRY, K_END };

struct keeper_msg {
	uint32_t magic;
	uint32_t op;
	int32_t idx;
	uint32_t count; /* END: how many ENTRY messages came before */
};

/* A keeper that does not read for this long is replaced. */
#define KEEPER_TIMEOUT_MS 2000

/*
 * After it has read what the daemon sent, the keeper lets the next
 * messages gather for this long before it reads again.  Nothing waits for
 * it: a PUT's descriptor is safe in the socket's queue once the daemon's
 * sendmsg returns, and a DROP only frees memory a little later.  But a
 * keeper that waits for each message is woken twice for every create and
 * remove, and each wake-up costs the daemon (and, on a machine with few
 * CPUs, whoever runs beside it) more than the message itself: 15 us a
 * create + IPC_RMID pair, a third of the daemon's own time.  A keeper
 * that is not waiting on the socket is not woken by a send (a poll for
 * hang-ups only is not woken by data).  A queue that fills meanwhile
 * holds the daemon's send for at most this long.
 */
#define KEEPER_GATHER_MS 2

/* "/proc/self/fd/N/keeper.sock": the socket's path relative to the
 * state directory's descriptor (a path of any length fits sun_path). */
static void sock_addr(struct sockaddr_un *sa, int dirfd)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
		 dirfd, USHM__KEEPER_SOCK);
}

static uid_t peer_uid(int fd, pid_t *pid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return (uid_t)-1;
	if (pid)
		*pid = uc.pid;
	return uc.uid;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { KEEPER_TIMEOUT_MS / 1000,
			      (KEEPER_TIMEOUT_MS % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Sends msg, with fd attached when fd >= 0.  0, or -errno. */
static int send_msg(int sock, uint32_t op, int idx, uint32_t count, int fd)
{
	struct keeper_msg m = { KEEPER_MAGIC, op, idx, count };
	struct iovec iov = { &m, sizeof(m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

/* Receives one message; *fd is the one descriptor it carried (-1: none).
 * Any other descriptor is closed.  Returns 1, 0 at end of stream, or
 * -errno (a malformed message: -EPROTO; none waiting with MSG_DONTWAIT in
 * flags: -EAGAIN). */
static int recv_msg(int sock, struct keeper_msg *m, int *fd, int flags)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN && !(flags & MSG_DONTWAIT) ? -ETIMEDOUT :
								   -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*m) || m->magic != KEEPER_MAGIC ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || m->idx < -1 ||
	    m->idx >= USHM__IPCMNI) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	return 1;
}

/* ---- the keeper process ---- */

/* Keeps descriptors a and b, closes every other, and puts /dev/null on
 * 0, 1 and 2 (a pipe the daemon's starter waits on must see its end). */
static void keep_only(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	unsigned int from = 0;
	int null;

	if (lo > 0)
		close_range(0, (unsigned int)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned int)lo + 1, (unsigned int)hi - 1, 0);
	from = (unsigned int)hi + 1;
	close_range(from, ~0u, 0);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3 && null >= 0; i++)
		if (i != a && i != b && i != null)
			dup2(null, i);
	if (null > 2 && null != a && null != b)
		close(null);
}

/* Does inotify report that the socket or the directory is gone? */
static int state_gone(int ino)
{
	union {
		char buf[4096];
		struct inotify_event align;
	} u;
	ssize_t n = read(ino, u.buf, sizeof(u.buf));

	for (ssize_t off = 0; n > 0 && off < n;) {
		const struct inotify_event *ev = (const void *)(u.buf + off);

		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED |
				IN_UNMOUNT))
			return 1;
		if (ev->len && strcmp(ev->name, USHM__KEEPER_SOCK) == 0)
			return 1;
		off += (ssize_t)(sizeof(*ev) + ev->len);
	}
	return 0;
}

static void serve_list(int conn, int *table)
{
	uint32_t sent = 0;

	for (int i = 0; i < USHM__IPCMNI; i++) {
		if (table[i] < 0)
			continue;
		if (send_msg(conn, K_ENTRY, i, 0, table[i]) < 0)
			return;
		sent++;
	}
	(void)send_msg(conn, K_END, -1, sent, -1);
}

/* Serves every message the daemon has sent so far.  0, or -1 when the
 * connection is done.  All of them: a daemon that died (and is being
 * replaced by a new connection) may have left several, a segment each. */
static int serve_all(int conn, int *table, int *held)
{
	for (;;) {
		struct keeper_msg m = { 0 };
		int fd, r = recv_msg(conn, &m, &fd, MSG_DONTWAIT);

		if (r == -EAGAIN)
			return 0;
		if (r == -EPROTO)
			continue; /* ignored */
		if (r <= 0)
			return -1;
		if (m.op == K_PUT && fd >= 0 && m.idx >= 0) {
			if (table[m.idx] >= 0)
				close(table[m.idx]);
			else
				(*held)++;
			table[m.idx] = fd;
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (m.op == K_DROP && m.idx >= 0 && table[m.idx] >= 0) {
			close(table[m.idx]);
			table[m.idx] = -1;
			(*held)--;
		} else if (m.op == K_LIST) {
			serve_list(conn, table);
		}
	}
}

/* Gives up every capability (a root daemon's keeper needs none: its
 * directory is its own) and any way of gaining one. */
static void drop_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	(void)syscall(SYS_capset, &h, d);
}

/* dir: "/proc/self/fd/DIRFD", made by the parent (no formatting here). */
static void keeper_main(int lfd, int dirfd, const char *dir)
	__attribute__((noreturn));
static void keeper_main(int lfd, int dirfd, const char *dir)
{
	sigset_t none;
	int *table, held = 0, conn = -1, ino;
	size_t size = USHM__IPCMNI * sizeof(int);

	(void)setsid();
	(void)prctl(PR_SET_NAME, "ushmd-keeper", 0, 0, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	keep_only(lfd, dirfd);
	drop_privileges();
	/* fd -1: what MAP_ANONYMOUS asks for portably (cppcheck's POSIX
	 * model wants a file). */
	table = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); // cppcheck-suppress invalidFunctionArg
	if (table == MAP_FAILED)
		_exit(1);
	for (int i = 0; i < USHM__IPCMNI; i++)
		table[i] = -1;
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0 ||
	    inotify_add_watch(ino, dir, IN_DELETE | IN_MOVED_FROM |
				       IN_DELETE_SELF | IN_MOVE_SELF |
				       IN_ONLYDIR) < 0)
		_exit(1);
	close(dirfd);
	for (;;) {
		struct pollfd p[3] = { { lfd, POLLIN, 0 }, { ino, POLLIN, 0 },
				       { conn, POLLIN, 0 } };

		if (poll(p, conn >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if ((p[1].revents & POLLIN) && state_gone(ino))
			_exit(0);
		if (conn >= 0 && p[2].revents) {
			if (serve_all(conn, table, &held) < 0) {
				close(conn);
				conn = -1;
				if (held == 0)
					_exit(0); /* nothing to keep */
			} else {
				/* Let messages gather; a new daemon or the
				 * state's removal ends the wait early. */
				p[2].events = 0;
				(void)poll(p, 3, KEEPER_GATHER_MS);
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c < 0)
				continue;
			if (peer_uid(c, NULL) != geteuid()) {
				close(c);
				continue;
			}
			set_timeouts(c);
			if (conn >= 0) {
				/* What the previous daemon sent first. */
				(void)serve_all(conn, table, &held);
				close(conn);
			}
			conn = c;
		}
	}
}

/* ---- the daemon's side ---- */

static int write_pid(int dirfd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	int fd = openat(dirfd, USHM__KEEPER_PID,
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			0600);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n)
		err = -EIO;
	close(fd);
	return err;
}

/* Starts a keeper listening at the state directory's socket. */
static int spawn(struct ushm__keeper *k, int dirfd)
{
	struct sockaddr_un sa;
	char dir[64];
	int lfd, err;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/proc/self/fd/%d", dirfd);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	sock_addr(&sa, dirfd);
	/* A dead keeper's socket, or a live one that no longer answers:
	 * the latter sees its name go and ends. */
	if ((unlinkat(dirfd, USHM__KEEPER_SOCK, 0) < 0 && errno != ENOENT) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 8) < 0) {
		err = -errno;
		close(lfd);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(lfd);
		unlinkat(dirfd, USHM__KEEPER_SOCK, 0);
		return err;
	}
	if (pid == 0)
		keeper_main(lfd, dirfd, dir);
	close(lfd);
	k->child = pid;
	if ((err = write_pid(dirfd, pid)) < 0)
		ushm__log(USHM__LOG_WARN, "%s: %s", USHM__KEEPER_PID,
			  strerror(-err));
	ushm__log(USHM__LOG_DEBUG, "keeper started (pid %ld)", (long)pid);
	return 0;
}

/* The pid in keeper.pid (the socket's SO_PEERCRED names whoever called
 * listen(): the daemon that started the keeper). */
static pid_t read_pid(int dirfd)
{
	return ushm__pid_file(dirfd, USHM__KEEPER_PID);
}

static int connect_keeper(struct ushm__keeper *k, int dirfd)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sock_addr(&sa, dirfd);
	/* (a stopped keeper's full backlog would block connect forever) */
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Only our own user can reach the socket (the directory is ours,
	 * 0700); a socket that someone else bound is not a keeper. */
	if (peer_uid(fd, NULL) != geteuid()) {
		close(fd);
		return -EPERM;
	}
	k->fd = fd;
	k->pid = read_pid(dirfd);
	return 0;
}

int ushm__keeper_open(struct ushm__keeper *k, int dirfd)
{
	int err;

	k->fd = -1;
	err = connect_keeper(k, dirfd);
	/* Only when no keeper listens is another started: starting one
	 * removes the socket of any other, which then ends, and with it
	 * what it holds.  A keeper that is there but does not answer (a
	 * stopped one) is an error for the administrator. */
	if (err != -ENOENT && err != -ECONNREFUSED)
		return err;
	err = spawn(k, dirfd);
	if (err < 0)
		return err;
	return connect_keeper(k, dirfd);
}

void ushm__keeper_close(struct ushm__keeper *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	ushm__keeper_reap(k);
}

void ushm__keeper_reap(struct ushm__keeper *k)
{
	if (k->child > 0 && waitpid(k->child, NULL, WNOHANG) == k->child)
		k->child = 0;
}

int ushm__keeper_put(struct ushm__keeper *k, int idx, int fd)
{
	return k->fd < 0 ? -ENOTCONN : send_msg(k->fd, K_PUT, idx, 0, fd);
}

int ushm__keeper_drop(struct ushm__keeper *k, int idx)
{
	return k->fd < 0 ? -ENOTCONN : send_msg(k->fd, K_DROP, idx, 0, -1);
}

int ushm__keeper_take_all(struct ushm__keeper *k,
			  void (*fn)(void *arg, int idx, int fd), void *arg)
{
	struct keeper_msg m = { 0 };
	uint32_t got = 0;
	int fd, r;

	if (k->fd < 0)
		return -ENOTCONN;
	r = send_msg(k->fd, K_LIST, -1, 0, -1);
	if (r < 0)
		return r;
	for (;;) {
		r = recv_msg(k->fd, &m, &fd, 0);
		if (r == -EPROTO)
			continue;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : r;
		if (m.op == K_END)
			return m.count == got ? 0 : -EIO;
		if (m.op == K_ENTRY && fd >= 0 && m.idx >= 0) {
			got++;
			fn(arg, m.idx, fd);
		} else if (fd >= 0) {
			close(fd);
		}
	}
}
