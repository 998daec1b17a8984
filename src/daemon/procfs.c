/*
 * procfs.c - what the daemon reads of other processes and of the machine
 * in /proc: one field of a "Name:  value" file (/proc/meminfo), and a
 * process's state and parent (/proc/PID/stat).  Nothing read here ever
 * decides whether a caller may do something.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ushm__proc_field(const char *path, const char *name, char *val,
		     size_t len)
{
	size_t n = strlen(name);
	char line[256];
	int found = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(val, len, "%s", line + n + 1);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

unsigned long long ushm__meminfo_kb(const char *field)
{
	unsigned long long v = 0;
	char val[128];

	if (ushm__proc_field("/proc/meminfo", field, val, sizeof(val)))
		sscanf(val, "%llu", &v);
	return v;
}

int ushm__proc_stat(pid_t pid, char *state, long *ppid)
{
	char path[64], buf[512], *rp;
	long parent;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) /* ESRCH: being reaped right now */
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) /* reaped while we looked */
		return -ENOENT;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so parse
	 * from its last ')'. */
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %c %ld", state, &parent) != 2)
		return -EIO;
	if (ppid)
		*ppid = parent;
	return 0;
}

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
