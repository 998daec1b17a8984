/*
 * server.c - the server's life: open, run one pass at a time, close.
 *
 * ushmd's main() and the fuzzer of the serve path (fuzz/fuzz_serve.c)
 * both go through here, so that what the fuzzer drives is the daemon's
 * own setup and its own loop.  A pass waits (up to a timeout: the daemon
 * waits for ever, the fuzzer not at all) for what is ready, then takes
 * it in the order loop.c explains: departures, new clients and signals
 * first, then one request per ready client.  What differs between the
 * two is chosen by the caller: the listening socket (bound here, or one
 * it hands over), and whether the server takes the process's signals,
 * publishes the table and logs to its state directory.
 */
#define _GNU_SOURCE
#include "server.h"
#include "../common/paths.h"
#include "../common/spin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Events one pass takes. */
#define PASS_EVENTS 64

/* Binds the listening socket.  A socket file left by a dead daemon is
 * replaced; one a live daemon answers on is not. */
static int listen_on(const char *path, int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ushm__log(USHM__LOG_ERR, "%s: path too long for a socket",
			  path);
		return -ENAMETOOLONG;
	}
	err = ushm__mkdir_socket_dir(path);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "%s: cannot make its directory: %s",
			  path, strerror(-err));
		return err;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		ushm__log(USHM__LOG_ERR, "%s: another daemon answers there",
			  path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	/* Every message must carry its sender's credentials, those a
	 * client attaches or, for a note sent without, the kernel's, which
	 * it attaches only if the receiving socket asks (SO_PASSCRED).  A
	 * connection takes the flag from the listener (at connect since
	 * Linux 6.16, at accept before): set here, before listen(), every
	 * connection has it from the start.  Set on the connection after
	 * accept4 only, a message sent in between would arrive with pid 0
	 * and be refused as a bad message. */
	if (ushm__refuse_rights(fd) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 },
		       sizeof(int)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, (mode_t)mode) < 0 || listen(fd, SOMAXCONN) < 0) {
		err = -errno;
		ushm__log(USHM__LOG_ERR, "%s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The fork socket: what a parent sends there for its child (the
 * child's attachments, HELLO, FORKED) and the child's exit are waited
 * for by nobody until a request comes, whose barrier handles them, so
 * the loop gathers them (loop.c) rather than wake several times a fork;
 * the child's own calls go on a connection it makes to the main socket,
 * which wakes the loop at once.  Without a fork socket (a path too
 * long, another daemon's socket there), parents connect to the main
 * one.  Same directory, mode, owner and group as the main socket (as
 * far as the daemon may give them): nobody may reach one but not the
 * other.
 */
static void fork_listen(struct ushm__server *srv,
			const struct ushm__server_conf *conf)
{
	char path[sizeof(srv->socket_path)];
	struct stat st;
	int mode = conf->socket_mode, fd, have;

	if (!(conf->flags & USHM__SERVER_FORK_SOCKET) ||
	    ushm__fork_socket(conf->socket_path, path, sizeof(path)) < 0)
		return;
	/* (A socket handed over has the mode its owner gave it.) */
	have = stat(conf->socket_path, &st) == 0;
	if (have)
		mode = (int)(st.st_mode & 07777);
	fd = listen_on(path, mode);
	if (fd < 0) {
		ushm__log(USHM__LOG_WARN, "%s: no fork socket: parents "
			  "connect to the main socket for their children",
			  path);
		return;
	}
	/* (Only root may give it away; the daemon's own user needs not.) */
	if (have)
		(void)!chown(path, st.st_uid, st.st_gid);
	srv->fork_item.type = ITEM_LISTEN_FORK;
	if (ushm__loop_add(srv, fd, &srv->fork_item, EPOLLIN) < 0) {
		unlink(path);
		close(fd);
		return;
	}
	if (stat(path, &srv->fork_bound) < 0)
		memset(&srv->fork_bound, 0, sizeof(srv->fork_bound));
	srv->fork_fd = fd;
}

/* Unlinks path if it still names the socket this daemon bound there:
 * the path's inode as bound (fstat of the socket would give the
 * socket's own inode, never the path's). */
static void unlink_bound(const char *path, const struct stat *bound)
{
	struct stat now;

	if (bound->st_ino != 0 && stat(path, &now) == 0 &&
	    now.st_dev == bound->st_dev && now.st_ino == bound->st_ino)
		unlink(path);
}

static int setup_signals(struct ushm__server *srv)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	srv->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv->signal_fd < 0)
		return -errno;
	srv->signal_item.type = ITEM_SIGNAL;
	return ushm__loop_add(srv, srv->signal_fd, &srv->signal_item,
			      EPOLLIN);
}

int ushm__server_open(struct ushm__server *srv,
		      const struct ushm__server_conf *conf)
{
	int err;

	memset(srv, 0, sizeof(*srv));
	srv->epfd = srv->depfd = srv->signal_fd = srv->reserve_fd = -1;
	srv->fork_fd = -1;
	srv->log_fd = -1;
	/* Ours from now on, closed by ushm__server_close whatever happens. */
	srv->listen_fd = conf->listen_fd;
	ushm__pub_init(&srv->pub);
	srv->fd_ceiling = conf->fd_ceiling;
	srv->max_conns_per_uid = conf->max_conns_per_uid;
	snprintf(srv->socket_path, sizeof(srv->socket_path), "%s",
		 conf->socket_path);
	snprintf(srv->state_dir, sizeof(srv->state_dir), "%s",
		 conf->state_dir);

	err = ushm__store_open(conf->state_dir, &srv->store);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "%s: %s", conf->state_dir,
			  err == -EBUSY ? "another ushmd is using it" :
					  strerror(-err));
		return err;
	}
	if (conf->flags & USHM__SERVER_LOG_FILE) {
		srv->log_fd = openat(ushm__store_dirfd(srv->store), "ushmd.log",
				     O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
					     O_CLOEXEC,
				     0600);
		if (srv->log_fd >= 0)
			ushm__log_setup(conf->log_level, srv->log_fd, 2);
	}
	ushm__registry_init(&srv->reg, conf->lim, srv->store);
	err = ushm__store_load(srv->store, &srv->reg);
	if (err < 0) {
		ushm__log(USHM__LOG_ERR, "%s: cannot load: %s",
			  conf->state_dir, strerror(-err));
		return err;
	}
	/* Without a table (logged) clients ask the daemon for everything. */
	if (conf->flags & USHM__SERVER_PUBLISH)
		(void)ushm__pub_open(&srv->pub, ushm__store_dirfd(srv->store),
				     &srv->reg);
	if ((err = ushm__loop_open(srv)) < 0)
		return err;
	if ((conf->flags & USHM__SERVER_SIGNALS) &&
	    (err = setup_signals(srv)) < 0)
		return err;
	/* The keeper's end is seen at once (see keeper.c). */
	srv->keeper_item.type = ITEM_KEEPER;
	if ((err = ushm__store_watch_keeper(srv->store, srv->epfd,
					    &srv->keeper_item)) < 0)
		return err;
	ushm__recover(srv);
	if (srv->listen_fd < 0) {
		srv->listen_fd = listen_on(conf->socket_path,
					   conf->socket_mode);
		if (srv->listen_fd < 0)
			return srv->listen_fd;
		/* What ushm__server_close may unlink: the path as bound. */
		if (stat(conf->socket_path, &srv->socket_bound) < 0)
			memset(&srv->socket_bound, 0,
			       sizeof(srv->socket_bound));
	} else if (setsockopt(srv->listen_fd, SOL_SOCKET, SO_PASSCRED,
			      &(int){ 1 }, sizeof(int)) < 0) {
		/* An inherited listener: SO_PASSCRED as listen_on's has. */
		return -errno;
	}
	srv->listen_item.type = ITEM_LISTEN;
	err = ushm__loop_add(srv, srv->listen_fd, &srv->listen_item, EPOLLIN);
	if (err < 0)
		return err;
	fork_listen(srv, conf);
	srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv->started = ushm__now();
	/* A load that repaired a record left its file open: closed before
	 * the daemon says it is ready, so that it then holds what it holds
	 * when idle (attacks.t counts its descriptors from there). */
	ushm__registry_idle(&srv->reg);
	return 0;
}

