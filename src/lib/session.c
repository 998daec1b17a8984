/*
 * session.c - the process's one connection to ushmd and what hangs on
 * it: the table of its attachments, the daemon it uses, the published
 * table view.
 *
 * The connection belongs to the process that opened it, with the
 * identity it had then: before each request the library checks both.
 *  - After fork, the child must not share its parent's connection: the
 *    fork protocol (forkproto.c) gives it one of its own.
 *  - After setuid/setgid/setgroups, the daemon must see the new identity
 *    (SO_PEERCRED and SO_PEERGROUPS are fixed at connect), so the
 *    library reconnects and moves its attachments to the new connection.
 *  - When the daemon dies or is stopped, the next request reconnects
 *    (starting a daemon) and moves the attachments over as well.
 *
 * One mutex, the client lock, guards all of it.  What it never covers:
 * starting a daemon, and the pauses between attempts while a daemon
 * that died is replaced; a call that needs the daemon lets go of the
 * lock for those (they take up to seconds), so that the process's other
 * threads go on with calls that need no daemon (shmdt, a lookup in the
 * published table), the mapping wrappers and fork.  What it does cover,
 * and why, is said at ushm__transact.
 */
#define _GNU_SOURCE
#include "client.h"
#include "session.h"
#include "transport.h"
#include "../common/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GROUPS_SEEN 64

/* Who this process was when it connected. */
struct identity {
	pid_t pid;
	uid_t euid;
	gid_t egid;
	int ngroups;
	uint32_t groups_hash;
};

struct session {
	pthread_mutex_t lock;
	/* Moved on in each child (see entered_gen).  Never 0. */
	unsigned lock_gen;
	struct ushm__link link; /* the connection (link.fd -1: none) */
	int notes_inflight;     /* notes sent since the last reply: the
				   daemon may not have served them yet */
	int after_fork;         /* a fork's REGISTER went on a connection
				   of its own since the last reply */
	struct identity id;     /* of the process when link.fd was opened */
	int register_fork;      /* connect with the table as new attaches */
	struct ushm__attach_table table;
	/* The daemon's published table, fetched on first use after each
	 * connection (see table.c). */
	struct ushm__view view;
	/* The daemon this process uses, fixed at its first connection:
	 * kept across fork and setuid (a process keeps its namespace, as
	 * it keeps its kernel), never rediscovered. */
	int pinned;
	/* The connection establish() is registering the table on, before
	 * it becomes g.link's (-1: none): a child forked meanwhile by a
	 * signal handler must not read its replies
	 * (ushm__session_child_unforked). */
	int connecting_fd;
	ino_t connecting_ino;
	char sock_path[108];
	char state_dir[256];
};

/* libushm's one piece of process-wide state (see client.h). */
static struct session g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lock_gen = 1,
	.link = USHM__LINK_NONE,
	.view = { .watch_fd = -1 },
	.connecting_fd = -1,
};

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

static int identity_same(const struct identity *a, const struct identity *b)
{
	return a->euid == b->euid && a->egid == b->egid &&
	       a->ngroups == b->ngroups && a->groups_hash == b->groups_hash;
}

int ushm__session_register(int fd, uint32_t mode,
			   const struct ushm__sender *as)
{
	/* Sized for what is sent (up to USHM__REG_MAX entries a message):
	 * the fork handler builds it on the parent's stack, and a frame
	 * no deeper than needed writes fewer of its pages, each a fault in
	 * a process that forks again and again. */
	size_t batch = g.table.n < USHM__REG_MAX ? g.table.n : USHM__REG_MAX;
	uint64_t buf[(ushm__req_size((uint32_t)batch) + 7) / 8];
	struct ushm__req *req = (struct ushm__req *)buf;
	struct ushm__rep rep;
	size_t i = 0;

	_Static_assert(sizeof(struct ushm__req) +
			       USHM__REG_MAX * sizeof(struct ushm__reg_entry) <=
		       USHM__MSG_MAX, "REGISTER fits a message");
	_Static_assert(_Alignof(struct ushm__req) <= _Alignof(uint64_t),
		       "the buffer is aligned for a request");
	_Static_assert(sizeof(struct ushm__reg_entry) ==
			       2 * sizeof(uint32_t) + 2 * sizeof(uint64_t),
		       "an entry filled field by field leaves no byte unset");
	do {
		uint32_t k = 0;
		int64_t r;

		/* The header only: each entry is filled whole (no padding). */
		memset(req, 0, sizeof(*req));
		for (; i < g.table.n && k < batch; i++) {
			if ((mode & USHM__REG_FORK) &&
			    (g.table.v[i].advice & USHM__ADV_DONTFORK))
				continue;
			req->ent[k].id = g.table.v[i].id;
			req->ent[k].rdonly = (uint32_t)g.table.v[i].rdonly;
			req->ent[k].addr = g.table.v[i].addr;
			req->ent[k].len = g.table.v[i].len;
			k++;
		}
		if (k == 0)
			break;
		req->count = k;
		ushm__hdr_init(&req->hdr, USHM__OP_REGISTER, ushm__req_size(k),
			       mode);
		if (mode & USHM__REG_NOREPLY)
			r = ushm__send_as(fd, req, ushm__req_size(k),
					  MSG_DONTWAIT, as);
		else
			r = ushm__roundtrip(fd, req, ushm__req_size(k), &rep,
					    NULL, 0, NULL, as);
		if (r < 0)
			return (int)r;
	} while (i < g.table.n);
	return 0;
}

