/*
 * server.h - ushmd's running state: the event loop, client connections
 * and the attachments each one holds.
 *
 * Attachments are counted by holder.  A holder is either a connection
 * (one per client process) or, right after a restart, an orphan: a live
 * process found mapping a segment that has not reconnected yet.  A
 * segment's nattch is the sum over its holders; a holder going away
 * (hang-up, process exit) detaches everything it held, which is exactly
 * when Linux would.
 */
#ifndef USHM_SERVER_H
#define USHM_SERVER_H

#include "daemon.h"

#include <stddef.h>
#include <sys/stat.h>

/* ITEM_LISTEN: the socket clients connect to; ITEM_LISTEN_FORK: the one
 * a parent connects to for its child (server.c: its accepts are
 * gathered with the departures). */
enum ushm__item_type { ITEM_LISTEN, ITEM_LISTEN_FORK, ITEM_SIGNAL, ITEM_CONN,
		      ITEM_CONN_EXIT, ITEM_ORPHAN, ITEM_DEPARTURES,
		      ITEM_KEEPER };

/* First member of everything registered in epoll. */
struct ushm__item {
	enum ushm__item_type type;
};

/* How many times a holder has attached one segment. */
struct ushm__hold {
	int id;
	uint32_t count;
};

struct ushm__holds {
	struct ushm__hold *v;
	size_t n, cap;
};

struct ushm__conn {
	struct ushm__item item;
	int fd;
	pid_t pid;        /* of the process using it, from its last request */
	/* The process's exit ends the connection too, even while a child
	 * it forked still holds a copy of the socket (see
	 * ushm__conn_watch). */
	int pidfd;
	pid_t watched;
	struct ushm__item exit_item;
	uid_t peer_uid;   /* SO_PEERCRED at connect */
	gid_t peer_gid;
	int ngroups;      /* SO_PEERGROUPS at connect */
	gid_t groups[USHM__NGROUPS_MAX];
	struct ushm__holds holds;
	/* The last AT, so that AT_UNDO can put atime and lpid back. */
	struct {
		int id;
		int64_t atime, new_atime;
		pid_t lpid, new_lpid;
	} undo;
	int at_pending;   /* an AT whose mmap the client may not have done
			     yet: its mappings are not to be recounted */
	int attached_err; /* -errno of the last ATTACHED refused since
			     the last SYNC (which reports it), or 0 */
	/* Accepted, and it may still hold what a parent queued for its
	 * child without waiting (REGISTER FORK|NOREPLY, FORKED) before
	 * the child's HELLO: served by the barrier (loop.c). */
	int settling;
	int unwatched;    /* closed at the other end before it was
			     accepted: served (no reply: nobody can read
			     one) and departed without being watched */
	int gathered;     /* from the fork socket: in the departures set
			     only, so what comes on it is gathered (it
			     carries only the fork protocol's notes) */
	int named;        /* the child said HELLO (or its parent FORKED):
			     c->pid is the process that uses it */
	int for_child;    /* a parent registered a child's attachments on
			     it, and the child is not named yet: not the
			     parent's, whatever c->pid says */
	/* Its process is gone, found while serving a message: it departs
	 * at the barrier's next departures, after the connections not
	 * yet accepted, whose REGISTER may copy what it holds (a child
	 * that forked, then exited). */
	uint64_t departing; /* 0, or when it was found gone (a count) */
	int dead;         /* closed; freed at the end of the loop pass */
	struct ushm__conn *next;
};

struct ushm__orphan {
	struct ushm__item item;
	pid_t pid;
	int pidfd;
	struct ushm__holds holds;
	int dead;
	struct ushm__orphan *next;
};

