/*
 * conn.c - a client connection's transport: accept, receive, reply, and
 * the order in which its messages are served.
 *
 * Each request is one SEQPACKET record with the sender's SCM_CREDENTIALS
 * (the kernel fills or verifies them); the pid, uid and gid used for every
 * decision come from there.  A record that fails validation, carries
 * descriptors, or lacks credentials closes the connection: a well-behaved
 * client never sends one, so there is nobody to answer.  What each op
 * is and does is dispatch.c's.
 */
#define _GNU_SOURCE
#include "dispatch.h"
#include "../proto/cmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>


/*
 * Turns a new connection away: the client reads err (USHM__REP_REFUSED)
 * as the answer to its request, instead of a hang-up that it would take
 * for a dead daemon.  The same refusal of the same user is logged at most
 * once a second: a client that keeps retrying must not flood the log.
 */
static void refuse(struct ushm__server *srv, int fd, int err, uid_t uid,
		   const char *why)
{
	struct ushm__rep rep;

	memset(&rep, 0, sizeof(rep));
	ushm__hdr_init(&rep.hdr, USHM__REP_REFUSED, sizeof(rep), 0);
	rep.result = err;
	/* Best effort: a fresh socket's queue is empty, and a client gone
	 * already needs no answer. */
	(void)send(fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	srv->refused++;
	if (ushm__log_limit_pass(&srv->refused_logged, uid, why))
		ushm__log(USHM__LOG_WARN, "uid %ld: connection refused: %s",
			  (long)uid, why);
}

/* Live connections of uid. */
static uint64_t conns_of(const struct ushm__server *srv, uid_t uid)
{
	uint64_t n = 0;

	for (const struct ushm__conn *c = srv->conns; c; c = c->next)
		n += !c->dead && c->peer_uid == uid;
	return n;
}

/* Has the other side of the connection gone (every descriptor of it
 * closed: both directions shut)?  (A peer that only shut down writing
 * still reads.) */
static int hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) != 0;
}

/* Accepts every connection waiting on the listening socket lfd
 * (gathered: the fork socket's). */
static void accept_from(struct ushm__server *srv, int lfd, int gathered)
{
	for (;;) {
		struct ushm__conn *c;
		struct ucred uc;
		socklen_t len = sizeof(uc);
		gid_t groups[USHM__NGROUPS_MAX];
		socklen_t glen = sizeof(groups);
		int one = 1;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    srv->reserve_fd >= 0) {
				/* Out of descriptors: the reserve makes room
				 * to answer this client, rather than spin on
				 * a readable listener. */
				close(srv->reserve_fd);
				fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					refuse(srv, fd, -ENOMEM, (uid_t)-1,
					       "the daemon is out of "
					       "descriptors (raise its "
					       "RLIMIT_NOFILE)");
				srv->reserve_fd = open("/dev/null",
						       O_RDONLY | O_CLOEXEC);
				continue;
			}
			return; /* EAGAIN, or an error for the next pass */
		}
		/* SO_PASSCRED: the listener has it (server.c), so a
		 * connection has it from the start; one made before the
		 * listener had it (socket activation: clients connect
		 * before the daemon runs) gets it here.  (Not the fork
		 * socket's: the daemon always makes that one, flag first,
		 * and a fork server's every fork connects there.) */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 ||
		    (!gathered && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one,
					     sizeof(one)) < 0)) {
			close(fd);
			continue;
		}
		if (srv->fd_ceiling > 0 && fd >= srv->fd_ceiling) {
			refuse(srv, fd, -ENOMEM, uc.uid,
			       "the daemon is low on descriptors (raise its "
			       "RLIMIT_NOFILE)");
			continue;
		}
		if (srv->max_conns_per_uid &&
		    ushm__quota_applies(&srv->reg.lim, uc.uid) &&
		    conns_of(srv, uc.uid) >= srv->max_conns_per_uid) {
			refuse(srv, fd, -ENOMEM, uc.uid,
			       "max_conns_per_uid reached");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			refuse(srv, fd, -ENOMEM, uc.uid, "out of memory");
			continue;
		}
		c->item.type = ITEM_CONN;
		c->exit_item.type = ITEM_CONN_EXIT;
		c->pidfd = -1;
		c->fd = fd;
		c->pid = uc.pid;
		c->peer_uid = uc.uid;
		c->peer_gid = uc.gid;
		c->undo.id = -1;
		c->settling = 1;
		c->gathered = gathered;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) ==
		    0) {
			c->ngroups = (int)(glen / sizeof(gid_t));
			memcpy(c->groups, groups, glen);
		}
		/* A connection closed at the other end already (a fork
		 * server's child, gone before the daemon took the
		 * connection its parent made for it) is served and departs
		 * without being watched: the epoll sets' additions and
		 * removals a fork saved. */
		c->unwatched = hung_up(fd);
		if (!c->unwatched &&
		    ushm__loop_add(srv, fd, &c->item, EPOLLIN | EPOLLRDHUP) <
			    0) {
			free(c);
			refuse(srv, fd, -ENOMEM, uc.uid,
			       "epoll_ctl failed (max_user_watches?)");
			continue;
		}
		c->next = srv->conns;
		srv->conns = c;
		srv->nconns++;
		/* A parent that connected for its child queued the child's
		 * attachments before anything it did next: apply them now,
		 * before any departure is handled, and what the child sent
		 * since (a shmdt), which the barrier's notes, taken before
		 * this connection was, did not see. */
		ushm__conn_settled_data(srv, c);
		if (c->unwatched)
			ushm__conn_depart_later(srv, c);
	}
}