/* Where this process's daemon is: the socket it has used, else the one
 * the environment names now, and its state directory. */
static int daemon_place(char *path, size_t plen, char *state, size_t slen)
{
	int err;

	if (g.pinned) {
		snprintf(path, plen, "%s", g.sock_path);
		snprintf(state, slen, "%s", g.state_dir);
		return 0;
	}
	err = ushm__socket_path(path, plen);
	if (err == 0)
		err = ushm__state_dir_for(path, state, slen);
	return err;
}

/*
 * The first call of a process that is not the one g.id names: a child
 * made without fork handlers (clone, vfork that did not exec), or forked
 * by a signal handler that interrupted one of our calls (its handlers
 * skip the protocol).  Its copy of the parent's connection is not its
 * own, its inherited mappings are not counted yet (the next connection
 * registers them as a fork's), and the attachments its parent marked
 * MADV_DONTFORK are not in it.  pid: the process's, now g.id's, so that
 * establish() does not do it again after ensure() (twice is harmless).
 */
static void inheritance_sort_out(pid_t pid)
{
	ushm__link_drop(&g.link);
	ushm__pieces_forked(&g.table);
	g.register_fork = g.table.n > 0;
	/* Nor its copy of the connection the parent made ahead. */
	ushm__fork_ahead_drop();
	g.id.pid = pid;
}

/*
 * A connection for this process as it is now, to a daemon that runs (it
 * starts none: see start_daemon).  The old one, if any, stays open
 * until the new one has taken the attachments over, so that the daemon
 * never sees them dropped.
 *
 * A signal handler may fork anywhere in here (forkproto.c: a fork in a
 * handler that interrupted one of our calls skips the protocol),
 * and its child resumes where the parent was.  So the process is read
 * before the connection is made and checked after: a child that finds
 * itself holding a copy of the connection its parent made drops it and
 * makes its own.  From then until it is g.link's, the connection is
 * g.connecting_fd, which such a child's fork handler kills (its replies
 * are its maker's); and a child that comes here without having sorted
 * out what it inherited (its parent had passed ensure()'s check) does
 * it here, before it registers the table.
 */
