/*
 * conn.c - client connections: accept, receive, serve, reply.
 *
 * Each request is one SEQPACKET record with the sender's SCM_CREDENTIALS
 * (the kernel fills or verifies them); the pid, uid and gid used for every
 * decision come from there.  A record that fails validation, carries
 * descriptors, or lacks credentials closes the connection: a well-behaved
 * client never sends one, so there is nobody to answer.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

void ushm__conn_accept(struct ushm__server *srv)
{
	for (;;) {
		struct ushm__conn *c;
		struct ucred uc;
		socklen_t len = sizeof(uc);
		gid_t groups[USHM__NGROUPS_MAX];
		socklen_t glen = sizeof(groups);
		int one = 1;
		int fd = accept4(srv->listen_fd, NULL, NULL,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    srv->reserve_fd >= 0) {
				/* Out of descriptors: the reserve makes room
				 * to answer this client, rather than spin on
				 * a readable listener. */
				close(srv->reserve_fd);
				fd = accept4(srv->listen_fd, NULL, NULL,
					     SOCK_CLOEXEC);
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
		 * before the daemon runs) gets it here. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one,
			       sizeof(one)) < 0) {
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
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) ==
		    0) {
			c->ngroups = (int)(glen / sizeof(gid_t));
			memcpy(c->groups, groups, glen);
		}
		if (ushm__loop_add(srv, fd, &c->item, EPOLLIN | EPOLLRDHUP) <
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
		 * before any departure is handled. */
		ushm__conn_settle(srv, c);
	}
}

/* Sent without waiting for a reply: what a parent queues for its child
 * during fork, the child's HELLO, and a shmat or shmdt done already. */
static int is_note(const struct ushm__hdr *h)
{
	return (h->op == USHM__OP_REGISTER &&
		(h->flags & USHM__REG_NOREPLY)) ||
	       (h->op == USHM__OP_DT && (h->flags & USHM__DT_NOREPLY)) ||
	       h->op == USHM__OP_HELLO || h->op == USHM__OP_FORKED ||
	       h->op == USHM__OP_ATTACHED;
}

/* Is the next message queued on c a note?  1 yes, 0 no (a request, an
 * end, garbage, or nothing queued yet). */
