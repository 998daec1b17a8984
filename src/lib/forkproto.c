/*
 * forkproto.c - the client's side of the fork protocol (the daemon's:
 * "The fork protocol" in src/daemon/loop.c).
 *
 * After fork, the child must not share its parent's connection.  The
 * prepare handler opens a connection for the child, to the daemon's
 * fork socket, and queues the parent's attachments on it without
 * waiting for the daemon (the daemon applies them before any later
 * request), so that nattch counts the child as soon as fork() returns,
 * as on Linux; the child takes the connection over and says who it is
 * (HELLO).  The shim's fork (ushm__fork) also names the child from the
 * parent (FORKED), for a child killed before it runs.  The connection
 * carries nothing else: the daemon gathers what comes on the fork
 * socket rather than wake for it, so the child's first call makes a
 * connection of its own (session.c), which takes its attachments over.
 *
 * Every system call here is one more for each fork, which programs like
 * fuzzers' fork servers make by the thousand a second, and so is every
 * page written or first run: the child's connection is never made
 * blocking nor given timeouts; the credentials go with the ids read
 * once, in the parent, for all three messages; the child calls no libc
 * function a fork without ushm would not (each is a page of code to
 * fault in) but sendmsg, getpid, fstat, fcntl and close.
 *
 * prepare runs in the parent before the fork with the client lock held
 * until the parent or child handler lets go of it; nothing in them waits
 * for the daemon.  Only system calls run in the child handler (a
 * multithreaded parent's child may not call malloc).
 */
#define _GNU_SOURCE
#include "client.h"
#include "session.h"
#include "transport.h"
#include "rawsys.h"
#include "../common/paths.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The connection prepared for the child of the fork in progress, or -1,
 * and who the parent is.  Only touched by the fork handlers, under the
 * client lock. */
static int fork_fd = -1;
static ino_t fork_ino;
static struct ushm__sender fork_as;
/*
 * Connecting ahead.  A parent makes its child's connection inside fork,
 * before the child may run: a socket made, connected, checked and moved
 * high, five system calls and the socket's allocations on the path from
 * a fork's call to its return, which a fork server pays at every fork.
 * So a process that forks through the shim again and again (a second
 * fork within AHEAD_WITHIN_NS of the one before) makes the next child's
 * connection as the fork returns (while that child runs, on another CPU
 * when there is one), and the next prepare handler only checks that it
 * is still ours (the program may have closed the number and reused it:
 * a socket, the inode, and this process's, not a copy a child made
 * without fork handlers inherited) and sends REGISTER on it.  One the
 * daemon dropped (it restarted) fails that send, and a new one is made
 * as before.  The daemon takes it meanwhile; it waits there idle,
 * holding nothing, and counts as one of the user's connections.  It is
 * made and taken under the client lock, and the prepare handler hands
 * it to the child or closes it (nothing left to register): no child of
 * a fork with handlers holds a copy.  It is closed when the process has
 * nothing attached any more (ushm__fork_ahead_drop), and by exec
 * (close-on-exec), which the daemon sees as the departure of nobody.
 */
#define AHEAD_WITHIN_NS 1000000000LL
static int fork_ahead_fd = -1;
static ino_t fork_ahead_ino;
static pid_t fork_ahead_pid;
/* When the shim's last fork that made its child a connection ran
 * (CLOCK_MONOTONIC_COARSE, ns; 0 in each child: none yet). */
static long long fork_connected_ns;
/* errno as the caller of fork left it, for the child's failure path. */
static int fork_errno;
/* The daemon has no fork socket (or one we may not use): parents connect
 * to its main socket.  Under the client lock. */
static int fork_socket_absent;

/* A connection for the child, made without waiting: to the daemon's fork
 * socket, whose traffic it gathers rather than wake for each message
 * (src/daemon/loop.c), else to its main socket at path.  -errno:
 * -EAGAIN when its backlog is full. */
static int connect_for_child(const char *path)
{
	char fork_path[108];
	int fd;

	if (!fork_socket_absent) {
		fd = ushm__fork_socket(path, fork_path, sizeof(fork_path)) < 0 ?
			     -ENAMETOOLONG :
			     ushm__connect_nowait(fork_path);
		if (fd >= 0)
			return fd;
		/* An older daemon, or a socket there we do not trust (for
		 * good); a full backlog (this once). */
		if (fd != -EAGAIN)
			fork_socket_absent = 1;
	}
	return ushm__connect_nowait(path);
}