static int establish(void)
{
	char path[sizeof(g.sock_path)], state[sizeof(g.state_dir)];
	struct identity now;
	int fd, err, shared = 0;
	uint32_t mode;

	err = daemon_place(path, sizeof(path), state, sizeof(state));
	if (err < 0)
		return err;
again:
	identity_now(&now);
	fd = ushm__connect(path);
	/* Forked between the socket's making and its connect, the two
	 * processes share it: the second to connect is told so, and makes
	 * another.  (A handler that forks at every signal of a storm may
	 * keep a process in that window: a few times, then the error.) */
	if (fd == -EISCONN && shared++ < 8)
		goto again;
	if (fd >= 0) {
		g.connecting_ino = ushm__socket_ino(fd);
		g.connecting_fd = fd;
		if (getpid() != now.pid) {
			g.connecting_fd = -1;
			(void)close(fd); /* our copy: the parent keeps its own */
			goto again;
		}
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
	if (g.id.pid != 0 && g.id.pid != now.pid)
		inheritance_sort_out(now.pid);
	if (g.table.n > 0) {
		struct ushm__sender as = { now.pid, now.euid, now.egid };

		mode = g.register_fork ? USHM__REG_FORK : USHM__REG_ADOPT;
		err = ushm__session_register(fd, mode, &as);
		if (err < 0) {
			g.connecting_fd = -1;
			close(fd);
			return err;
		}
	}
	g.register_fork = 0;
	ushm__link_drop(&g.link);
	/* The table of whichever daemon this is: fetched again on use. */
	ushm__view_drop(&g.view);
	ushm__link_take(&g.link, fd, ushm__socket_ino(fd), 0);
	g.id = now;
	g.connecting_fd = -1;
	if (!g.pinned) {
		memcpy(g.sock_path, path, sizeof(g.sock_path));
		memcpy(g.state_dir, state, sizeof(g.state_dir));
		/* Published last: readers without the lock (exec) see
		 * either no path or a whole one. */
		__atomic_store_n(&g.pinned, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

/* establish()'s result as ensure() gives it. */
static int connected_now(int err)
{
	return err < 0 ? err : 1;
}

/* Makes sure g.link belongs to this process with its current identity,
 * connecting to a daemon that runs if not: 0 (it did), 1 (connected now:
 * the new connection registered the table as it is), or -errno. */
static int ensure(void)
{
	struct identity now;

	/* Never connected: establish() reads who we are. */
	if (g.link.fd < 0 && g.id.pid == 0)
		return connected_now(establish());
	/* Read once for the whole call: the fork check below, the
	 * identity check, and the credentials the request carries
	 * (transact).  The fork check also when the connection is gone
	 * already (a daemon that died, a dead copy in a child forked by a
	 * signal handler, dropped by the call that found it so): a child
	 * still has its parent's table to sort out. */
	identity_now(&now);
	if (g.id.pid != now.pid)
		inheritance_sort_out(now.pid);
	if (g.link.fd < 0)
		return connected_now(establish());
	if (!ushm__link_ours(&g.link, g.link.fd)) {
		if (getpid() != now.pid) {
			/* A child forked by a signal handler that came as
			 * the parent was about to look: it compares its dead
			 * copy with the socket the parent knew. */
			inheritance_sort_out(getpid());
			return connected_now(establish());
		}
		/* The program closed it (a daemon closing every fd), and the
		 * number may be in use for something else now: so may the
		 * table's descriptor be, which is not ours to close. */
		g.view.watch_fd = -1;
		ushm__link_forget(&g.link);
	}
	/* A connection made inside fork for us carries only the fork
	 * protocol's notes, which the daemon gathers rather than wake
	 * for: our calls get one of our own, which takes our attachments
	 * over from it. */
	if (g.link.fd >= 0 && identity_same(&now, &g.id) && !g.link.raw)
		return 0;
	/* Its spare's descriptor for ours: a child that has used every
	 * other one still connects (the spare is made again on ours). */
	if (g.link.raw)
		ushm__link_unspare(&g.link);
	return connected_now(establish());
}

const struct ushm__attach_table *ushm__client_table(void)
{
	return &g.table;
}

/*
 * Is this thread taking, holding or letting go of the lock: lock's
 * generation when it began to take it, 0 when it is out.  Set before
 * the lock is taken and cleared after it is let go, so that a signal
 * handler that calls us at any point in between is told (it would wait
 * for ever on a lock its own thread holds), at worst while the thread
 * still waits for another's.  A forked child's thread is a copy of the
 * one that forked, inside the library then (the fork handlers hold the
 * lock): its copy is made stale by moving the generation on, which
 * writes nothing of the thread's own on the fork's path.  Initial-exec:
 * the library is loaded with the program, and a handler must not make
 * the TLS be allocated.
 */
static __thread unsigned entered_gen __attribute__((tls_model("initial-exec")));

static void lock_take(void)
{
	entered_gen = __atomic_load_n(&g.lock_gen, __ATOMIC_RELAXED);
	pthread_mutex_lock(&g.lock);
}

static void lock_give(void)
{
	pthread_mutex_unlock(&g.lock);
	entered_gen = 0;
}

struct ushm__attach_table *ushm__client_lock(void)
{
	ushm__fork_protocol_setup();
	lock_take();
	return &g.table;
}

void ushm__client_unlock(void)
{
	/* Nothing attached: no child to connect for (forkproto.c). */
	if (g.table.n == 0)
		ushm__fork_ahead_drop();
	lock_give();
}

int ushm__client_reentered(void)
{
	unsigned e = entered_gen;

	return e != 0 && e == __atomic_load_n(&g.lock_gen, __ATOMIC_RELAXED);
}

int ushm__client_refuse_reentry(void)
{
	/* (In a signal handler: write(2), not stdio.) */
	static const char msg[] =
		"ushm: a System V shared memory call made by a signal handler "
		"that interrupted another in the same thread: refused "
		"(EDEADLK), as the interrupted call holds the library's lock; "
		"make the call outside the handler, or block the signal "
		"around the calls it may interrupt\n";
	static int said;

	if (!ushm__client_reentered())
		return 0;
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	return -EDEADLK;
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

/* Nothing answers at the socket. */
static int no_daemon(int64_t r)
{
	return r == -ECONNREFUSED || r == -ENOENT;
}

/* A new daemon is not up yet (its predecessor still exiting, say). */
static int daemon_starting(int64_t r)
{
	return no_daemon(r) || daemon_gone(r);
}

/*
 * Starts a daemon where this process's is to be, and waits until it
 * accepts clients (ushm__autostart: up to seconds, serialised with other
 * starters by a lock file), without the client lock: called with it
 * held, takes it again before it returns.  0 or -errno.
 */
static int start_daemon(void)
{
	char path[sizeof(g.sock_path)], state[sizeof(g.state_dir)];
	int err;

	err = daemon_place(path, sizeof(path), state, sizeof(state));
	if (err < 0)
		return err;
	lock_give();
	err = ushm__autostart(path, state);
	lock_take();
	return err;
}

/* Waits a little longer at each attempt, 10, 20, ... 70 ms, without the
 * client lock (held on entry and on return). */
static void backoff(int attempt)
{
	struct timespec ts = { 0, attempt * 10 * 1000 * 1000L };

	lock_give();
	nanosleep(&ts, NULL);
	lock_take();
}

/*
 * ushm__transact and ushm__transact_held.  With may_wait, a daemon is
 * started when none answers, and one that died is waited for, without
 * the lock (start_daemon, backoff); everything is looked at again once
 * it is retaken (another thread may have connected meanwhile, or
 * forked, or changed identity).  Nothing of ours is in flight then: the
 * wait comes before the request is sent, or after the daemon it went to
 * died.
 *
 * What stays under the lock is the exchange itself, connect, send and
 * receive, bounded by USHM_TIMEOUT (transport.c), and it must: the
 * connection carries one request at a time and its replies are not
 * tagged, so the lock is what pairs a reply with its request (and the
 * owed late reply with its undo); a shmat holds it from the daemon's
 * grant until the table has the new piece, so that a fork (whose
 * handlers take it) never copies a table that differs from what the
 * daemon counted; and a connection is set up (the table registered on
 * it) as one step.
 */
static int64_t transact(struct ushm__req *req, size_t len,
			struct ushm__rep *rep, int *fd, int may_wait)
{
	struct ushm__sender as;
	int64_t r;

	for (int attempt = 0;; attempt++) {
		r = ensure();
		if (may_wait && no_daemon(r)) {
			r = start_daemon();
			if (r == 0)
				r = ensure();
		}
		/* A daemon that went away while a new connection of ours
		 * registered our attachments: as one that dies under a
		 * request, the next attempt connects again.  (So does a
		 * child forked by a signal handler, whose copy of that
		 * connection is a dead one: session_child_unforked.) */
		if (r < 0 && daemon_gone(r) && attempt < ATTEMPTS - 1) {
			if (attempt > 0 && may_wait)
				backoff(attempt);
			continue;
		}
		/* No daemon at the first attempt is an answer; after one
		 * died under us, its successor may still be on its way. */
		if (r < 0 && (!may_wait || attempt == 0 ||
			      attempt == ATTEMPTS - 1 || !daemon_starting(r)))
			return r;
		if (r < 0) {
			backoff(attempt);
			continue;
		}
		if (g.link.owed_op) {
			r = ushm__link_pay_owed(&g.link);
			if (r < 0)
				return r;
			if (g.link.fd < 0)
				continue; /* gone: reconnect at once */
		}
		/* A program using every low descriptor still gets the
		 * segment's: it lands in the spare's slot. */
		if (fd)
			ushm__link_unspare(&g.link);
		/* The dead daemon may have served the first attempt. */
		if (attempt > 0 && req->hdr.op == USHM__OP_GET)
			req->hdr.flags |= USHM__GET_RETRY;
		/* As ensure() read them for this call (establish() too,
		 * into g.id): a request's credentials cost no more reads.
		 * Another thread's seteuid since then (while an owed reply
		 * was read, say) is not seen by this request, as a call
		 * that began before it; one that dropped the old uid makes
		 * the kernel refuse it, and the request goes as we are now
		 * (ushm__roundtrip). */
		as.pid = g.id.pid;
		as.euid = g.id.euid;
		as.gid = USHM__FSGID;
		r = ushm__link_call(&g.link, req, len, rep, fd, fd ? 1 : 0,
				    &as);
		if (!daemon_gone(r) && !g.link.owed_op) {
			/* Served before the reply, after the barrier took
			 * what forks left pending. */
			g.notes_inflight = 0;
			g.after_fork = 0;
		}
		if (attempt == ATTEMPTS - 1 || !daemon_gone(r))
			return r;
		/* The daemon went away (or the program closed our socket):
		 * the next attempt reconnects, a new daemon recovers our
		 * attachments, and we adopt them. */
		ushm__link_drop(&g.link);
		if (attempt > 0 && may_wait)
			backoff(attempt);
	}
}

int64_t ushm__transact(struct ushm__req *req, size_t len,
		       struct ushm__rep *rep, int *fd)
{
	return transact(req, len, rep, fd, 1);
}

int64_t ushm__transact_held(struct ushm__req *req, size_t len,
			    struct ushm__rep *rep)
{
	return transact(req, len, rep, NULL, 0);
}

/* Is g.link this process's own connection now (not one made for it in
 * fork, not a copy of its parent's, not closed by the program)? */
static int link_own_now(void)
{
	return g.link.fd >= 0 && g.id.pid == getpid() && !g.link.raw &&
	       ushm__link_ours(&g.link, g.link.fd);
}

/* Sends a note on g.link (see ushm__notify). */
static int send_note(const struct ushm__req *req, size_t len,
		     const uid_t *euid)
{
	struct iovec iov = { (void *)req, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int err;

	if (euid) {
		struct ushm__sender as = { g.id.pid, *euid, USHM__FSGID };

		err = ushm__send_as(g.link.fd, req, len, 0, &as);
		if (err < 0)
			return err;
	} else {
		do
			n = sendmsg(g.link.fd, &mh, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if ((size_t)n != len)
			return -EPIPE;
	}
	g.notes_inflight = 1;
	return 0;
}

/*
 * A note on this process's own connection.  Without credentials of ours
 * (euid NULL) the kernel attaches the sender's pid and its REAL uid and
 * gid: enough for a note that only names the process (a shmdt is the
 * connection's, its pid sets lpid), three system calls where a request
 * costs nine.  A note the daemon checks permission for (ATTACHED) needs
 * the effective ones, as Linux checks them: given euid (which the caller
 * read for its own check), they go with it as with a request, the pid
 * being the one just checked.  -ENOTCONN when the process has no
 * connection of its own now (nothing was sent).
 */
int ushm__notify(const struct ushm__req *req, size_t len, const uid_t *euid)
{
	if (!link_own_now())
		return -ENOTCONN;
	return send_note(req, len, euid);
}

int ushm__client_euid_is(uid_t euid)
{
	return g.link.fd >= 0 && g.id.euid == euid;
}

int ushm__client_notes_inflight(void)
{
	return g.notes_inflight;
}

void ushm__client_forked(void)
{
	g.after_fork = 1;
}

int ushm__client_after_fork(void)
{
	return g.after_fork;
}

int ushm__client_settle(void)
{
	return link_own_now() ? 0 : ensure();
}

int ushm__client_ensure(void)
{
	return ensure();
}

void ushm__post(const struct ushm__req *req, size_t len)
{
	/* A daemon gone is found by the next call's request, which then
	 * reconnects and retries as for any daemon that died under it. */
	if (g.link.fd >= 0 && !g.link.raw)
		(void)send_note(req, len, NULL);
}

void ushm__client_respare(void)
{
	ushm__link_respare(&g.link);
}

const struct ushm__view *ushm__client_view(int own_count)
{
	struct ushm__req q;
	struct ushm__rep rep;
	int fds[2];
	int64_t r;

	/* The daemon first: with no connection yet; with a late reply
	 * still to read (a call that timed out: what it did, and what
	 * undoes it, go through the daemon); or in a child made without
	 * fork handlers, whose inherited attachments are not counted yet. */
	if (g.link.fd < 0 || g.link.owed_op ||
	    (own_count && g.table.n > 0 && g.id.pid != getpid()))
		return NULL;
	/* nattch counts our attachments only while our connection holds
	 * them: a program that closed it (and maybe reused its number)
	 * has them re-registered by the daemon path first. */
	if (own_count && g.table.n > 0 && !ushm__link_ours(&g.link, g.link.fd))
		return NULL;
	if (g.view.base && g.view.watch_fd < 0) /* lost with the connection */
		ushm__view_drop(&g.view);
	if (g.view.base)
		return &g.view;
	if (g.view.refused)
		return NULL;
	/* A program may have closed our socket and reused its number: the
	 * request below must not go to its file. */
	if (g.link.raw || !ushm__link_ours(&g.link, g.link.fd))
		return NULL;
	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_TABLE, sizeof(q), 0);
	r = ushm__link_call(&g.link, &q, sizeof(q), &rep, fds, 2, NULL);
	if (r < 0) {
		/* A daemon without a table (or of an older version, which
		 * does not know the request), or one whose uids are not
		 * ours (EPERM: another user namespace): never ask again on
		 * this connection.  A broken or slow one is found by the
		 * call's own request. */
		g.view.refused = r == -ENOSYS || r == -EINVAL ||
				 r == -EPROTO || r == -EPERM;
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
	r = ushm__roundtrip(fd, req, req->hdr.size, rep, NULL, 0, NULL, NULL);
	close(fd);
	/* Connected, but the daemon closed without answering: it was on
	 * its way out, so there is no daemon to report on. */
	return r == -EPIPE ? -ECONNREFUSED : r;
}

/* ---- for the fork protocol (session.h) ---- */

void ushm__session_lock(void)
{
	lock_take();
}

int ushm__session_forkable(char *path, size_t len, struct ushm__sender *as)
{
	struct identity now;
	size_t n;

	if (g.link.fd < 0 || g.table.n == 0)
		return 0;
	identity_now(&now);
	if (now.pid != g.id.pid || !identity_same(&now, &g.id) || !g.pinned)
		return 0;
	as->pid = now.pid;
	as->euid = now.euid;
	as->gid = now.egid; /* the fork protocol asks no permission */
	/* (No stdio: see ushm__fork_socket.) */
	n = strlen(g.sock_path);
	if (n >= len)
		return 0;
	memcpy(path, g.sock_path, n + 1);
	return 1;
}

/* Puts a socket never connected in place of fd, which the parent uses
 * too: every send and receive on it fails at once (ENOTCONN, which the
 * transport takes for a daemon gone).  With no descriptor to make one
 * with, fd is closed (EBADF, likewise). */
static void kill_copy(int fd)
{
	int dead = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (dead < 0) {
		(void)close(fd);
		return;
	}
	if (dup3(dead, fd, O_CLOEXEC) < 0)
		(void)close(fd);
	(void)close(dead);
}

void ushm__session_child_unforked(void)
{
	int link_ours = g.link.fd >= 0 && ushm__link_ours(&g.link, g.link.fd);

	/* The lock as the parent's threads left it: one that is not here
	 * may hold it, or this one, whose interrupted call then finishes
	 * unlocked (it is the only thread) and lets go of it at its end,
	 * which is harmless.  A call of the handler's is still refused
	 * until then (its mark is not made stale). */
	g.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	/* The spare is a copy of the parent's socket too; its descriptor
	 * is the one a dead socket can have at the descriptor limit. */
	ushm__link_unspare(&g.link);
	if (link_ours) {
		kill_copy(g.link.fd);
		/* Closed at the child's first call (ensure), like any
		 * connection copied from another process. */
		g.link.ino = ushm__socket_ino(g.link.fd);
	}
	if (g.connecting_fd >= 0 &&
	    ushm__socket_is(g.connecting_fd, g.connecting_ino))
		kill_copy(g.connecting_fd);
	g.connecting_fd = -1;
}

void ushm__session_child(int fd, ino_t ino, pid_t pid)
{
	ushm__link_drop(&g.link);
	ushm__pieces_forked(&g.table);
	/* (Made inside fork: only for the fork protocol's notes.) */
	if (fd >= 0)
		ushm__link_take(&g.link, fd, ino, 1);
	g.id.pid = pid;
	g.after_fork = 0; /* (the parent's fork) */
	/* Without a prepared connection, register on first use. */
	g.register_fork = fd < 0 && g.table.n > 0;
	/* The lock the parent's thread took for the fork, released by a
	 * store: this child has one thread, which needs it unlocked, and
	 * a first call of pthread_mutex_unlock would cost it a page of
	 * libc's code to fault in (see forkproto.c). */
	g.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	g.lock_gen = g.lock_gen + 1 ? g.lock_gen + 1 : 1;
}