struct ushm__server {
	int epfd;
	/* The departures set (loop.c): what must be handled before any
	 * request is served: hang-ups, exits, new connections and what
	 * a settling connection holds.  Itself in epfd. */
	int depfd;
	struct ushm__item dep_item;
	/* Gathering departures (loop.c): set by the daemon's own loop,
	 * off for the fuzzer's pump.  dep_due: when the departures seen
	 * last will be handled, if no request comes first (0: none
	 * seen; the departures set then wakes the loop again). */
	int dep_gather;
	int64_t dep_due;
	int in_barrier;
	int listen_fd;
	int fork_fd;      /* listening at socket_path + USHM__FORK_SUFFIX,
			     or -1 (server.c) */
	int signal_fd;
	int reserve_fd;   /* given up to accept-and-close when out of fds */
	int log_fd;       /* STATE/ushmd.log (USHM__SERVER_LOG_FILE), until
			     main() takes it over */
	struct ushm__item listen_item, fork_item, signal_item, keeper_item;
	struct ushm__registry reg;
	struct ushm__store *store;
	struct ushm__pub pub; /* the table clients read (publish.c) */
	struct ushm__conn *conns;
	struct ushm__orphan *orphans;
	uint64_t nconns;
	uint64_t ndeparting; /* connections with departing set */
	uint64_t departures; /* processes found gone so far (their order) */
	uint64_t loop_adds;  /* descriptors ushm__loop_add has watched */
	int64_t started;
	char socket_path[108];
	struct stat socket_bound; /* the path as this daemon bound it */
	struct stat fork_bound;   /* the fork socket's, likewise */
	char state_dir[256];
	int stopping;
	unsigned spin_ns; /* how long it looks for work before it sleeps
			     after a pass that replied (spin.h) */
	uint64_t replies; /* replies sent so far */
	uint64_t followed; /* notes served that a call often follows */
	int notes_held;    /* the barrier's pass over the notes left one
			      for after its rounds (ushm__dispatch_barrier) */
	/* Connections one user may hold (0: no limit); spares the users
	 * ushm__quota_applies spares. */
	uint64_t max_conns_per_uid;
	int fd_ceiling;    /* a connection on this fd or above is refused
			      (0: none) */
	uint64_t refused;           /* connections turned away */
	/* The index of the segment the last /proc maps line matched: a
	 * cache for recover.c's search (any index is safe: it is looked
	 * up in the table). */
	int last_hit_idx;
	uint64_t served[USHM__OPS_MAX]; /* requests served, by op (STATUS) */
	struct ushm__log_limit refused_logged;
};

/* ---- holders.c ---- */

/* Adds n to the count of id in h.  0 or -ENOMEM. */
int ushm__holds_add(struct ushm__holds *h, int id, uint32_t n);
/* Takes up to n from the count of id in h; returns how many it took. */
uint32_t ushm__holds_take(struct ushm__holds *h, int id, uint32_t n);
uint32_t ushm__holds_count(const struct ushm__holds *h, int id);
void ushm__holds_free(struct ushm__holds *h);
/* Detaches everything h holds, as pid at now (connection closed, process
 * exited), destroying SHM_DEST segments left without attachments. */
void ushm__holds_release(struct ushm__server *srv, struct ushm__holds *h,
			 pid_t pid, int64_t now);
/* Moves up to n attachments of id that pid holds through other holders
 * (its other connections, its orphan record) into dst, silently.
 * Returns how many it moved. */
uint32_t ushm__holds_adopt(struct ushm__server *srv, struct ushm__conn *dst,
			   pid_t pid, int id, uint32_t n);
/* How many attachments of id pid holds through connections other than
 * self. */
uint32_t ushm__holds_elsewhere(struct ushm__server *srv,
			       const struct ushm__conn *self, pid_t pid, int id);

/* ---- conn.c: the transport (dispatch.h: what each op does) ---- */

/* Accepts every pending connection (of both sockets), serving at once
 * what a parent queued on it for its child and the notes after it
 * (ushm__conn_settled_data). */
void ushm__conn_accept(struct ushm__server *srv);
/* Serves the no-reply messages queued at the head of a settling
 * connection (a parent's REGISTER FORK|NOREPLY and FORKED, its child's
 * HELLO); the first request that waits for a reply settles it. */
void ushm__conn_settle(struct ushm__server *srv, struct ushm__conn *c);
/* What a connection just taken, or with data in the departures set,
 * gets: settled, then the notes queued after those that settled it
 * served; a fork socket's connection that asks something joins the
 * main set (ushm__loop_promote). */
void ushm__conn_settled_data(struct ushm__server *srv, struct ushm__conn *c);
/* Serves the no-reply messages queued at the head of c (shmdt and shmat
 * the client did already, fork notes), up to a bound: what it did before
 * it sent anything that waits. */