void ushm__conn_accept(struct ushm__server *srv)
{
	accept_from(srv, srv->listen_fd, 0);
	if (srv->fork_fd >= 0)
		accept_from(srv, srv->fork_fd, 1);
}

/* Is h, n bytes peeked at the head of a connection, a note's header? */
static int peeked_note(const struct ushm__hdr *h, ssize_t n)
{
	return n == (ssize_t)sizeof(*h) && h->magic == USHM__MAGIC &&
	       h->version == USHM__PROTO_VERSION && ushm__dispatch_is_note(h);
}

/* Is the next message queued on c a note?  1 yes, 0 no (a request, an
 * end, garbage, or nothing queued yet).  With hold, a note that must come
 * after what the barrier's rounds take is a no too, and srv says one was
 * held. */
static int note_next(struct ushm__server *srv, struct ushm__conn *c,
		     int hold)
{
	struct ushm__hdr h;
	ssize_t n;

	do
		n = recv(c->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (!peeked_note(&h, n))
		return 0;
	if (hold && ushm__dispatch_barrier(&h)) {
		srv->notes_held = 1;
		return 0;
	}
	return 1;
}

/* Notes one pass serves from one connection: bounded, so that a client
 * that keeps sending notes cannot hold another's request. */
#define NOTES_MAX 64

void ushm__conn_notes(struct ushm__server *srv, struct ushm__conn *c,
		      int hold)
{
	for (int i = 0; i < NOTES_MAX && !c->dead && note_next(srv, c, hold);
	     i++)
		ushm__conn_serve(srv, c, 1);
}

void ushm__conn_settle_done(struct ushm__server *srv, struct ushm__conn *c)
{
	if (!c->settling)
		return;
	c->settling = 0;
	if (c->unwatched)
		return;
	if (ushm__loop_settled(srv, c->fd, &c->item) < 0)
		ushm__conn_close(srv, c); /* it would keep the loop awake */
}

/* Notes one settling pass serves: a fork's REGISTERs (48 attachments
 * each) and its HELLO and FORKED.  A client that keeps sending notes gets
 * no more served ahead of other clients' requests than this per barrier;
 * the rest wait for the next one. */
#define SETTLE_MAX 8

void ushm__conn_settle(struct ushm__server *srv, struct ushm__conn *c)
{
	for (int i = 0; i < SETTLE_MAX && c->settling && !c->dead; i++) {
		struct ushm__hdr h;
		ssize_t n = recv(c->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue; /* (counted: a signal storm must not hold it) */
		if (n < 0 && errno == EAGAIN)
			return; /* nothing queued yet */
		if (peeked_note(&h, n))
			ushm__conn_serve(srv, c, 1);
		else /* a request that waits, an end, garbage: in order */
			ushm__conn_settle_done(srv, c);
	}
}

void ushm__conn_settled_data(struct ushm__server *srv, struct ushm__conn *c)
{
	char b;

	ushm__conn_settle(srv, c);
	if (c->dead || c->settling)
		return;
	/* The notes after those that settled it (a child's shmdt sent
	 * before the daemon took its connection). */
	ushm__conn_notes(srv, c, 0);
	/* Something other than a note (a request, garbage) is served in
	 * order by the main set's passes; an end is the barrier's. */
	if (c->gathered && !c->unwatched && !c->dead &&
	    recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0 &&
	    ushm__loop_promote(srv, c) < 0)
		ushm__conn_close(srv, c); /* it would keep the loop awake */
}

void ushm__conn_close(struct ushm__server *srv, struct ushm__conn *c)
{
	if (c->dead)
		return;
	/* Closing removes the fds from the epoll set. */
	close(c->fd);
	c->fd = -1;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->dead = 1;
	srv->nconns--;
	if (c->departing)
		srv->ndeparting--;
	if (!srv->stopping)
		ushm__holds_release(srv, &c->holds, c->pid, ushm__now());
}

void ushm__conn_reap(struct ushm__server *srv)
{
	struct ushm__conn **pp = &srv->conns;

	while (*pp) {
		struct ushm__conn *c = *pp;

		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		ushm__holds_free(&c->holds);
		free(c);
	}
}

struct ushm__conn *ushm__conn_of_exit(struct ushm__item *it)
{
	return (struct ushm__conn *)((char *)it -
				     offsetof(struct ushm__conn, exit_item));
}

int ushm__conn_watch(struct ushm__server *srv, struct ushm__conn *c,
		     pid_t pid)
{
	struct pollfd pfd;

	if (c->watched == pid)
		return 0;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->watched = pid;
	c->pidfd = ushm__pidfd_open(pid);
	if (c->pidfd < 0)
		return errno == ESRCH;
	if (ushm__loop_add(srv, c->pidfd, &c->exit_item, EPOLLIN) < 0) {
		close(c->pidfd);
		c->pidfd = -1;
		return 0;
	}
	pfd.fd = c->pidfd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 1;
}

int ushm__conn_reply(struct ushm__server *srv, struct ushm__conn *c,
		     struct ushm__rep *rep, unsigned op, const int *fds,
		     int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	int entered, err;

	ushm__hdr_init(&rep->hdr, op, sizeof(*rep), 0);
	err = ushm__cmsg_put(&mh, NULL, fds, nfds);
	if (err < 0)
		return err;
	/* What the request did is published: the client may read the
	 * table the moment it has this (see publish.c). */
	entered = ushm__pub_leave(&srv->pub);
	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the client sends without reading replies; a client
	 * that does that is dropped. */
	err = n == (ssize_t)sizeof(*rep) ? 0 : -errno;
	if (entered)
		ushm__pub_enter(&srv->pub);
	srv->replies++;
	return err;
}

/*
 * Receives one record.  Returns its length, 0 at end of stream, -EAGAIN
 * when none is queued, -EBADMSG when it must not be served (descriptors
 * attached, credentials missing, truncated).  The kernel refuses
 * descriptors to our sockets where it can (rights.c); any that still
 * arrive are closed away from this thread.
 */
static ssize_t receive(struct ushm__conn *c, void *buf, size_t len,
		       struct ucred *uc)
{
	union {
		/* Room for as many descriptors as one message can carry
		 * (SCM_MAX_FD): any that did not fit would be closed by the
		 * kernel in this thread. */
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(253 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int have_creds = 0, bad = 0;
	ssize_t n;

	do
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
				ushm__discard_fd(fd);
			}
			bad = 1;
		} else if (cm->cmsg_type == SCM_CREDENTIALS &&
			   cm->cmsg_len == CMSG_LEN(sizeof(*uc))) {
			memcpy(uc, CMSG_DATA(cm), sizeof(*uc));
			have_creds = uc->pid > 0;
		}
	}
	if (n == 0)
		return 0;
	if (bad || !have_creds || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return -EBADMSG;
	return n;
}

/* Credentials for one request: pid, uid, gid as the kernel vouched for
 * them; the supplementary groups of the connection only while the
 * process still has the identity it connected with. */
static void cred_of(const struct ushm__conn *c, const struct ucred *uc,
		    struct ushm__cred *cr)
{
	cr->pid = uc->pid;
	cr->pidfd = -1; /* the watch, once it is taken */
	cr->caps = -1;  /* looked up when a refusal depends on them */
	cr->uid = uc->uid;
	cr->gid = uc->gid;
	cr->ngroups = 0;
	if (uc->uid == c->peer_uid && uc->gid == c->peer_gid) {
		cr->ngroups = c->ngroups;
		memcpy(cr->groups, c->groups,
		       (size_t)c->ngroups * sizeof(gid_t));
	}
}

void ushm__conn_serve(struct ushm__server *srv, struct ushm__conn *c,
		      int max)
{
	union {
		struct ushm__req req;
		char buf[USHM__MSG_MAX];
	} m;

	for (int i = 0; i < max && !c->dead; i++) {
		struct ushm__cred cr;
		struct ucred uc = { 0 };
		int gone, for_child;
		ssize_t n = receive(c, m.buf, sizeof(m.buf), &uc);
		int err;

		if (n == -EAGAIN)
			return;
		if (n == 0 && !srv->in_barrier) {
			/* A hang-up seen by a pass: the client departs at
			 * the pass's barrier, after the connections waiting
			 * to be accepted (gathered: loop.c), one of which
			 * may be its child's, whose REGISTER copies what
			 * this one holds. */
			ushm__conn_depart_later(srv, c);
			return;
		}
		if (n <= 0) {
			if (n < 0)
				ushm__log_for(c->peer_uid, USHM__LOG_INFO,
					      "pid %ld: bad message; closed",
					      (long)c->pid);
			ushm__conn_close(srv, c);
			return;
		}
		err = ushm__req_check(m.buf, (size_t)n, 0);
		if (err == -EPROTO || err == -EINVAL) {
			/* Another version, or an op this daemon lacks: say
			 * so, and keep serving the client. */
			struct ushm__rep rep;

			memset(&rep, 0, sizeof(rep));
			rep.result = err;
			if (ushm__conn_reply(srv, c, &rep, m.req.hdr.op, NULL,
					     0) < 0)
				ushm__conn_close(srv, c);
			continue;
		}
		if (err < 0) {
			ushm__log_for(c->peer_uid, USHM__LOG_INFO,
				      "pid %ld: invalid request (%s); closed",
				      (long)uc.pid, strerror(-err));
			ushm__conn_close(srv, c);
			return;
		}
		/* A parent registering or naming its child on the child's
		 * connection is not the process that will use it: neither
		 * its pid nor its exit is the connection's (a child that
		 * registers on its own connection is the peer it connected
		 * as).  The child is watched from its first message on. */
		for_child = ushm__dispatch_for_child(&m.req.hdr);
		if (!for_child)
			c->pid = uc.pid;
		cred_of(c, &uc, &cr);
		/* A request that waits for its reply: everything sent
		 * before it (forks, exits, hang-ups) is applied first. */
		if (!ushm__dispatch_is_note(&m.req.hdr)) {
			ushm__conn_settle_done(srv, c);
			if (c->dead)
				return;
			ushm__loop_barrier(srv, c);
		} else if (ushm__dispatch_barrier(&m.req.hdr)) {
			/* (Within a barrier: after its rounds, see
			 * ushm__loop_barrier.) */
			ushm__loop_barrier(srv, c);
		}
		/* (A connection taken closed departs already, and its
		 * process, whoever it was, cannot read a reply.) */
		gone = c->unwatched ? 1 :
		       for_child    ? 0 :
				      ushm__conn_watch(srv, c, uc.pid);
		if (!for_child)
			cr.pidfd = c->pidfd;
		/* A descriptor is for the process that asked: whoever else
		 * holds the connection once it is gone gets none. */
		if (gone && ushm__dispatch_asker_only(&m.req.hdr)) {
			ushm__conn_close(srv, c);
			return;
		}
		if (ushm__dispatch(srv, c, &cr, &m.req) < 0) {
			ushm__conn_close(srv, c);
			return;
		}
		/* (A process gone sends nothing more.) */
		if (!gone && ushm__dispatch_followed(&m.req.hdr))
			srv->followed++;
		/* (Its later messages are still served, by the departure's
		 * drain: what the process did before it went counts.) */
		if (gone)
			ushm__conn_depart_later(srv, c);
	}
}

void ushm__conn_depart_later(struct ushm__server *srv, struct ushm__conn *c)
{
	if (c->departing || c->dead)
		return;
	c->departing = ++srv->departures; /* the order found gone */
	srv->ndeparting++;
}
