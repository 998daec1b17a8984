/*
 * loop.c - the event loop: one thread, two epoll sets (server.c takes
 * one pass at a time).
 *
 * nattch must be exact at every observation, as on Linux: right after
 * fork() returns, any process's IPC_STAT counts the child's inherited
 * attachments; the moment a parent's waitpid() returns for a child that
 * exited, was killed or exec'd, nattch no longer counts it.  Neither
 * event waits on the daemon (fork, exec and exit must never block on
 * it), so the daemon learns of them from messages and hang-ups that are
 * already queued when a later request arrives.  The barrier makes that
 * exact: before it serves any request that waits for a reply, the
 * daemon handles everything pending in the departures set:
 *  - what a settling connection holds (the parent's REGISTER, FORKED,
 *    the child's HELLO);
 *  - new connections (accepted, and what a parent queued on them for
 *    its child applied at once: ushm__conn_settle);
 *  - hang-ups (a child's exit or exec closes its connection before the
 *    kernel wakes its parent) and process exits (pidfds, signalled
 *    before the parent is woken as well): the holder's attachments are
 *    released, after its last queued requests are served.
 * Before all of these it serves the notes at the head of every other
 * connection with data: a shmdt or shmat the client did without waiting
 * (USHM__DT_NOREPLY, ATTACHED), which came before anything above.  All
 * but a detach sent after a fork whose REGISTER went on a connection of
 * its own (USHM__DT_AFTER_FORK): that REGISTER copies what the parent
 * holds, so such a detach is served after the rounds (and, served by a
 * pass, runs the barrier first).
 * Everything a client did before it sent a request is then reflected:
 * the request was sent after the parent's fork() or waitpid() returned,
 * so the connection, message or hang-up it depends on was queued first.
 * The departures set holds only these sources (never a connection's
 * ordinary requests), so the barrier costs two epoll_waits that return
 * nothing when nothing is pending (the first, of the main set, finds
 * the connections with messages queued, whose heads are looked at).
 * New connections are handled before departures (a parent registered
 * its child before it could exit), and after what the connections
 * already taken hold (a child named itself before it could fork).  A
 * process found gone while its connection's message is served (a
 * parent's FORKED for a child that has exited) departs with the others,
 * after new connections too: that child may have forked in turn, and
 * its own child's REGISTER copies what the connection holds.
 *
 * The fork protocol (src/lib/forkproto.c is the other side):
 *  1. fork's prepare handler, in the parent: connect a new connection
 *     to the fork socket (server.c), else the main one (non-blocking: a
 *     full backlog is a refusal, not a wait), or take the one the
 *     shim's fork connected ahead after the previous fork (idle here
 *     until now, holding nothing), and send
 *     the attachments the child will inherit as REGISTER with
 *     USHM__REG_FORK | USHM__REG_NOREPLY; nothing is read.
 *  2. In the child, first thing: HELLO on that connection (no reply):
 *     its pid, from its credentials, names the process whose exit ends
 *     the connection.  The parent's copy is closed.
 *  3. Under the shim, fork() itself is wrapped and knows the child's
 *     pid: the parent sends FORKED(pid) (no reply) before closing its
 *     copy, for a child killed before its first instruction.
 *  4. The child's exit, exec or death closes the connection; the
 *     barrier releases what it held before the parent's next request.
 * When the connection cannot be made without waiting (daemon backlog
 * full, its socket queue full), the child registers its inheritance at
 * its first call instead: nattch misses it until then.
 */
#define _GNU_SOURCE
#include "server.h"
#include "../common/spin.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 64
/* What a departing client may still have queued (its child's HELLO and
 * its parent's FORKED, a last request): served before it goes. */
#define DEPART_DRAIN 32

int ushm__loop_open(struct ushm__server *srv)
{
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0)
		return -errno;
	srv->depfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->depfd < 0)
		return -errno;
	srv->dep_item.type = ITEM_DEPARTURES;
	return ushm__loop_add(srv, srv->depfd, &srv->dep_item, EPOLLIN);
}

/*
 * Gathering departures.  Nobody waits for what the departures set holds
 * (hang-ups, process exits, a fork socket's connections and what comes
 * on them) until a request comes (whose barrier handles it all first)
 * or a client reads the table (which polls the same descriptors:
 * publish.c; the table says the daemon gathers, and a reader then asks
 * rather than wait for passes).  So the daemon need not wake for each:
 * a program that forks again and again (a fuzzer's fork server: a
 * connection, three messages and a hang-up a fork) would otherwise wake
 * it several times a fork, on the CPU the program needs.  The
 * departures set wakes the loop once (EPOLLONESHOT); what it holds is
 * handled DEPART_GATHER_NS later with whatever came meanwhile, and the
 * set is watched again.  What is not gathered: the main socket (a new
 * process's first call waits for its accept: in the main set too, each
 * of its events runs the barrier), and what comes on a connection
 * already taken from it, its hang-up included (in the main set).  A
 * forked child never waits on the gathering: its calls go on a
 * connection of its own (src/lib/session.c).  The cost: when two
 * children have both ended before the daemon took their connections,
 * which one ended last is not known (lpid; see
 * tests/conformance/known-differences).
 */
