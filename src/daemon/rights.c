/*
 * rights.c - descriptors clients try to hand the daemon.
 *
 * No request carries a descriptor, yet a client can attach any to its
 * message (SCM_RIGHTS), and the receiver of such a message owns it.  The
 * last close of some files waits on somebody else: a FUSE file waits for
 * its server's FLUSH, a TCP socket with SO_LINGER for its peer.  Closed
 * in the daemon's only thread, one such descriptor would stop every
 * user's calls.  So:
 *  - From Linux 6.16 on, SO_PASSRIGHTS off on the listening socket (the
 *    connections accepted from it inherit it): the kernel refuses such a
 *    message to its sender (EPERM), and no descriptor ever reaches us.
 *  - Before 6.16, or for a message already queued on an inherited socket
 *    before we could set it, what arrives is closed by a thread of its
 *    own, started the first time it is needed: a close that blocks there
 *    blocks nobody else.
 * The closer thread and its pipe are process-wide by nature (one daemon,
 * one thread); they are set up once under pthread_once.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* SO_PASSRIGHTS (Linux 6.16) where the C library's headers predate it;
 * its number is the generic one on these architectures. */
#if !defined(SO_PASSRIGHTS) &&                                          \
	(defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
	 defined(__arm__) || defined(__riscv) || defined(__s390x__) ||    \
	 defined(__powerpc__) || defined(__loongarch__))
#define SO_PASSRIGHTS 83
#endif

int ushm__refuse_rights(int fd)
{
#ifdef SO_PASSRIGHTS
	int off = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) ==
	    0)
		return 1;
	if (errno != ENOPROTOOPT && errno != EINVAL)
		return -errno;
#else
	(void)fd;
#endif
	return 0; /* an older kernel: the closer thread covers it */
}

static pthread_once_t closer_once = PTHREAD_ONCE_INIT;
static int closer_pipe[2] = { -1, -1 };

static void *closer_main(void *arg)
{
	int fd;

	(void)arg;
	while (read(closer_pipe[0], &fd, sizeof(fd)) == sizeof(fd))
		close(fd);
	return NULL;
}

static void closer_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;

	if (pipe2(closer_pipe, O_CLOEXEC) < 0)
		return;
	/* Writes must never block the event loop. */
	if (fcntl(closer_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	if (pthread_attr_init(&attr) != 0)
		goto fail;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The thread takes no signal: the loop reads them from its
	 * signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, &attr, closer_main, NULL) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		goto fail;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return;

fail:
	close(closer_pipe[0]);
	close(closer_pipe[1]);
	closer_pipe[0] = closer_pipe[1] = -1;
}

void ushm__discard_fd(int fd)
{
	pthread_once(&closer_once, closer_start);
	if (closer_pipe[1] >= 0 &&
	    write(closer_pipe[1], &fd, sizeof(fd)) == sizeof(fd))
		return;
	/* No thread, or 16 thousand closes stuck in it: closing here may
	 * block, but keeping the descriptor would leak it for good. */
	ushm__log(USHM__LOG_WARN, "a descriptor sent by a client is closed "
		  "in the event loop (no closer thread)");
	close(fd);
}
