/*
 * dial.h - the test programs that speak the wire protocol by hand
 * (attack, hostile) connect to a daemon's socket this way: a
 * SOCK_SEQPACKET connection, or the program exits with status 2 and the
 * reason (it cannot test anything without one).
 */
#ifndef USHM_TESTS_DIAL_H
#define USHM_TESTS_DIAL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

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

#endif
