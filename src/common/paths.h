/*
 * paths.h - where the daemon listens and keeps its segments.
 *
 * Shared by the library (to connect and autostart), the daemon (its
 * defaults) and the tools, so that all three agree without a config file.
 */
#ifndef USHM_PATHS_H
#define USHM_PATHS_H

#include <stddef.h>

/*
 * The socket path: $USHM_SOCKET, else $XDG_RUNTIME_DIR/ushm/ushmd.sock,
 * else /tmp/ushm-UID/ushmd.sock.  Returns 0 or -ENAMETOOLONG.
 */
int ushm__socket_path(char *buf, size_t len);

/*
 * The state directory: $USHM_STATE_DIR, else SOCKET.d when $USHM_SOCKET
 * is set, else $XDG_RUNTIME_DIR/ushm/state, else /dev/shm/ushm-UID (a
 * tmpfs), else /tmp/ushm-UID/state.  Returns 0 or -ENAMETOOLONG.
 */
int ushm__state_dir(char *buf, size_t len);

/*
 * Creates directory path (and missing parents) with mode 0700 when it
 * does not exist.  An existing one must be a real directory (no symlink)
 * owned by the caller or root.  Returns 0 or -errno (-EPERM: a directory
 * someone else owns).
 */
int ushm__mkdir_private(const char *path);

#endif /* USHM_PATHS_H */
