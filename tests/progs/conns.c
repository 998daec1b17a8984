/*
 * conns - holds many connections to a daemon at once, as many processes
 * would.  Opens N connections, sends a STATUS request on each and sorts
 * the answers: "served" (a status reply), "refused E" (the daemon turned
 * the connection away with errno E) or "closed" (hung up without a
 * word, which a refusal must never look like).  Prints one summary line,
 * then keeps every connection open until stdin closes.
 *
 *   conns SOCKET N
 *   -> served S refused-ENOMEM R other O
 */
#define _GNU_SOURCE
#include "proto/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Sends STATUS with our credentials, as the library does. */
static int ask_status(int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	struct ushm__req q;
	struct iovec iov = { &q, sizeof(q) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct ucred uc = { getpid(), geteuid(), getegid() };
	struct cmsghdr *cm;

	memset(&q, 0, sizeof(q));
	memset(&u, 0, sizeof(u));
	ushm__hdr_init(&q.hdr, USHM__OP_STATUS, sizeof(q), 0);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(cm), &uc, sizeof(uc));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* What the daemon answered on fd: 0 served, -errno refused, 1 other. */
static int answer(int fd)
{
	struct ushm__rep rep;
	ssize_t n;

	for (int tries = 0; tries < 2; tries++) {
		n = recv(fd, &rep, sizeof(rep), 0);
		/* A refusal that overtook our request: the reset comes
		 * first, the message after it. */
		if (n < 0 && errno == ECONNRESET)
			continue;
		break;
	}
	if (n <= 0 || ushm__rep_check(&rep, (size_t)n, 0,
				      USHM__OP_STATUS) < 0)
		return 1;
	if (rep.hdr.op == USHM__REP_REFUSED)
		return (int)rep.result;
	return rep.result == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	long n, served = 0, enomem = 0, other = 0;
	char buf[64];

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: conns SOCKET N\n");
		return 2;
	}
	/* Room for n sockets of our own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 16 ? rl.rlim_max :
							     (rlim_t)n + 16;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			perror("conns: setrlimit");
	}
	for (long i = 0; i < n; i++) {
		int fd = dial(argv[1]), r;

		if (fd < 0) {
			fprintf(stderr, "conns: connect %ld: %s\n", i,
				strerror(-fd));
			other++;
			continue;
		}
		r = ask_status(fd);
		/* A refused connection may be closed before our request
		 * goes out: its answer is still queued for us. */
		if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
			fprintf(stderr, "conns: send %ld: %s\n", i,
				strerror(-r));
			other++;
			continue;
		}
		r = answer(fd);
		if (r == 0)
			served++;
		else if (r == -ENOMEM)
			enomem++;
		else
			other++;
		/* Kept open (the point), unless the daemon closed it. */
		if (r != 0)
			close(fd);
	}
	printf("served %ld refused-ENOMEM %ld other %ld\n", served, enomem,
	       other);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
