/*
 * fds.h - what the test programs that look at their own descriptors
 * (kept, forkgap) share: how many of them lead to a file whose name, as
 * /proc/self/fd shows it, starts with a given prefix ("socket:" for
 * sockets, "/memfd:" for a segment's memory), among all or from a number
 * up.
 */
#ifndef USHM_TESTS_FDS_H
#define USHM_TESTS_FDS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The count among descriptors numbered min and up, or -1 (errno set)
 * when /proc/self/fd cannot be read. */
static inline int fds_named_from(const char *prefix, int min)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], link[256];
	size_t plen = strlen(prefix);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		ssize_t len;

		if (de->d_name[0] == '.' || atoi(de->d_name) < min)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += strncmp(link, prefix, plen) == 0;
		}
	}
	closedir(d);
	return n;
}

/* The count among all descriptors. */
static inline int fds_named(const char *prefix)
{
	return fds_named_from(prefix, 0);
}

#endif
