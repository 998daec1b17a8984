/*
 * listener - what a daemon's listening socket asks of the kernel.  It
 * takes a copy of the socket from the running daemon (pidfd_getfd: the
 * test runs as root) and prints the options a client's message depends
 * on, so a test can check them without racing the daemon's accept.
 *
 *   listener PID SOCKET      prints "passcred N"
 *
 * Exit status 2: no listening socket bound to SOCKET in process PID.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* Is fd a listening socket bound to path? */
static int listens_on(int fd, const char *path)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int acc = 0;
	socklen_t alen = sizeof(acc);

	memset(&sa, 0, sizeof(sa));
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) == 0 &&
	       acc && getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	       sa.sun_family == AF_UNIX &&
	       strncmp(sa.sun_path, path, sizeof(sa.sun_path)) == 0;
}

int main(int argc, char **argv)
{
	char dir[64];
	struct dirent *d;
	DIR *fds;
	int pidfd, on = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: listener PID SOCKET\n");
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", atoi(argv[1]));
	fds = opendir(dir);
	if (pidfd < 0 || !fds) {
		fprintf(stderr, "listener: process %s: %m\n", argv[1]);
		if (fds)
			closedir(fds);
		return 2;
	}
	while ((d = readdir(fds))) {
		socklen_t len = sizeof(on);
		int fd = d->d_name[0] == '.' ?
				 -1 :
				 (int)syscall(SYS_pidfd_getfd, pidfd,
					      atoi(d->d_name), 0);

		if (fd < 0)
			continue;
		if (listens_on(fd, argv[2]) &&
		    getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, &len) < 0)
			on = -1;
		close(fd);
		if (on >= 0)
			break;
	}
	closedir(fds);
	close(pidfd);
	if (on < 0) {
		fprintf(stderr,
			"listener: no socket of process %s listens on %s\n",
			argv[1], argv[2]);
		return 2;
	}
	printf("passcred %d\n", on);
	return 0;
}
