/*
 * paths.h - which daemon a process uses, where it listens and where it
 * keeps its segments.
 *
 * Shared by the library (to connect and autostart), the daemon (its
 * defaults), ushm-run and the tools, so that all agree without a config
 * file.  The order of discovery is decided here and nowhere else:
 *
 *   1. $USHM_SOCKET, when set (ignored by a privileged process);
 *   2. the system daemon's socket, /run/ushm/ushmd.sock: always for root
 *      (whose library starts the system daemon when none runs), and for
 *      anyone else when a daemon (or systemd on its behalf) answers there;
 *   3. the per-user daemon: $XDG_RUNTIME_DIR/ushm, else /run/user/UID/ushm
 *      when that exists, else /tmp/ushm-UID (state in /dev/shm/ushm-UID).
 *
 * A privileged process (setuid, setgid, file capabilities: AT_SECURE)
 * reads none of the variables, as secure_getenv would not.
 */
#ifndef USHM_PATHS_H
#define USHM_PATHS_H

#include <stddef.h>

/* The system daemon: the paths packaging/ushmd.socket and ushmd.service
 * use.  /run is a tmpfs, so the state lasts until the machine stops, as
 * the kernel's segments do; 0700 keeps the files away from the users,
 * who reach them only through the daemon. */
#define USHM__SYSTEM_DIR "/run/ushm"
#define USHM__SYSTEM_SOCKET USHM__SYSTEM_DIR "/ushmd.sock"
#define USHM__SYSTEM_STATE USHM__SYSTEM_DIR "/state"

/* Beside the daemon's socket, the one a parent connects to for its
 * child: SOCKET + USHM__FORK_SUFFIX.  What comes there is not waited for,
 * so the daemon gathers it rather than wake for each (see "Gathering
 * departures" in src/daemon/loop.c). */
#define USHM__FORK_SUFFIX ".fork"

/* Where a socket path came from. */
enum ushm__origin {
	USHM__FROM_ENV,    /* $USHM_SOCKET */
	USHM__FROM_SYSTEM, /* the system daemon's */
	USHM__FROM_USER,   /* the per-user default */
};

/* Is this process privileged (AT_SECURE)?  Then the environment is not
 * the user's to trust. */
int ushm__privileged(void);

/* The variable as secure_getenv sees it (NULL in a privileged process),
 * else as it was when the library was loaded (a program may clearenv). */
const char *ushm__env(const char *name);

/*
 * The socket a client uses, in the order above (the system socket is
 * probed with a connect).  *origin (may be NULL) says which rule chose
 * it.  A per-user default whose directories another user could control
 * is refused: -EACCES, with one line on stderr naming the path and what
 * to fix.  Returns 0, -ENAMETOOLONG or -EACCES.
 */
int ushm__socket_path(char *buf, size_t len);
int ushm__discover(char *buf, size_t len, enum ushm__origin *origin);

/* The fork socket of the daemon at socket, into buf: 0 or
 * -ENAMETOOLONG. */
int ushm__fork_socket(const char *socket, char *buf, size_t len);

/* The socket a daemon serves when not told: $USHM_SOCKET, else the
 * system socket for root, else the per-user default (not probed). */
int ushm__daemon_socket(char *buf, size_t len);

/*
 * The state directory of the daemon on socket: $USHM_STATE_DIR, else
 * /run/ushm/state for the system socket, else the per-user state
 * directory for the per-user socket, else SOCKET.d.
 */
int ushm__state_dir_for(const char *socket, char *buf, size_t len);
/* The state directory of the daemon on ushm__daemon_socket(). */
int ushm__state_dir(char *buf, size_t len);

/* Is path the system daemon's socket? */
int ushm__is_system_socket(const char *path);

/*
 * Creates directory path (and missing parents) with mode 0700 when it
 * does not exist.  An existing one must be a real directory (no symlink)
 * owned by the caller or root.  Returns 0 or -errno (-EPERM: a directory
 * someone else owns).
 */
int ushm__mkdir_private(const char *path);

/*
 * Makes the directory that holds socket: 0755 owned by root for the
 * system socket (every user connects), else as ushm__mkdir_private.
 * Then checks it as ushm__check_dir does.  0 or -errno.
 */
int ushm__mkdir_socket_dir(const char *socket);

/*
 * Is dir (and each of its parents that exists) safe to keep a daemon's
 * socket or state in for this process: no symbolic link, every parent
 * owned by root or by us and writable by others only when root-owned and
 * sticky (/tmp), and dir itself owned by us (or root) and writable by no
 * one else.  0, or -EACCES with what is wrong and what to do in why.
 * A missing dir is fine (it will be made).
 */
int ushm__check_dir(const char *dir, char *why, size_t len);

/* Writes "ushm: " msg to stderr, once per process for each kind (the
 * first failure says why; the rest are the errno alone). */
enum ushm__complaint {
	USHM__SAY_UNSAFE_DIR,
	USHM__SAY_UNTRUSTED,
	USHM__SAY_UNREACHABLE,
	USHM__SAY_NOT_STARTED,
	USHM__SAY_LOST,
	USHM__SAY_TIMEOUT,
	USHM__SAY_BAD_TIMEOUT,
	USHM__SAY_UNMAPPED,
	USHM__SAY_COUNT
};
void ushm__say_once(enum ushm__complaint kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* USHM_PATHS_H */