void ushm__conn_notes(struct ushm__server *srv, struct ushm__conn *c,
		      int hold);
/* The connection whose exit_item this is. */
struct ushm__conn *ushm__conn_of_exit(struct ushm__item *it);
/* Reads and serves at most max of the requests queued on c. */
void ushm__conn_serve(struct ushm__server *srv, struct ushm__conn *c,
		      int max);
/* c no longer needs the barrier's attention for its data (it sent a
 * request that waits, or its child named itself). */
void ushm__conn_settle_done(struct ushm__server *srv, struct ushm__conn *c);
/*
 * Watches the exit of pid, the process now using c.  A connection ends
 * when its process exits, not only when the socket hangs up: a child the
 * process forked holds a copy of the socket until its fork handler closes
 * it, and a parent's waitpid() must already see the process detached.
 * Linux signals a pidfd before it wakes the parent, so the exit is
 * pending before the parent's next request.  Returns 1 if pid has
 * already exited.
 */
int ushm__conn_watch(struct ushm__server *srv, struct ushm__conn *c,
		     pid_t pid);
/* Sends rep as the reply to op, with the nfds (at most 2) descriptors of
 * fds attached.  0 or -errno. */
int ushm__conn_reply(struct ushm__server *srv, struct ushm__conn *c,
		     struct ushm__rep *rep, unsigned op, const int *fds,
		     int nfds);
/* Detaches what c holds and closes it; freed by ushm__conn_reap. */
void ushm__conn_close(struct ushm__server *srv, struct ushm__conn *c);
void ushm__conn_reap(struct ushm__server *srv);

/* ---- recover.c ---- */

/* A pidfd for pid (close-on-exec), or -1 with errno. */
int ushm__pidfd_open(pid_t pid);

/* After loading the store: finds live processes that map segments,
 * records them as orphans watched by pidfd, and destroys SHM_DEST
 * segments that nobody maps any more. */
void ushm__recover(struct ushm__server *srv);
void ushm__orphan_exit(struct ushm__server *srv, struct ushm__orphan *o);
/* How many mappings of segment s process pid has (from /proc/PID/maps),
 * or -1 when they cannot be read. */
int64_t ushm__maps_count(struct ushm__server *srv, pid_t pid,
			 const struct ushm__segment *s);
/* Counts pid's mappings of each segment into h (from /proc/PID/maps,
 * read once).  0, or -errno. */
int ushm__maps_holds(struct ushm__server *srv, pid_t pid,
		     struct ushm__holds *h);
/* Calls fn for each mapping of one of our segments in pid's
 * /proc/PID/maps, stopping at the first negative return.  0, or -errno
 * (the maps could not be read, or what fn returned). */
int ushm__maps_each(struct ushm__server *srv, pid_t pid,
		    int (*fn)(void *arg, struct ushm__segment *s,
			      uint64_t start, uint64_t end),
		    void *arg);
void ushm__orphan_reap(struct ushm__server *srv);

/* ---- rights.c ---- */

/* Makes the kernel refuse descriptors sent to socket fd (SO_PASSRIGHTS
 * off; inherited by the connections a listener accepts).  1 done, 0 not
 * available on this kernel, -errno. */
int ushm__refuse_rights(int fd);
/* Closes a descriptor a client sent, in a thread of its own: its last
 * close may block (FUSE, SO_LINGER), and must not block the loop. */
void ushm__discard_fd(int fd);

/* ---- loop.c ---- */

/* Creates the two epoll sets.  0 or -errno. */
int ushm__loop_open(struct ushm__server *srv);
/* Watches fd for it: listeners, process exits and orphans go to the
 * departures set, a connection to both (its hang-up and, while it
 * settles, its data to the departures set). */
int ushm__loop_add(struct ushm__server *srv, int fd, struct ushm__item *it,
		   uint32_t events);
/* A settled connection: only its hang-up is a departure now (but for a
 * fork socket's, whose data stays there).  0 or -errno. */
int ushm__loop_settled(struct ushm__server *srv, int fd,
		       struct ushm__item *it);