#define DEPART_GATHER_NS 1000000

static void departures_watch(struct ushm__server *srv)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
				  .data.ptr = &srv->dep_item };

	/* (Cannot fail for a descriptor in the set: level-triggered
	 * would only cost wake-ups, so a failure is not fatal either.) */
	(void)epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->depfd, &ev);
}

/* The departures set's event was taken by a look at the main set that
 * does not handle it (the barrier's notes, the loop's spin): taking it
 * disarmed the set, so it is gathered, or watched again at once. */
void ushm__loop_departures_taken(struct ushm__server *srv)
{
	if (srv->dep_gather) {
		if (!srv->dep_due) {
			srv->dep_due = ushm__mono_ns() + DEPART_GATHER_NS;
			ushm__pub_gathering(&srv->pub, 1);
		}
		return;
	}
	departures_watch(srv);
}

void ushm__loop_departures_seen(struct ushm__server *srv)
{
	if (!srv->dep_gather)
		ushm__loop_barrier(srv, NULL);
	ushm__loop_departures_taken(srv);
}

int ushm__loop_departures_wait(const struct ushm__server *srv)
{
	int64_t left;

	if (!srv->dep_due)
		return -1;
	left = srv->dep_due - ushm__mono_ns();
	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

void ushm__loop_departures_due(struct ushm__server *srv)
{
	if (!srv->dep_due || ushm__mono_ns() < srv->dep_due)
		return;
	srv->dep_due = 0;
	ushm__loop_barrier(srv, NULL);
	ushm__pub_gathering(&srv->pub, 0);
	departures_watch(srv);
}

int ushm__loop_add(struct ushm__server *srv, int fd, struct ushm__item *it,
		   uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = it };
	struct epoll_event dep = { .events = EPOLLRDHUP | EPOLLIN,
				   .data.ptr = it };
	int set = srv->epfd;

	switch (it->type) {
	case ITEM_LISTEN:
		/* A new process's first call waits for its connection to
		 * be taken: at once (the pass runs the barrier, which
		 * takes it in its order).  In the departures set too, for
		 * the barrier.  The fork socket's are gathered. */
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		set = srv->depfd;
		break;
	case ITEM_LISTEN_FORK:
	case ITEM_CONN_EXIT:
	case ITEM_ORPHAN:
		set = srv->depfd;
		break;
	case ITEM_CONN:
		/* Its hang-up, and its data while it settles.  A fork
		 * socket's connection only there: what comes on it is
		 * gathered. */
		if (((struct ushm__conn *)it)->gathered)
			set = srv->depfd;
		else if (epoll_ctl(srv->depfd, EPOLL_CTL_ADD, fd, &dep) < 0)
			return -errno;
		break;
	case ITEM_DEPARTURES:
		/* Wakes the loop once until it is watched again (see
		 * "Gathering departures"); clients poll it as it is. */
		ev.events |= EPOLLONESHOT;
		break;
	default:
		break;
	}
	/* (A connection's fd leaves both sets when it is closed.) */
	if (epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	srv->loop_adds++;
	/* What clients poll to see that the daemon has work pending (all
	 * but its signals).  Failing to watch makes them ask the daemon. */
	if (it->type != ITEM_SIGNAL)
		(void)ushm__pub_watch(&srv->pub, fd, events);
	return 0;
}

int ushm__loop_settled(struct ushm__server *srv, int fd,
		       struct ushm__item *it)
{
	struct epoll_event dep = { .events = EPOLLRDHUP, .data.ptr = it };

	/* A fork socket's connection keeps its data there: what comes
	 * after its HELLO (its parent's FORKED) is gathered too. */
	if (((struct ushm__conn *)it)->gathered)
		return 0;
	return epoll_ctl(srv->depfd, EPOLL_CTL_MOD, fd, &dep) < 0 ? -errno :
								    0;
}

int ushm__loop_promote(struct ushm__server *srv, struct ushm__conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.ptr = &c->item };

	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	c->gathered = 0;
	return ushm__loop_settled(srv, c->fd, &c->item);
}

/* A client leaves (hang-up, or its process exited): its last requests
 * are served first, then what it held is detached. */
static void depart(struct ushm__server *srv, struct ushm__conn *c)
{
	if (c->dead)
		return;
	ushm__conn_serve(srv, c, DEPART_DRAIN);
	ushm__conn_close(srv, c);
}

static int is_hangup(const struct epoll_event *ev)
{
	return ev->events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR);
}

/* Rounds of the barrier: each handles what one epoll_wait returns, and
 * may add what the next must see (a connection accepted, a process
 * watched that has already exited); the bound keeps a flood of
 * connections from holding a request forever. */
#define BARRIER_ROUNDS 16

/* The connections whose process was found gone while a message was
 * served (ushm__conn_serve): their departure waited for this.  In the
 * order they were found gone, which is the order their processes' last
 * messages were served: the last to go sets lpid, as the last to detach
 * does on Linux.  One departure may flag another (its drain serves
 * messages): the loop goes on until none is left.  No allocation: a
 * linear pick of the earliest, as few are flagged at a time. */
