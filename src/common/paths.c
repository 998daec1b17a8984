/*
 * paths.c - the default socket and state locations (see paths.h).
 */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf's result as ours: 0, or -ENAMETOOLONG when the path was cut.
 * The callers keep literal formats, which the compiler checks. */
static int fit(int n, size_t len)
{
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/*
 * The variables as they were when the library was loaded.  A program may
 * clear or rewrite its environment (clearenv, a sanitising daemon) and
 * still expects its shm calls to reach the same daemon, as they would
 * reach the same kernel.  Written once by the constructor, before main()
 * and any thread, then only read.
 */
static const char *const env_names[] = { "USHM_SOCKET", "USHM_STATE_DIR",
					 "XDG_RUNTIME_DIR" };
static char env_saved[3][256];

__attribute__((constructor)) static void env_snapshot(void)
{
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(env_names[i]);

		if (v && strlen(v) < sizeof(env_saved[i]))
			strcpy(env_saved[i], v);
	}
}

/* The variable now, else as it was at load time. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (v && *v)
		return v;
	for (int i = 0; i < 3; i++)
		if (strcmp(name, env_names[i]) == 0 && env_saved[i][0])
			return env_saved[i];
	return NULL;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ushm__socket_path(char *buf, size_t len)
{
	const char *v;

	if ((v = env("USHM_SOCKET")))
		return fit(snprintf(buf, len, "%s", v), len);
	if ((v = env("XDG_RUNTIME_DIR")) && is_dir(v))
		return fit(snprintf(buf, len, "%s/ushm/ushmd.sock", v), len);
	return fit(snprintf(buf, len, "/tmp/ushm-%lu/ushmd.sock",
			    (unsigned long)getuid()), len);
}

int ushm__state_dir(char *buf, size_t len)
{
	const char *v;

	if ((v = env("USHM_STATE_DIR")))
		return fit(snprintf(buf, len, "%s", v), len);
	if ((v = env("USHM_SOCKET")))
		return fit(snprintf(buf, len, "%s.d", v), len);
	if ((v = env("XDG_RUNTIME_DIR")) && is_dir(v))
		return fit(snprintf(buf, len, "%s/ushm/state", v), len);
	if (is_dir("/dev/shm"))
		return fit(snprintf(buf, len, "/dev/shm/ushm-%lu",
				    (unsigned long)getuid()), len);
	return fit(snprintf(buf, len, "/tmp/ushm-%lu/state",
			    (unsigned long)getuid()), len);
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

int ushm__mkdir_private(const char *path)
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
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return check_owned(tmp);
}