/* Closes the connection made ahead (under the lock, or in a process
 * with one thread), if it is still that socket: a program that took the
 * number over keeps what it put there. */
static void drop_ahead(void)
{
	if (ushm__socket_is(fork_ahead_fd, fork_ahead_ino))
		(void)ushm__raw_close(fork_ahead_fd);
	fork_ahead_fd = -1;
}

/* The connection made ahead, for a child of process pid, if it is still
 * ours; -1 otherwise.  Under the lock. */
static int take_ahead(pid_t pid, ino_t *ino)
{
	int fd = fork_ahead_fd;

	if (fd < 0)
		return -1;
	if (fork_ahead_pid != pid) {
		/* A copy inherited through a fork without handlers: the
		 * parent's, which it will hand to a child of its own. */
		drop_ahead();
		return -1;
	}
	fork_ahead_fd = -1;
	if (!ushm__socket_is(fd, fork_ahead_ino))
		return -1; /* the program's now */
	*ino = fork_ahead_ino;
	return fd;
}

void ushm__fork_ahead_drop(void)
{
	drop_ahead();
}

static long long coarse_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* After a fork that made its child a connection (under the lock): the
 * next child's, when this one came soon after the one before, to the
 * fork socket only (the main one's connections wake the daemon at
 * once), without waiting. */
static void connect_ahead(void)
{
	struct ushm__sender as;
	char path[108], fork_path[108];
	long long now = coarse_ns(), last = fork_connected_ns;
	int fd;

	fork_connected_ns = now;
	if (!last || now - last > AHEAD_WITHIN_NS || fork_ahead_fd >= 0 ||
	    fork_socket_absent ||
	    !ushm__session_forkable(path, sizeof(path), &as) ||
	    ushm__fork_socket(path, fork_path, sizeof(fork_path)) < 0)
		return;
	fd = ushm__connect_nowait(fork_path);
	if (fd < 0)
		return;
	fork_ahead_ino = ushm__socket_ino(fd);
	fork_ahead_pid = as.pid;
	fork_ahead_fd = fd;
}

/*
 * ushm__fork's hand-over from the parent's fork handler: the child's
 * connection, kept for ushm__fork to name the child on.  Each page a
 * parent writes around fork is a copy-on-write fault at every fork of a
 * process that forks again and again, so the hand-over writes only
 * ushm__fork's own frame before the fork and, after it, these statics,
 * whose page the client lock's release writes anyway (thread-local
 * storage, or ushm__fork's frame, would be a page more):
 *  - ushm__fork publishes a naming of its thread in fork_naming before
 *    the fork; the prepare handler, under the lock, takes it if it is
 *    its own thread's (another thread's fork, or libc's own fork inside
 *    daemon(), is not ushm__fork's), and marks it taken;
 *  - the parent's handler leaves the child's connection in
 *    fork_named_fd and fork_named_as, for the naming it took
 *    (fork_named_for), and lets go of the lock: handlers registered
 *    after ours may call us;
 *  - after the fork, ushm__fork takes the lock again: it takes what was
 *    left for it (another thread's fork may have replaced it: its child
 *    then announces itself only), or withdraws a naming nobody took, so
 *    that a naming the prepare handler reads under the lock is alive;
 *  - a child clears any naming it inherited: its other threads are gone.
 */
struct fork_naming {
	pthread_t self;
	int taken;
};
static struct fork_naming *fork_naming; /* (atomic) */
static struct fork_naming *fork_by_shim; /* this fork's, taken (locked) */
static struct fork_naming *fork_named_for; /* (under the lock) */
static int fork_named_fd = -1;
static ino_t fork_named_ino;
static struct ushm__sender fork_named_as;