static void depart_flagged(struct ushm__server *srv, struct ushm__conn *self)
{
	while (srv->ndeparting > 0) {
		struct ushm__conn *first = NULL;

		for (struct ushm__conn *c = srv->conns; c; c = c->next)
			if (c->departing && !c->dead && c != self &&
			    (!first || c->departing < first->departing))
				first = c;
		if (!first)
			return; /* only self: it departs at the pass's end */
		depart(srv, first);
	}
}

void ushm__loop_barrier(struct ushm__server *srv, struct ushm__conn *self)
{
	struct epoll_event ev[MAX_EVENTS];

	if (srv->in_barrier) /* serving a departing client's last requests */
		return;
	srv->in_barrier = 1;
	int added_rounds = 0;
	/* Notes first: a parent's shmat or shmdt came before the fork
	 * whose child's registration the rounds below apply.  But not one
	 * it sent after such a fork (USHM__DT_AFTER_FORK): the child's
	 * REGISTER copies what the parent holds, so it is taken first, and
	 * those notes after the rounds. */
	srv->notes_held = 0;
	ushm__loop_notes(srv, self, 1);
	for (int round = 0; round < BARRIER_ROUNDS; round++) {
		int n = epoll_wait(srv->depfd, ev, MAX_EVENTS, 0);
		uint64_t adds = srv->loop_adds;
		uint64_t flagged_before = srv->departures;

		if (n < 0)
			n = 0; /* (EINTR: the flagged ones still depart) */
		/* What connections already taken hold first: a child's
		 * HELLO (or its parent's FORKED) names the process that a
		 * new connection's REGISTER comes from when that child
		 * forks in turn, and that REGISTER copies what the named
		 * connection holds (once the child has exited, nothing
		 * else shows it).  Then new connections (a parent
		 * registered its child before it could exit), then
		 * departures.  A settling connection that has hung up
		 * already is read here too: the child that named itself
		 * may have forked and exited at once. */
		for (int i = 0; i < n; i++) {
			struct ushm__item *it = ev[i].data.ptr;

			if (it->type == ITEM_CONN && (ev[i].events & EPOLLIN) &&
			    !((struct ushm__conn *)it)->dead)
				ushm__conn_settled_data(srv, (void *)it);
		}
		for (int i = 0; i < n; i++) {
			enum ushm__item_type t =
				((struct ushm__item *)ev[i].data.ptr)->type;

			if (t == ITEM_LISTEN || t == ITEM_LISTEN_FORK) {
				ushm__conn_accept(srv); /* (both sockets) */
				break;
			}
		}
		for (int i = 0; i < n; i++) {
			struct ushm__item *it = ev[i].data.ptr;

			/* (A connection flagged gone departs below, in the
			 * order found gone; one flagged as it settled above
			 * goes with this round's hang-ups, in their order.) */
			if (it->type == ITEM_CONN && is_hangup(&ev[i])) {
				struct ushm__conn *c = (void *)it;

				if (c != self &&
				    (!c->departing ||
				     c->departing > flagged_before))
					depart(srv, c);
			} else if (it->type == ITEM_CONN_EXIT) {
				struct ushm__conn *c = ushm__conn_of_exit(it);

				if (c != self && !c->departing)
					depart(srv, c);
			} else if (it->type == ITEM_ORPHAN) {
				ushm__orphan_exit(srv, (void *)it);
			}
		}
		depart_flagged(srv, self);
		/* Another round if this one may not have seen everything:
		 * it was full, or it added to the set (a connection
		 * accepted, a process watched that may be gone already) -
		 * twice at most for that, so that a user who keeps
		 * connecting cannot stretch every barrier. */
		if (n < MAX_EVENTS &&
		    (srv->loop_adds == adds || ++added_rounds > 2))
			break;
	}
	if (srv->notes_held)
		ushm__loop_notes(srv, self, 0);
	srv->in_barrier = 0;
}

/*
 * On Linux a shmdt or shmat that returned is seen by every later call;
 * here it is a note queued on its process's connection.  A request sent
 * after it (a child detaches, then tells its parent, which asks) must
 * see it, whatever order a pass takes the connections in: so the notes
 * at the head of every other connection with data in the main set are
 * served first.  (Those of a connection accepted during the barrier are
 * served as it settles.)
 */
void ushm__loop_notes(struct ushm__server *srv, struct ushm__conn *self,
		      int hold)
{
	struct epoll_event ev[MAX_EVENTS];

	for (int round = 0; round < BARRIER_ROUNDS; round++) {
		int n = epoll_wait(srv->epfd, ev, MAX_EVENTS, 0);

		for (int i = 0; i < n; i++) {
			struct ushm__item *it = ev[i].data.ptr;

			if (it->type == ITEM_DEPARTURES)
				ushm__loop_departures_taken(srv);
			else if (it->type == ITEM_CONN && (void *)it != self &&
				 !((struct ushm__conn *)it)->dead &&
				 (ev[i].events & EPOLLIN))
				ushm__conn_notes(srv, (void *)it, hold);
		}
		if (n < MAX_EVENTS)
			break;
	}
}

