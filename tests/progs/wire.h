/*
 * wire.h - what the test programs that speak the wire protocol by hand
 * (attack, hostile, sealtool) share: connecting to a daemon's socket,
 * sending a message with credentials and a descriptor as asked, and
 * receiving a reply with the descriptors it may carry.
 */
#ifndef USHM_TESTS_WIRE_H
#define USHM_TESTS_WIRE_H

#include "proto/cmsg.h"
#include "proto/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* A SOCK_SEQPACKET connection to path, or the program exits with status
 * 2 and the reason (it cannot test anything without one). */
static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "%s: connect %s: %m\n",
			program_invocation_short_name, path);
		exit(2);
	}
	return fd;
}

/* This process's credentials as the library sends them (pid, euid,
 * egid). */
static struct ucred our_creds(void)
{
	struct ucred uc = { getpid(), geteuid(), getegid() };

	return uc;
}

/* Sends the len bytes of buf on s with SCM_CREDENTIALS uc (NULL: none)
 * and descriptor fd (-1: none).  0 or -errno. */
static int send_msg(int s, const void *buf, size_t len,
		    const struct ucred *uc, int fd)
{
	union {
		char b[USHM__CMSG_ROOM(1)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.b,
			     .msg_controllen = sizeof(u.b) };

	if (ushm__cmsg_put(&mh, uc, &fd, fd >= 0) < 0)
		return -ENOSPC;
	return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Receives one reply on s into *rep.  The first descriptor it carried
 * is left open in *fd (-1: none), any others are closed; *nfds counts
 * them all.  Returns recvmsg's result. */
static ssize_t recv_reply(int s, struct ushm__rep *rep, int *fd, int *nfds)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);

	*fd = -1;
	*nfds = 0;
	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) /
						sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (*fd < 0)
				*fd = f;
			else
				close(f);
			++*nfds;
		}
	}
	return n;
}

#endif
