/*
 * pidfile.c - the pid a daemon's pid file names (ushmd.pid, keeper.pid).
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

pid_t ushm__pid_file(int dirfd, const char *name)
{
	char buf[32];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}