/*
 * A fork made by a signal handler that interrupted one of our calls in
 * the same thread: that call holds the lock (or waits for it), and the
 * handlers would wait for ever.  They skip the protocol instead (the
 * child is counted from its first call, as a child made without fork
 * handlers is), and the child lets go of the lock and kills its copies
 * of the connections (ushm__session_child_unforked).  A depth, not a
 * flag: a handler's fork may be interrupted in turn by one that forks.
 * Thread-local: a fork's handlers run in its thread, the child's in the
 * copy of it; initial-exec, like the mark it follows (session.c).
 */
static __thread unsigned fork_unprotocolled
	__attribute__((tls_model("initial-exec")));

static void before_fork(void)
{
	struct fork_naming *naming;
	char path[108];
	int fd, saved = errno;

	if (ushm__client_reentered()) {
		fork_unprotocolled++;
		return;
	}
	ushm__session_lock();
	naming = __atomic_load_n(&fork_naming, __ATOMIC_ACQUIRE);
	fork_by_shim = NULL;
	if (naming && pthread_equal(naming->self, pthread_self())) {
		naming->taken = 1;
		fork_by_shim = naming;
		__atomic_store_n(&fork_naming, NULL, __ATOMIC_RELAXED);
	}
	fork_fd = -1;
	fork_errno = saved;
	if (!ushm__session_forkable(path, sizeof(path), &fork_as)) {
		/* Nothing to register: no child gets the one made ahead,
		 * and none may copy it. */
		drop_ahead();
		goto out;
	}
	fd = take_ahead(fork_as.pid, &fork_ino);
	if (fd >= 0 && ushm__session_register(fd, USHM__REG_FORK |
						      USHM__REG_NOREPLY,
					      &fork_as) < 0) {
		close(fd); /* (the daemon restarted since) */
		fd = -1;
	}
	if (fd < 0) {
		/* Non-blocking: a daemon whose backlog or queue is full
		 * (frozen, swamped) gets nothing now, and the child
		 * registers at its first call instead. */
		fd = connect_for_child(path);
		if (fd < 0)
			goto out;
		if (ushm__session_register(fd, USHM__REG_FORK |
						       USHM__REG_NOREPLY,
					   &fork_as) < 0) {
			/* The daemon drops what it got with the
			 * connection. */
			close(fd);
			goto out;
		}
		fork_ino = ushm__socket_ino(fd);
	}
	fork_fd = fd;
out:
	/* (Written only when changed: errno's page is one more to fault in
	 * after each fork otherwise.) */
	if (errno != saved)
		errno = saved;
}

static void after_fork_parent(void)
{
	if (fork_unprotocolled) {
		fork_unprotocolled--;
		return;
	}
	/* The child has its copy.  Under ushm__fork the caller names the
	 * child on it first; a failed fork drops the registrations with
	 * the close, as Linux drops a failed fork's mappings. */
	if (fork_fd >= 0) {
		ushm__client_forked();
		if (fork_by_shim) {
			/* (One left for another thread's fork and not taken
			 * yet: that child announces itself only.) */
			if (fork_named_fd >= 0)
				close(fork_named_fd);
			fork_named_fd = fork_fd;
			fork_named_ino = fork_ino;
			fork_named_as = fork_as;
			fork_named_for = fork_by_shim;
		} else {
			close(fork_fd);
		}
	}
	fork_fd = -1;
	ushm__client_unlock();
}