static void read_signals(struct ushm__server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		ushm__log(USHM__LOG_INFO, "signal %u: stopping",
			  si.ssi_signo);
		srv->stopping = 1;
	}
}

int ushm__server_pass(struct ushm__server *srv, int timeout_ms)
{
	struct epoll_event ev[PASS_EVENTS];
	int n = epoll_wait(srv->epfd, ev, PASS_EVENTS, timeout_ms);

	if (n < 0) {
		int err = -errno;

		if (err != -EINTR)
			ushm__log(USHM__LOG_ERR, "epoll_wait: %s",
				  strerror(-err));
		return err;
	}
	/* Every event is taken with the table's epoch odd (see
	 * publish.c): a client reading the table then knows that
	 * what it read may be behind what the daemon has taken. */
	ushm__pub_enter(&srv->pub);
	/* Pass 1: new clients (the barrier, which takes them in its
	 * order, after what is pending before them), departures and
	 * what parents queued for their children (gathered: loop.c),
	 * and signals. */
	for (int i = 0; i < n; i++) {
		struct ushm__item *it = ev[i].data.ptr;

		if (it->type == ITEM_DEPARTURES) {
			ushm__loop_departures_seen(srv);
		} else if (it->type == ITEM_LISTEN) {
			ushm__loop_barrier(srv, NULL);
		} else if (it->type == ITEM_SIGNAL) {
			read_signals(srv);
		} else if (it->type == ITEM_KEEPER) {
			(void)ushm__store_keeper_lost(srv->store);
		}
	}
	/* Pass 2: one request per client, which is fair to the
	 * others; level-triggered epoll brings the rest back.  Each
	 * request that waits for a reply runs the barrier first. */
	for (int i = 0; i < n && !srv->stopping; i++) {
		struct ushm__item *it = ev[i].data.ptr;

		if (it->type == ITEM_CONN) {
			struct ushm__conn *c = (void *)it;

			if (!c->dead)
				ushm__conn_serve(srv, c, 1);
		}
	}
	/* A process found gone while its note was served departs now
	 * (after what waits to be accepted), not at some later pass. */
	if (srv->ndeparting && !srv->stopping)
		ushm__loop_barrier(srv, NULL);
	/* What the departures set gathered, once it is due. */
	if (!srv->stopping)
		ushm__loop_departures_due(srv);
	ushm__conn_reap(srv);
	ushm__orphan_reap(srv);
	ushm__pub_leave(&srv->pub);
	ushm__pub_wake(&srv->pub);
	return n;
}