/* A fork socket's connection that asks something joins the main set,
 * to be served as any other.  0 or -errno. */
int ushm__loop_promote(struct ushm__server *srv, struct ushm__conn *c);
/* Handles every note queued without a reply (shmdt, shmat of a kept
 * descriptor), departure, new connection and settling message pending
 * now, except self's (the connection being served).  Called before each
 * request that waits for a reply. */
void ushm__loop_barrier(struct ushm__server *srv, struct ushm__conn *self);
/* The departures set woke the loop: handles what is pending there now
 * (a loop that does not gather departures: the fuzzer's pump), or once
 * DEPART_GATHER_NS has passed (the daemon's loop). */
void ushm__loop_departures_seen(struct ushm__server *srv);
/* The departures set's event was taken by a look at the main set that
 * does not handle it (the barrier's notes, the loop's spin), which
 * disarmed the set: gathered (or, without gathering, watched again). */
void ushm__loop_departures_taken(struct ushm__server *srv);
/* How long the loop may sleep before gathered departures are due, in
 * ms (-1: none gathered). */
int ushm__loop_departures_wait(const struct ushm__server *srv);
/* Handles the gathered departures if they are due, and watches the
 * departures set again (the end of a pass). */
void ushm__loop_departures_due(struct ushm__server *srv);
/* c's process is gone (found while serving its message): c departs at
 * the barrier's next departures, after the connections not accepted
 * yet, whose REGISTER (a child's, that forked and exited) may copy what
 * c holds; the pass runs the barrier before it ends. */
void ushm__conn_depart_later(struct ushm__server *srv, struct ushm__conn *c);
/* Serves the notes queued at the head of every connection but self
 * (ushm__conn_notes): the last part of the barrier, and what a change
 * of a segment's permissions or existence runs after it made the row's
 * gen odd. */
void ushm__loop_notes(struct ushm__server *srv, struct ushm__conn *self,
		      int hold);

/* ---- server.c: the server's life ---- */

/* What the server is to be (ushm__server_open). */
struct ushm__server_conf {
	const char *state_dir;
	/* Clients connect to listen_fd when it is a socket already
	 * listening (systemd's, the fuzzer's), which the server then owns;
	 * else (-1) socket_path is bound, with socket_mode.  socket_path
	 * is also what STATUS shows. */
	const char *socket_path;
	int listen_fd;
	int socket_mode;
	const struct ushm__limits *lim; /* copied */
	uint64_t max_conns_per_uid;     /* 0: no limit */
	int fd_ceiling;                 /* 0: none */
	int log_level;                  /* of the log file */
	unsigned flags;                 /* USHM__SERVER_* */
};

/* Stop at SIGTERM, SIGINT or SIGHUP (blocked, read from a signalfd) and
 * ignore SIGPIPE: the whole process's signals, so a daemon's choice. */
#define USHM__SERVER_SIGNALS 1u
/* Publish the table clients read (publish.c). */
#define USHM__SERVER_PUBLISH 2u
/* Log to STATE/ushmd.log from the moment the state directory is open
 * (srv->log_fd). */
#define USHM__SERVER_LOG_FILE 4u
/* Listen at socket_path + USHM__FORK_SUFFIX too, for the connections
 * parents make for their children (server.c). */
#define USHM__SERVER_FORK_SOCKET 8u

/* Opens the store, loads and recovers the segments, listens.  0 or
 * -errno (logged); either way ushm__server_close undoes it. */
int ushm__server_open(struct ushm__server *srv,
		      const struct ushm__server_conf *conf);
/* One pass of the loop: waits up to timeout_ms (-1: for ever, 0: not at
 * all) for what is ready and takes it.  The number of events taken (0:
 * none within the timeout), or -errno (-EINTR: a signal, call again). */
int ushm__server_pass(struct ushm__server *srv, int timeout_ms);
/* Passes until a signal (or an error: -errno) stops the server. */
int ushm__server_run(struct ushm__server *srv);
/* Closes every connection and everything the server holds; the
 * segments stay in the store.  A stopping server detaches nothing: its
 * clients' mappings outlive it, and the next daemon recovers them. */
void ushm__server_close(struct ushm__server *srv);

#endif /* USHM_SERVER_H */
