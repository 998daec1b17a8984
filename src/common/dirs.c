/*
 * dirs.c - the directories a daemon's socket and state live in: made
 * with the right modes, and checked to be out of other users' reach
 * (see paths.h).
 */
#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long me(void)
{
	return (unsigned long)geteuid();
}

/* Checks one existing component of a daemon's directory; last says it
 * is the directory itself rather than a parent. */
static int check_one(const char *path, const struct stat *st, int last,
		     char *why, size_t len)
{
	int others_write = (st->st_mode & 022) != 0;

	if (S_ISLNK(st->st_mode)) {
		snprintf(why, len, "%s is a symbolic link; ushm keeps its "
			 "socket only in real directories: remove it, or set "
			 "USHM_SOCKET", path);
		return -EACCES;
	}
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, len, "%s is not a directory: remove it, or set "
			 "USHM_SOCKET", path);
		return -EACCES;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, len, "%s belongs to uid %lu, not to you (uid "
			 "%lu): another user may have made it to catch your "
			 "segments; have it removed, or set XDG_RUNTIME_DIR or "
			 "USHM_SOCKET to a directory of yours", path,
			 (unsigned long)st->st_uid, me());
		return -EACCES;
	}
	if (last && others_write) {
		snprintf(why, len, "%s is writable by other users (mode %04o): "
			 "make it 0700 (chmod 0700 %s), or set USHM_SOCKET",
			 path, (unsigned)(st->st_mode & 07777), path);
		return -EACCES;
	}
	if (!last && others_write &&
	    !(st->st_uid == 0 && (st->st_mode & S_ISVTX))) {
		snprintf(why, len, "%s is writable by other users and not "
			 "sticky (mode %04o): make it chmod o-w,g-w (or +t), or "
			 "set USHM_SOCKET", path,
			 (unsigned)(st->st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

int ushm__check_dir(const char *dir, char *why, size_t len)
{
	char tmp[4096];
	size_t n = strlen(dir);
	struct stat st;
	int err;

	if (n == 0 || n >= sizeof(tmp) || dir[0] != '/') {
		snprintf(why, len, "%s: not an absolute path", dir);
		return -EACCES;
	}
	memcpy(tmp, dir, n + 1);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	/* Each parent from the top, then the directory itself. */
	for (char *p = tmp + 1;; p++) {
		int last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (lstat(tmp, &st) < 0)
			return 0; /* the rest is ours to make */
		err = check_one(tmp, &st, last, why, len);
		if (err < 0)
			return err;
		if (last)
			return 0;
		*p = '/';
	}
}

static int check_owned(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return -EPERM;
	return 0;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	/* Create the parents first; only the last component must be ours. */
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) == 0) {
		/* Made by us: the mode meant, whatever the umask. */
		if (chmod(tmp, mode) < 0)
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	return check_owned(tmp);
}

int ushm__mkdir_private(const char *path)
{
	return mkdir_mode(path, 0700);
}

int ushm__mkdir_socket_dir(const char *socket)
{
	char dir[4096], why[512], *slash;
	int err;

	snprintf(dir, sizeof(dir), "%s", socket);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* in / or the current directory: nothing to make */
	*slash = '\0';
	if (ushm__is_system_socket(socket)) {
		/* Every user connects: the directory is 0755 (a socket's
		 * own mode decides who may connect). */
		err = mkdir_mode(dir, 0755);
		if (err < 0)
			return err;
		/* Root's, whatever group a setuid caller had. */
		if (geteuid() == 0 && chown(dir, 0, 0) < 0)
			return -errno;
		err = ushm__check_dir(dir, why, sizeof(why));
		if (err < 0)
			ushm__say_once(USHM__SAY_UNSAFE_DIR, "%s", why);
		return err;
	}
	return ushm__mkdir_private(dir);
}