/* Is anything waiting for a pass?  (ushm__spin's ready: the main set
 * holds every source of work.)  The departures set is not: what wakes
 * it is gathered, and taking its event here disarms it (EPOLLONESHOT),
 * so it is noted as seen. */
static int work_ready(void *arg)
{
	struct ushm__server *srv = arg;
	struct epoll_event ev;
	int n = epoll_wait(srv->epfd, &ev, 1, 0);

	if (n == 1 && ((struct ushm__item *)ev.data.ptr)->type ==
			      ITEM_DEPARTURES) {
		ushm__loop_departures_taken(srv);
		return 0;
	}
	return n != 0;
}

int ushm__server_run(struct ushm__server *srv)
{
	srv->dep_gather = 1;
	while (!srv->stopping) {
		uint64_t replies = srv->replies, followed = srv->followed;
		int n = ushm__server_pass(srv,
					  ushm__loop_departures_wait(srv));

		if (n < 0 && n != -EINTR)
			return n;
		/* A client that just had its reply often sends its next
		 * request at once (create, then attach or IPC_RMID): look
		 * for it before sleeping, which saves it a wake-up.  So
		 * after the note of a shmat or shmdt: the process's next
		 * shmdt's note comes at once, or an IPC_STAT whose read of
		 * the table waits for the pass that serves the note (a
		 * PHP request's open, read and close: 15 us a loop against
		 * 10 with the look).  Not after a pass of hang-ups and
		 * forks only: nobody waits on those, and a process that
		 * forks again and again needs the CPU more than the
		 * daemon does. */
		if ((srv->replies != replies || srv->followed != followed) &&
		    !srv->stopping) {
			/* The client reads its reply meanwhile. */
			ushm__registry_prepare(&srv->reg);
			if (ushm__spin(&srv->spin_ns, work_ready, srv))
				continue;
		}
		/* About to sleep: nothing held for work ahead. */
		ushm__registry_idle(&srv->reg);
	}
	return 0;
}

void ushm__server_close(struct ushm__server *srv)
{
	for (struct ushm__conn *c = srv->conns; c; c = c->next)
		if (!c->dead)
			ushm__conn_close(srv, c);
	ushm__conn_reap(srv);
	for (struct ushm__orphan *o = srv->orphans; o; o = o->next)
		if (!o->dead) {
			close(o->pidfd);
			o->dead = 1;
		}
	ushm__orphan_reap(srv);
	ushm__registry_free(&srv->reg);
	if (srv->listen_fd >= 0) {
		/* Unlinked only if still ours.  A socket handed over stays:
		 * its owner (systemd) keeps it bound for the next start. */
		unlink_bound(srv->socket_path, &srv->socket_bound);
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	if (srv->fork_fd >= 0) {
		char path[sizeof(srv->socket_path)];

		if (ushm__fork_socket(srv->socket_path, path, sizeof(path)) ==
		    0)
			unlink_bound(path, &srv->fork_bound);
		close(srv->fork_fd);
		srv->fork_fd = -1;
	}
	if (srv->signal_fd >= 0)
		close(srv->signal_fd);
	if (srv->reserve_fd >= 0)
		close(srv->reserve_fd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->depfd >= 0)
		close(srv->depfd);
	if (srv->log_fd >= 0)
		close(srv->log_fd);
	srv->signal_fd = srv->reserve_fd = srv->epfd = srv->depfd = -1;
	srv->log_fd = -1;
	ushm__pub_close(&srv->pub);
	ushm__store_close(srv->store);
	srv->store = NULL;
}