static void after_fork_child(void)
{
	struct ushm__req hello;
	struct ushm__sender as = fork_as;
	int fd = fork_fd;

	fork_fd = -1;
	/* What another thread of the parent had in flight: its naming
	 * (that thread does not exist here) and the connection left for
	 * it, which is not ours to hold.  (Same page as fork_fd.) */
	__atomic_store_n(&fork_naming, NULL, __ATOMIC_RELAXED);
	if (ushm__socket_is(fork_named_fd, fork_named_ino))
		(void)ushm__raw_close(fork_named_fd);
	fork_named_fd = -1;
	fork_named_for = NULL;
	fork_connected_ns = 0;
	if (fork_unprotocolled) {
		/* (fork_fd, if set, is another thread's fork's, in flight:
		 * not ours either.) */
		fork_unprotocolled--;
		if (ushm__socket_is(fd, fork_ino))
			(void)ushm__raw_close(fd);
		ushm__session_child_unforked();
		return;
	}
	as.pid = ushm__raw_getpid();
	/* No reply: the daemon learns which process uses the connection
	 * now, so that our exit is reported as ours.  Even under the
	 * shim's fork, whose parent names us too (FORKED): if we fork and
	 * exit at once, our child's REGISTER must find what we hold by our
	 * pid, and a FORKED read after our exit no longer shows us as our
	 * child's parent.  With our parent's ids (ours too, unless another
	 * of its threads changed them as it forked: then the kernel
	 * refuses them, and ours go).  (sendmsg, fstat, fcntl and close
	 * are async-signal-safe.) */
	if (fd >= 0) {
		memset(&hello, 0, sizeof(hello));
		ushm__hdr_init(&hello.hdr, USHM__OP_HELLO, sizeof(hello), 0);
		if (ushm__send_from(fd, &hello, sizeof(hello), MSG_DONTWAIT,
				    &as) < 0) {
			close(fd);
			fd = -1;
			errno = fork_errno;
		}
	}
	ushm__session_child(fd, fork_ino, as.pid);
}

pid_t ushm__fork(pid_t (*real_fork)(void))
{
	struct fork_naming me = { pthread_self(), 0 };
	struct ushm__sender as;
	pid_t pid;
	int fd = -1, saved;

	/* In a handler that interrupted one of our calls: no naming (the
	 * handlers skip the protocol), and the lock is not ours to take. */
	if (ushm__client_reentered())
		return real_fork();
	/* (The handlers are installed already: libushm, which the shim
	 * needs, is initialized before the shim, whose fork fails until
	 * its own constructor ran.  So every child that copies a naming
	 * clears it.) */
	/* (Two threads of ushm__fork at once: the second to publish wins,
	 * and the other's child is not named, only announced by itself.) */
	__atomic_store_n(&fork_naming, &me, __ATOMIC_RELEASE);
	pid = real_fork();
	/* The child does not touch errno here: a first call of libc's
	 * errno accessor would be one more page of code for it to fault
	 * in.  Its handler leaves errno as the fork's caller did (it
	 * restores it when HELLO fails), but where the program closed our
	 * descriptors: fork may set errno when it succeeds.  Without the
	 * handlers (no call installed them yet) it is the only thread of
	 * its process, and clears what it inherited itself. */
	if (pid == 0) {
		if (__atomic_load_n(&fork_naming, __ATOMIC_RELAXED))
			__atomic_store_n(&fork_naming, NULL, __ATOMIC_RELAXED);
		return 0;
	}
	saved = errno;
	ushm__session_lock();
	if (!me.taken) {
		struct fork_naming *mine = &me;

		(void)__atomic_compare_exchange_n(&fork_naming, &mine, NULL, 0,
						  __ATOMIC_RELAXED,
						  __ATOMIC_RELAXED);
	} else if (fork_named_for == &me) {
		fd = fork_named_fd;
		as = fork_named_as;
		fork_named_fd = -1;
		fork_named_for = NULL;
	}
	/* Named now, for a child killed before its HELLO: its exit sets
	 * lpid to its pid, as on Linux.  No reply.  Under the lock, so that
	 * no other thread's child copies the connection meanwhile. */
	if (fd >= 0) {
		if (pid > 0) {
			struct ushm__req q;

			memset(&q, 0, sizeof(q));
			ushm__hdr_init(&q.hdr, USHM__OP_FORKED, sizeof(q), 0);
			q.id = pid;
			(void)ushm__send_from(fd, &q, sizeof(q), MSG_DONTWAIT,
					      &as);
		}
		close(fd);
		if (pid > 0)
			connect_ahead();
	}
	ushm__client_unlock();
	if (errno != saved)
		errno = saved;
	return pid;
}

static void install_handlers(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void ushm__fork_protocol_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, install_handlers);
}

/* At load, before the program's code runs: a fork handler the program
 * registers then comes after ours, so its parent and child handlers
 * run once ours have let go of the client lock (and its prepare handler
 * before ours takes it), and may call us.  (One registered before, by a
 * library loaded ahead of this one, may not.) */
__attribute__((constructor)) static void fork_protocol_at_load(void)
{
	ushm__fork_protocol_setup();
}