static int note_next(struct ushm__conn *c)
{
	struct ushm__hdr h;
	ssize_t n;

	do
		n = recv(c->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(h) && h.magic == USHM__MAGIC &&
	       h.version == USHM__PROTO_VERSION && is_note(&h);
}

/* Notes one pass serves from one connection: bounded, so that a client
 * that keeps sending notes cannot hold another's request. */
#define NOTES_MAX 64

void ushm__conn_notes(struct ushm__server *srv, struct ushm__conn *c)
{
	for (int i = 0; i < NOTES_MAX && !c->dead && note_next(c); i++)
		ushm__conn_serve(srv, c, 1);
}

/* c no longer needs the barrier's attention for its data. */
static void settle_done(struct ushm__server *srv, struct ushm__conn *c)
{
	if (!c->settling)
		return;
	c->settling = 0;
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
		if (n == (ssize_t)sizeof(h) && h.magic == USHM__MAGIC &&
		    h.version == USHM__PROTO_VERSION && is_note(&h))
			ushm__conn_serve(srv, c, 1);
		else /* a request that waits, an end, garbage: in order */
			settle_done(srv, c);
	}
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

/*
 * Watches the exit of pid, the process now using c.  A connection ends
 * when its process exits, not only when the socket hangs up: a child the
 * process forked holds a copy of the socket until its fork handler closes
 * it, and a parent's waitpid() must already see the process detached.
 * Linux signals a pidfd before it wakes the parent, so the exit is
 * pending before the parent's next request.  Returns 1 if pid has
 * already exited.
 */
static int watch(struct ushm__server *srv, struct ushm__conn *c, pid_t pid)
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

/* Sends rep, with the nfds descriptors of fds attached.  0 or -errno. */
static int reply(struct ushm__server *srv, struct ushm__conn *c,
		 struct ushm__rep *rep, unsigned op, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int entered, err;

	ushm__hdr_init(&rep->hdr, op, sizeof(*rep), 0);
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
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
	return err;
}

static void undo_record(struct ushm__conn *c, const struct ushm__segment *s,
			int64_t atime, pid_t lpid)
{
	c->undo.id = s->m.id;
	c->undo.atime = atime;
	c->undo.lpid = lpid;
	c->undo.new_atime = s->m.atime;
	c->undo.new_lpid = s->m.lpid;
}

/* shmat: check, count, and hand over a descriptor of the right mode
 * (fd NULL: ATTACHED, the client mapped one it kept: check and count). */
static int serve_at(struct ushm__server *srv, struct ushm__conn *c,
		    const struct ushm__cred *cr, const struct ushm__req *q,
		    struct ushm__rep *rep, int *fd)
{
	struct ushm__segment *s;
	int64_t atime;
	pid_t lpid;
	int err;

	err = ushm__op_at(&srv->reg, cr, q->id, q->shmflg, &s);
	if (err < 0)
		return err;
	if (fd) {
		*fd = ushm__store_open_data(srv->store, s,
					    !!(q->shmflg & SHM_RDONLY));
		if (*fd < 0)
			return *fd == -EMFILE || *fd == -ENFILE ? -ENOMEM : *fd;
	}
	if (ushm__holds_add(&c->holds, s->m.id, 1) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	atime = s->m.atime;
	lpid = s->m.lpid;
	err = ushm__registry_attach(&srv->reg, s, 1, cr->pid, ushm__now());
	if (err < 0) {
		ushm__holds_take(&c->holds, s->m.id, 1);
		goto fail;
	}
	if (!fd) /* ATTACHED: mapped already, nothing to undo */
		return 0;
	undo_record(c, s, atime, lpid);
	c->at_pending = 1;
	rep->segsz = s->m.segsz;
	return 0;
fail:
	if (fd) {
		close(*fd);
		*fd = -1;
	}
	return err;
}

/*
 * shmctl.  IPC_RMID and IPC_SET change what decides a shmat, which
 * clients check against the published row when they attach from a
 * descriptor they kept (src/lib/attach.c): the row's gen goes odd first,
 * and then every ATTACHED already sent is counted, as of before the
 * change; a client whose ATTACHED comes later sees gen moved and asks
 * (SYNC) whether it was refused.
 */
static int64_t serve_ctl(struct ushm__server *srv, struct ushm__conn *c,
			 const struct ushm__cred *cr, const struct ushm__req *q,
			 struct ushm__ctl_out *out)
{
	int changes = (q->shmflg == IPC_RMID || q->shmflg == IPC_SET) &&
		      ushm__registry_find_id(&srv->reg, q->id);
	int idx = ushm__id_index(q->id);
	int64_t res;

	if (changes) {
		ushm__pub_gen_begin(&srv->pub, idx);
		ushm__loop_notes(srv, c);
	}
	res = ushm__op_ctl(&srv->reg, cr, q->id, q->shmflg, &q->set, q->size,
			   ushm__now(), out);
	if (changes)
		ushm__pub_gen_end(&srv->pub, idx);
	return res;
}

/* The client could not map what AT gave it: uncount it, and put atime
 * and lpid back unless someone changed them since. */
static int serve_at_undo(struct ushm__server *srv, struct ushm__conn *c,
			 int id)
{
	struct ushm__segment *s = ushm__registry_find_id(&srv->reg, id);

	if (!s || c->undo.id != id || ushm__holds_take(&c->holds, id, 1) == 0)
		return -EINVAL;
	c->undo.id = -1;
	if (s->m.atime == c->undo.new_atime && s->m.lpid == c->undo.new_lpid) {
		s->m.atime = c->undo.atime;
		s->m.lpid = c->undo.lpid;
	}
	ushm__registry_recount(&srv->reg, s, -1);
	return 0;
}

/* shmdt: the client removed n mappings of id (more than one if the
 * attachment had been split). */
static int serve_dt(struct ushm__server *srv, struct ushm__conn *c,
		    const struct ushm__cred *cr, int id, uint32_t n)
{
	struct ushm__segment *s = ushm__registry_find_id(&srv->reg, id);
	uint32_t took;

	if (!s || (took = ushm__holds_take(&c->holds, id, n)) == 0)
		return -EINVAL;
	ushm__registry_detach(&srv->reg, s, took, cr->pid, ushm__now());
	return 0;
}

/*
 * Does pid map segment s at [addr, addr + len)?  Asked of the kernel for
 * that one mapping (/proc/PID/map_files/START-END, which only a daemon
 * with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE may follow): O(1),
 * whatever else the process maps.  1 yes, 0 no (nothing mapped there,
 * another file, or an attachment split since), -1 not allowed to look.
 */
static int maps_at(pid_t pid, const struct ushm__segment *s, uint64_t addr,
		   uint64_t len, long page)
{
	char path[96];
	struct stat sb;
	uint64_t end;

	len = (len + (uint64_t)page - 1) & ~((uint64_t)page - 1);
	end = addr + len;
	if (len == 0 || end < addr)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/map_files/%llx-%llx",
		 (long)pid, (unsigned long long)addr, (unsigned long long)end);
	if (stat(path, &sb) < 0)
		return errno == EPERM || errno == EACCES ? -1 : 0;
	return sb.st_dev == s->dev && sb.st_ino == s->ino;
}

/*
 * REGISTER: attachments the process already maps.  FORK entries (a child
 * inheriting its parent's mappings) count as new attachments, updating
 * atime and lpid.  ADOPT entries move attachments the process holds
 * through another holder (an older connection, or an orphan record after
 * a restart) here, silently.  Either way, an entry must be backed by what
 * the daemon knows: the process holds the segment through another
 * connection, or it really maps the segment at the address the entry
 * gives (asked of the kernel for that mapping alone; a daemon not allowed
 * to look there, a per-user one, reads the process's maps once for the
 * whole request).  So no client can inflate a count, and a request costs
 * O(its entries), at most USHM__REG_MAX.  Returns the entries taken.
 */
static int serve_register(struct ushm__server *srv, struct ushm__conn *c,
			  const struct ushm__cred *cr,
			  const struct ushm__req *q)
{
	int adopt = !!(q->hdr.flags & USHM__REG_ADOPT);
	int64_t now = ushm__now();
	uint32_t parent, have;
	struct ushm__holds maps = { 0 };
	int maps_read = 0, taken = 0;

	for (uint32_t i = 0; i < q->count; i++) {
		const struct ushm__reg_entry *e = &q->ent[i];
		struct ushm__segment *s =
			ushm__registry_find_id(&srv->reg, e->id);
		int mapped;

		if (!s)
			continue;
		if (adopt && ushm__holds_adopt(srv, c, cr->pid, e->id, 1)) {
			taken++;
			continue;
		}
		/* A child's copy of what its parent holds through its own
		 * connection: no more than the parent holds.  Otherwise
		 * (nothing to take over, or no parent's count to copy) only
		 * what the process really maps counts. */
		parent = adopt ? 0 :
			 ushm__holds_elsewhere(srv, c, cr->pid, e->id);
		have = ushm__holds_count(&c->holds, e->id);
		if (parent > 0) {
			if (have >= parent)
				continue;
		} else {
			mapped = maps_at(cr->pid, s, e->addr, e->len,
					 srv->reg.page_size);
			if (mapped < 0) {
				if (!maps_read &&
				    ushm__maps_holds(srv, cr->pid, &maps) < 0)
					ushm__holds_free(&maps);
				maps_read = 1;
				mapped = ushm__holds_count(&maps, e->id) > have;
			}
			if (!mapped)
				continue;
		}
		if (ushm__holds_add(&c->holds, e->id, 1) < 0)
			continue;
		if (adopt) {
			ushm__registry_recount(&srv->reg, s, 1);
		} else if (ushm__registry_attach(&srv->reg, s, 1, cr->pid,
						 now) < 0) {
			ushm__holds_take(&c->holds, e->id, 1);
			continue;
		}
		taken++;
	}
	ushm__holds_free(&maps);
	return taken;
}

static void fill_status(struct ushm__server *srv, struct ushm__wire_status *st)
{
	uint64_t orphans = 0;

	for (struct ushm__orphan *o = srv->orphans; o; o = o->next)
		orphans += !o->dead;
	st->pid = (int32_t)getpid();
	st->proto_version = USHM__PROTO_VERSION;
	st->segments = (uint64_t)srv->reg.in_use;
	st->connections = srv->nconns;
	st->open_fds = ushm__open_fds();
	st->orphans = orphans;
	st->started = srv->started;
	memcpy(st->socket_path, srv->socket_path, sizeof(st->socket_path));
	memcpy(st->state_dir, srv->state_dir, sizeof(st->state_dir));
	memcpy(st->served, srv->served, sizeof(st->served));
}

/* Where serve_holders is in the list it pages through. */
struct holders_walk {
	struct ushm__wire_holders *out;
	uint32_t cursor;  /* first entry the client asked for */
	uint32_t index;   /* entries seen so far */
	int id;           /* the segment */
	pid_t pid;        /* the holder being scanned, and its count */
	uint32_t count;
	uint32_t found;   /* its mappings of the segment */
};

static void holders_put(struct holders_walk *w, uint64_t start, uint64_t end)
{
	struct ushm__wire_holders *o = w->out;

	if (w->index >= w->cursor && o->n < USHM__HOLDERS_MAX) {
		o->h[o->n].pid = (int32_t)w->pid;
		o->h[o->n].count = w->count;
		o->h[o->n].start = start;
		o->h[o->n].end = end;
		o->n++;
	}
	w->index++;
}

static int holders_range(void *arg, struct ushm__segment *s, uint64_t start,
			 uint64_t end)
{
	struct holders_walk *w = arg;

	if (s->m.id == w->id) {
		holders_put(w, start, end);
		w->found++;
	}
	return 0;
}

/* The numbers of a "Uid:" or "Gid:" line of /proc/PID/status (real,
 * effective, saved, fs) are all id? */
static int all_ids_are(pid_t pid, const char *field, unsigned long id)
{
	unsigned long v[4];

	return ushm__proc_ids(pid, field, v) == 0 && v[0] == id &&
	       v[1] == id && v[2] == id && v[3] == id;
}

/*
 * Could the caller read pid's /proc/PID/maps itself?  Linux lets a
 * process read another's maps when their uids and gids all match and the
 * target is dumpable (or with CAP_SYS_PTRACE, which only root is taken
 * to have here).  procfs owns /proc/PID by root when the process is not
 * dumpable, so that ownership, then every id, is what is checked; the
 * caller's identity is the request's.  The ids are the holder's, read
 * now, as the kernel reads them when maps is opened.
 */
static int may_read_maps(const struct ushm__cred *cr, pid_t pid)
{
	char path[64];
	struct stat sb;

	if (cr->uid == 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &sb) == 0 && sb.st_uid == cr->uid &&
	       sb.st_gid == cr->gid && all_ids_are(pid, "Uid", cr->uid) &&
	       all_ids_are(pid, "Gid", cr->gid);
}

/* One holder: an entry per mapping, or a bare one when its maps cannot
 * be read (or no longer show the segment: it is between shmat's reply
 * and its mmap), or when the caller could not read them itself: the
 * addresses of another user's process would defeat its ASLR. */
static void holders_one(struct ushm__server *srv, struct holders_walk *w,
			const struct ushm__cred *cr, pid_t pid,
			const struct ushm__holds *h)
{
	w->count = ushm__holds_count(h, w->id);
	if (w->count == 0)
		return;
	w->pid = pid;
	w->found = 0;
	if (!may_read_maps(cr, pid) ||
	    ushm__maps_each(srv, pid, holders_range, w) < 0 || !w->found)
		holders_put(w, 0, 0);
}

/*
 * HOLDERS: who has segment id attached, how many times and where, from
 * entry q->count on.  The kernel shows only nattch and lpid; this is the
 * rest of the story, under IPC_STAT's rule (read permission, or root);
 * addresses only of the holders whose maps the caller may read.
 * The list is rebuilt for every page, so a client paging through a
 * changing table may see an entry twice or miss one.
 */
static int64_t serve_holders(struct ushm__server *srv,
			     const struct ushm__cred *cr,
			     const struct ushm__req *q, struct ushm__rep *rep)
{
	struct holders_walk w = { .out = &rep->holders, .cursor = q->count,
				  .id = q->id };
	struct ushm__ctl_out out;
	int err;

	memset(&out, 0, sizeof(out));
	err = ushm__op_ctl(&srv->reg, cr, q->id, IPC_STAT, NULL, 0,
			   ushm__now(), &out);
	if (err < 0)
		return err;
	rep->ds = out.ds;
	for (struct ushm__conn *c = srv->conns; c; c = c->next)
		if (!c->dead)
			holders_one(srv, &w, cr, c->pid, &c->holds);
	for (struct ushm__orphan *o = srv->orphans; o; o = o->next)
		if (!o->dead)
			holders_one(srv, &w, cr, o->pid, &o->holds);
	rep->holders.total = w.index;
	return 0;
}

/* Is pid a child of parent (1), another process (0), or gone (-1)?
 * From /proc/PID/stat; a zombie has one too. */
static int child_of(pid_t pid, pid_t parent)
{
	char state;
	long ppid;
	int err = ushm__proc_stat(pid, &state, &ppid);

	if (err < 0)
		return err == -ENOENT ? -1 : 0;
	/* Being released: dead (X), its parent link already cut. */
	if (state == 'X' || ppid == 0)
		return -1;
	return ppid == parent;
}

/*
 * FORKED: the parent, right after fork(), names the child that owns the
 * connection it prepared.  The child announces itself too (HELLO), but
 * it may be killed before it runs a single instruction, and then only
 * this tells the daemon whose exit detaches the attachments (lpid).
 * By now the parent may have reaped a child killed at once; a pid that
 * names no process is taken at its word (it can only set lpid), one that
 * names a live process must name the sender's child.  Returns -1 when
 * the child is already gone: the connection ends now.
 */
static int serve_forked(struct ushm__server *srv, struct ushm__conn *c,
			const struct ushm__cred *cr, pid_t child)
{
	int rel = child > 0 ? child_of(child, cr->pid) : 0;

	if (rel == 0)
		return 0;
	c->pid = child;
	return rel < 0 || watch(srv, c, child) ? -1 : 0;
}

/* Serves one validated request; returns 0, or -1 to drop the client. */
/* (A note names the child or registers for it: no reply.) */
static int serve(struct ushm__server *srv, struct ushm__conn *c,
		 const struct ushm__cred *cr, const struct ushm__req *q)
{
	struct ushm__rep rep;
	struct ushm__ctl_out out;
	int fd = -1, err, pub_fds[2], npub = 0;
	int64_t res = 0;

	memset(&rep, 0, sizeof(rep));
	/* Any request means this process finished its last shmat. */
	c->at_pending = 0;
	/* Validated requests have an op below USHM__OP_END. */
	srv->served[q->hdr.op % USHM__OPS_MAX]++;
	switch (q->hdr.op) {
	case USHM__OP_GET:
		res = ushm__op_get(&srv->reg, cr, q->key, q->size, q->shmflg,
				   q->count, q->hdr.flags,
				   ushm__now());
		break;
	case USHM__OP_AT:
		res = serve_at(srv, c, cr, q, &rep, &fd);
		break;
	case USHM__OP_ATTACHED:
		/* Checked as AT is, as the process is now: a refusal (the
		 * segment changed since the client looked) is what its SYNC
		 * reports (src/lib/attach.c). */
		res = serve_at(srv, c, cr, q, &rep, NULL);
		if (res < 0)
			c->attached_err = (int)res;
		return 0;
	case USHM__OP_SYNC:
		res = c->attached_err;
		c->attached_err = 0;
		break;
	case USHM__OP_AT_UNDO:
		res = serve_at_undo(srv, c, q->id);
		break;
	case USHM__OP_DT:
		res = serve_dt(srv, c, cr, q->id, q->count);
		if (q->hdr.flags & USHM__DT_NOREPLY)
			return 0; /* the client is not waiting */
		break;
	case USHM__OP_CTL:
		memset(&out, 0, sizeof(out));
		res = serve_ctl(srv, c, cr, q, &out);
		rep.ds = out.ds;
		rep.info = out.info;
		break;
	case USHM__OP_REGISTER:
		if (q->hdr.flags & USHM__REG_NOREPLY)
			c->for_child = !c->named;
		res = serve_register(srv, c, cr, q);
		if (q->hdr.flags & USHM__REG_NOREPLY)
			return 0;
		break;
	case USHM__OP_HELLO:
		/* The pid was taken from its credentials. */
		c->named = 1;
		c->for_child = 0;
		settle_done(srv, c);
		return 0;
	case USHM__OP_FORKED:
		if (c->named) /* the child said HELLO first */
			return 0;
		c->named = 1;
		c->for_child = 0;
		settle_done(srv, c);
		return serve_forked(srv, c, cr, q->id);
	case USHM__OP_STATUS:
		fill_status(srv, &rep.status);
		break;
	case USHM__OP_TABLE:
		/* The published table and the watch set (the daemon
		 * keeps its own descriptors of them). */
		res = ushm__pub_fds(&srv->pub, pub_fds);
		npub = res == 0 ? 2 : 0;
		break;
	case USHM__OP_HOLDERS:
		res = serve_holders(srv, cr, q, &rep);
		break;
	case USHM__OP_STOP:
		if (cr->uid != 0 && cr->uid != geteuid()) {
			res = -EPERM;
			break;
		}
		srv->stopping = 1;
		break;
	default:
		return -1;
	}
	rep.result = res;
	err = fd >= 0 ? reply(srv, c, &rep, q->hdr.op, &fd, 1) :
			reply(srv, c, &rep, q->hdr.op, pub_fds, npub);
	if (fd >= 0)
		close(fd);
	if (err < 0) {
		ushm__log(USHM__LOG_DEBUG, "pid %ld: reply: %s", (long)c->pid,
			  strerror(-err));
		return -1;
	}
	return 0;
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
			if (reply(srv, c, &rep, m.req.hdr.op, NULL, 0) < 0)
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
		for_child = (m.req.hdr.op == USHM__OP_REGISTER &&
			     (m.req.hdr.flags & USHM__REG_FORK)) ||
			    m.req.hdr.op == USHM__OP_FORKED;
		if (!for_child)
			c->pid = uc.pid;
		cred_of(c, &uc, &cr);
		/* A request that waits for its reply: everything sent
		 * before it (forks, exits, hang-ups) is applied first. */
		if (!is_note(&m.req.hdr)) {
			settle_done(srv, c);
			if (c->dead)
				return;
			ushm__loop_barrier(srv, c);
		}
		gone = for_child ? 0 : watch(srv, c, uc.pid);
		/* A descriptor is for the process that asked: whoever else
		 * holds the connection once it is gone gets none. */
		if (gone && m.req.hdr.op == USHM__OP_AT) {
			ushm__conn_close(srv, c);
			return;
		}
		if (serve(srv, c, &cr, &m.req) < 0 || gone)
			ushm__conn_close(srv, c);
	}
}
