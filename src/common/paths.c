/*
 * paths.c - the order of discovery and the default locations (see
 * paths.h).
 */
#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* snprintf's result as ours: 0, or -ENAMETOOLONG when the path was cut.
 * The callers keep literal formats, which the compiler checks. */
static int fit(int n, size_t len)
{
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int ushm__privileged(void)
{
	return getauxval(AT_SECURE) != 0;
}

/*
 * The variables as they were when the library was loaded.  A program may
 * clear or rewrite its environment (clearenv, a sanitising daemon) and
 * still expects its shm calls to reach the same daemon, as they would
 * reach the same kernel.  Written once by the constructor, before main()
 * and any thread, then only read.  A privileged process keeps nothing:
 * its environment belongs to whoever ran it.
 */
static const char *const env_names[] = { "USHM_SOCKET", "USHM_STATE_DIR",
					 "XDG_RUNTIME_DIR", "USHM_DAEMON",
					 "USHM_AUTOSTART" };
#define ENV_COUNT (sizeof(env_names) / sizeof(env_names[0]))
static char env_saved[ENV_COUNT][256];

__attribute__((constructor)) static void env_snapshot(void)
{
	for (size_t i = 0; i < ENV_COUNT; i++) {
		const char *v = secure_getenv(env_names[i]);

		if (v && strlen(v) < sizeof(env_saved[i]))
			strcpy(env_saved[i], v);
	}
}

const char *ushm__env(const char *name)
{
	const char *v = secure_getenv(name);

	if (v && *v)
		return v;
	for (size_t i = 0; i < ENV_COUNT; i++)
		if (strcmp(name, env_names[i]) == 0 && env_saved[i][0])
			return env_saved[i];
	return NULL;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static unsigned long me(void)
{
	return (unsigned long)geteuid();
}

/* The per-user base directory: $XDG_RUNTIME_DIR/ushm, else
 * /run/user/UID/ushm (made by the login manager: no other user can
 * pre-create it), else 0 and the /tmp fallback is used. */
static int user_runtime_base(char *buf, size_t len)
{
	const char *v = ushm__env("XDG_RUNTIME_DIR");
	char run[64];

	if (v && is_dir(v))
		return fit(snprintf(buf, len, "%s/ushm", v), len) == 0;
	snprintf(run, sizeof(run), "/run/user/%lu", me());
	if (is_dir(run))
		return fit(snprintf(buf, len, "%s/ushm", run), len) == 0;
	return 0;
}

static int user_socket(char *buf, size_t len)
{
	char base[256];

	if (user_runtime_base(base, sizeof(base)))
		return fit(snprintf(buf, len, "%s/ushmd.sock", base), len);
	return fit(snprintf(buf, len, "/tmp/ushm-%lu/ushmd.sock", me()), len);
}

static int user_state(char *buf, size_t len)
{
	char base[256];

	if (user_runtime_base(base, sizeof(base)))
		return fit(snprintf(buf, len, "%s/state", base), len);
	if (is_dir("/dev/shm"))
		return fit(snprintf(buf, len, "/dev/shm/ushm-%lu", me()), len);
	return fit(snprintf(buf, len, "/tmp/ushm-%lu/state", me()), len);
}

int ushm__is_system_socket(const char *path)
{
	return strcmp(path, USHM__SYSTEM_SOCKET) == 0;
}

/* Does a daemon run by root (or systemd, listening for it) answer on the
 * system socket?  Its directory must be root's and closed to others. */
static int system_daemon_answers(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred uc;
	socklen_t ulen = sizeof(uc);
	struct stat st;
	int fd, ok;

	if (lstat(USHM__SYSTEM_DIR, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & 022))
		return 0;
	if (lstat(USHM__SYSTEM_SOCKET, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	strcpy(sa.sun_path, USHM__SYSTEM_SOCKET);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	     getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) == 0 &&
	     uc.uid == 0;
	close(fd);
	return ok;
}

/* Refuses a per-user default whose directories are not safely ours. */
static int check_user_socket(const char *sock)
{
	char dir[4096], why[512], *slash;

	snprintf(dir, sizeof(dir), "%s", sock);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (ushm__check_dir(dir, why, sizeof(why)) < 0) {
		ushm__say_once(USHM__SAY_UNSAFE_DIR, "%s", why);
		return -EACCES;
	}
	return 0;
}

int ushm__discover(char *buf, size_t len, enum ushm__origin *origin)
{
	enum ushm__origin dummy;
	char mine[256];
	const char *v;
	int err;

	if (!origin)
		origin = &dummy;
	if ((v = ushm__env("USHM_SOCKET"))) {
		*origin = USHM__FROM_ENV;
		err = fit(snprintf(buf, len, "%s", v), len);
		/* ushm-run passes the default on: still checked. */
		if (err == 0 && user_socket(mine, sizeof(mine)) == 0 &&
		    strcmp(mine, buf) == 0)
			err = check_user_socket(buf);
		return err;
	}
	if (geteuid() == 0 || system_daemon_answers()) {
		*origin = USHM__FROM_SYSTEM;
		return fit(snprintf(buf, len, "%s", USHM__SYSTEM_SOCKET), len);
	}
	*origin = USHM__FROM_USER;
	err = user_socket(buf, len);
	return err < 0 ? err : check_user_socket(buf);
}

int ushm__socket_path(char *buf, size_t len)
{
	return ushm__discover(buf, len, NULL);
}

int ushm__fork_socket(const char *socket, char *buf, size_t len)
{
	/* Without stdio: fork's prepare handler calls this, and the stack
	 * printf writes, deeper than the program's, is one more page for
	 * a parent that forks again and again to fault in each time. */
	size_t n = strlen(socket);

	if (n + sizeof(USHM__FORK_SUFFIX) > len)
		return -ENAMETOOLONG;
	memcpy(buf, socket, n + 1);
	memcpy(buf + n, USHM__FORK_SUFFIX, sizeof(USHM__FORK_SUFFIX));
	return 0;
}

int ushm__daemon_socket(char *buf, size_t len)
{
	const char *v;

	if ((v = ushm__env("USHM_SOCKET")))
		return fit(snprintf(buf, len, "%s", v), len);
	if (geteuid() == 0)
		return fit(snprintf(buf, len, "%s", USHM__SYSTEM_SOCKET), len);
	return user_socket(buf, len);
}

int ushm__state_dir_for(const char *socket, char *buf, size_t len)
{
	char mine[256];
	const char *v;

	if ((v = ushm__env("USHM_STATE_DIR")))
		return fit(snprintf(buf, len, "%s", v), len);
	if (ushm__is_system_socket(socket))
		return fit(snprintf(buf, len, "%s", USHM__SYSTEM_STATE), len);
	if (user_socket(mine, sizeof(mine)) == 0 && strcmp(mine, socket) == 0)
		return user_state(buf, len);
	return fit(snprintf(buf, len, "%s.d", socket), len);
}

int ushm__state_dir(char *buf, size_t len)
{
	char sock[256];
	int err = ushm__daemon_socket(sock, sizeof(sock));

	return err < 0 ? err : ushm__state_dir_for(sock, buf, len);
}

void ushm__say_once(enum ushm__complaint kind, const char *fmt, ...)
{
	static int said[USHM__SAY_COUNT];
	char line[1024];
	va_list ap;

	if ((unsigned)kind >= USHM__SAY_COUNT ||
	    __atomic_exchange_n(&said[kind], 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ushm: %s\n", line);
}
