/*
 * ushm.h - System V shared memory in user space.
 *
 * The four calls below have exactly the signatures, results and errno
 * values of Linux's shmget(2), shmat(2), shmdt(2) and shmctl(2); the
 * manual pages of those calls are their specification.  The segments
 * live in ushmd, a daemon that plays the kernel's role; the library
 * finds it through $USHM_SOCKET (else a per-user default) and starts a
 * per-user daemon itself when none runs, unless $USHM_AUTOSTART is "0".
 *
 * All functions are thread-safe and fork-safe: a child created by
 * fork(2) has its inherited attachments counted before fork returns,
 * and exit, exec and death by any signal detach, as on Linux.
 *
 * Errors common to all calls, besides those of the Linux calls:
 *   ECONNREFUSED  no daemon runs and autostart is off or failed
 *   EPROTO        the daemon speaks another protocol version
 */
#ifndef USHM_H
#define USHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(USHM_BUILDING)
#define USHM_API __attribute__((visibility("default")))
#else
#define USHM_API
#endif

/*
 * Returns the identifier of the segment for key, creating it when
 * shmflg has IPC_CREAT (and key is new or IPC_PRIVATE).
 * Errors: EACCES, EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC, EPERM.
 */
USHM_API int ushm_get(key_t key, size_t size, int shmflg);

/*
 * Maps segment shmid into the caller; returns its address or (void *)-1.
 * shmflg: SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC.
 * Errors: EACCES, EIDRM, EINVAL, ENOMEM, EPERM.
 */
USHM_API void *ushm_at(int shmid, const void *shmaddr, int shmflg);

/*
 * Detaches the attachment that starts at shmaddr.
 * Errors: EINVAL (no attachment starts there).
 */
USHM_API int ushm_dt(const void *shmaddr);

/*
 * Control operations: IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SHM_INFO,
 * SHM_STAT, SHM_STAT_ANY, SHM_LOCK, SHM_UNLOCK.
 * Errors: EACCES, EFAULT, EIDRM, EINVAL, ENOMEM, EOVERFLOW, EPERM.
 */
USHM_API int ushm_ctl(int shmid, int cmd, struct shmid_ds *buf);

/* What the daemon reports about itself (ushm daemon status). */
struct ushm_daemon_info {
	pid_t pid;               /* the daemon's process id */
	uint32_t proto_version;  /* wire protocol it speaks */
	uint64_t segments;       /* segments in its table */
	uint64_t connections;    /* client connections open now */
	uint64_t open_fds;       /* descriptors the daemon holds */
	uint64_t orphans;        /* processes still mapping a segment that
				    have not reconnected since a restart */
	int64_t started;         /* start time, seconds since the epoch */
	char socket_path[108];   /* where it listens */
	char state_dir[256];     /* where its segments live */
};

/*
 * Fills *info from the daemon that $USHM_SOCKET (or the default) names.
 * Never starts a daemon.  Errors: ECONNREFUSED/ENOENT (none runs), EPROTO.
 */
USHM_API int ushm_daemon_status(struct ushm_daemon_info *info);

/*
 * Asks that daemon to exit.  Segments and their contents are kept and a
 * later daemon recovers them.  Only the daemon's own user or root may ask
 * (EPERM otherwise).  Never starts a daemon.
 */
USHM_API int ushm_daemon_stop(void);

/*
 * Writes the socket path the library would use into buf (NUL-terminated).
 * Errors: ENAMETOOLONG, ENOENT (no usable default directory).
 */
USHM_API int ushm_socket_path(char *buf, size_t len);

/* One mapping of a segment by a process that has it attached. */
struct ushm_holder {
	pid_t pid;               /* the process */
	unsigned int count;      /* its attachments of the segment */
	uintptr_t start, end;    /* the mapping [start, end); both 0 when
				    the daemon may not read its maps */
};

/*
 * Lists who has segment shmid attached: one entry per mapping, at most
 * max of them in buf.  Returns how many entries there are in all (more
 * than max: call again with a larger buf), or -1 with errno set.
 * Permission as for IPC_STAT.  Errors: EACCES, EINVAL, EIDRM, ENOMEM.
 */
USHM_API int ushm_holders(int shmid, struct ushm_holder *buf, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* USHM_H */
