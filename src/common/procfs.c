/*
 * procfs.c - what ushm reads of the kernel's own files: a number (a
 * sysctl in /proc/sys, a count in /sys), a field of a "Name:  value"
 * file (/proc/meminfo, /proc/PID/status), and a process's state and
 * parent (/proc/PID/stat), the descriptors this process holds
 * (/proc/self/fd).  The daemon, the library and the tools all
 * read through here, so that each format is parsed in one place.
 * (/proc/PID/maps has a reader of its own: procmaps.c.)
 */
#define _GNU_SOURCE
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ushm__read_number_fd(int fd, unsigned long long *v)
{
	char buf[32], *end;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long long x;

	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	buf[n] = '\0';
	errno = 0;
	x = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*v = x;
	return 0;
}

int ushm__read_number(const char *path, unsigned long long *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = ushm__read_number_fd(fd, v);
	close(fd);
	return err;
}

int ushm__read_field(const char *path, const char *name, char *val,
		     size_t len)
{
	size_t n = strlen(name);
	char line[256];
	int err = -ENOENT;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(val, len, "%s", line + n + 1);
			err = 0;
		}
	}
	fclose(f);
	return err;
}

unsigned long long ushm__meminfo_kb(const char *field)
{
	unsigned long long v = 0;
	char val[128];

	if (ushm__read_field("/proc/meminfo", field, val, sizeof(val)) == 0)
		sscanf(val, "%llu", &v);
	return v;
}

int ushm__proc_ids(pid_t pid, const char *field, unsigned long ids[4])
{
	char path[64], val[128];
	int err;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	err = ushm__read_field(path, field, val, sizeof(val));
	if (err < 0)
		return err;
	return sscanf(val, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2],
		      &ids[3]) == 4 ? 0 : -EIO;
}

int ushm__proc_capeff(pid_t pid, uint64_t *caps)
{
	char path[64], val[64];
	unsigned long long v;
	int err;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	err = ushm__read_field(path, "CapEff", val, sizeof(val));
	if (err < 0)
		return err;
	if (sscanf(val, "%llx", &v) != 1)
		return -EIO;
	*caps = v;
	return 0;
}

/* The first len - 1 bytes of path into buf, NUL-terminated: their
 * length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

int ushm__proc_same_userns(pid_t pid)
{
	/* A map has at most 340 lines of three numbers. */
	char path[64], theirs[340 * 36], ours[340 * 36];
	struct stat a, b;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)pid);
	if (stat(path, &a) == 0) {
		if (stat("/proc/self/ns/user", &b) < 0)
			return -errno;
		return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	}
	if (errno != EACCES && errno != EPERM)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%ld/uid_map", (long)pid);
	n = read_small(path, theirs, sizeof(theirs));
	if (n < 0)
		return (int)n;
	n = read_small("/proc/self/uid_map", ours, sizeof(ours));
	if (n < 0)
		return (int)n;
	return strcmp(theirs, ours) == 0;
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

uint64_t ushm__open_fds(void)
{
	uint64_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}
