/*
 * deletewatch - names whoever deletes a directory's entries.
 *
 *   deletewatch DIR LOG
 *
 * conformance.t's scratch directory has vanished under running tests a
 * few times, and nothing it or the other tests do explains it.  This
 * watches DIR with fanotify (FAN_DELETE of its entries, FAN_DELETE_SELF
 * of DIR itself) and appends to LOG, for each deletion, the name, the
 * deleting process and its ancestors' command lines, read at once while
 * they still run.  It prints "ready" on standard output once the mark is
 * in place, and runs until it is killed or DIR is gone.  conformance.t
 * shows LOG when it finds the directory gone, so the next occurrence
 * names its cause.
 *
 * Exit status: 0 when DIR was deleted, 1 on a usage error, 77 when
 * fanotify cannot watch DIR here (not root, an old kernel: the caller
 * goes on without it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

/* Ancestors shown per deletion: enough to reach the test harness. */
#define CHAIN_MAX 8

/* pid's command line (NULs as spaces) into buf; "(gone)" if unreadable. */
static void cmdline_of(int pid, char *buf, size_t len)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "(gone)");
}

/* pid's parent from /proc/PID/status, or 0. */
static int parent_of(int pid)
{
	char path[64], line[256];
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}

/* One line per deletion; the process and its ancestors the first time a
 * pid shows up (rm -rf deletes many entries, and is gone by the next). */
static void report(FILE *log, const char *what, int pid, int *last)
{
	char cmd[1024];

	fprintf(log, "deleted %s by pid %d\n", what, pid);
	if (pid == *last) {
		fflush(log);
		return;
	}
	*last = pid;
	for (int d = 0; d < CHAIN_MAX && pid > 1; d++) {
		cmdline_of(pid, cmd, sizeof(cmd));
		fprintf(log, "  %d: %.200s\n", pid, cmd);
		pid = parent_of(pid);
	}
	fflush(log);
}

/* The entry name that follows a DFID_NAME record's file handle. */
static const char *event_name(const struct fanotify_event_metadata *m)
{
	const struct fanotify_event_info_fid *fid = (const void *)(m + 1);
	const struct file_handle *fh = (const void *)fid->handle;

	if ((size_t)m->event_len < sizeof(*m) + sizeof(*fid) ||
	    fid->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME)
		return "(the directory)";
	return (const char *)fh->f_handle + fh->handle_bytes;
}

int main(int argc, char **argv)
{
	char buf[16384];
	FILE *log;
	int fd, last = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: deletewatch DIR LOG\n");
		return 1;
	}
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC,
			   O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fanotify_mark(fd, FAN_MARK_ADD, FAN_DELETE |
				    FAN_DELETE_SELF | FAN_ONDIR,
				    AT_FDCWD, argv[1]) < 0) {
		fprintf(stderr, "deletewatch: %s: %s\n", argv[1],
			strerror(errno));
		return 77;
	}
	log = fopen(argv[2], "ae");
	if (!log) {
		fprintf(stderr, "deletewatch: %s: %s\n", argv[2],
			strerror(errno));
		return 77;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t len = read(fd, buf, sizeof(buf));
		const struct fanotify_event_metadata *m = (const void *)buf;

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;
		for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
			report(log, (m->mask & FAN_DELETE_SELF) ?
					    "(the directory itself)" :
					    event_name(m), m->pid, &last);
			if (m->mask & FAN_DELETE_SELF) {
				fclose(log);
				return 0;
			}
		}
	}
	fclose(log);
	return 1;
}
