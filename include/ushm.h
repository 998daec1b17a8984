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

/*
 * The version of this header (the Makefile's VERSION).  ushm_version()
 * returns the version of the library actually loaded, which may be newer.
 */
#define USHM_VERSION_MAJOR 0
#define USHM_VERSION_MINOR 1
#define USHM_VERSION_PATCH 0

#if defined(USHM_BUILDING)
#define USHM_API __attribute__((visibility("default")))
#else
#define USHM_API
#endif

/*
 * Returns the identifier of the segment for key, creating it when
 * shmflg has IPC_CREAT (and key is new or IPC_PRIVATE).
 * Errors: EACCES, EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC, EPERM; and
 * EDEADLK for a call from a signal handler that interrupted one of ours
 * in the same thread (each of these four calls).
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
 * munmap, mprotect, madvise, mremap and mmap as the program would call
 * them, that
 * also keep the library's record of its attachments as Linux keeps its
 * mappings: a split attachment counts each piece in nattch, shmdt of the
 * attachment's address removes every piece, a moved one is found at its
 * new address only.  A program linked with libushm that changes an
 * attachment's mappings must use these (under ushm-run the shim makes
 * the plain names do so).  Same arguments, results and errors as the
 * system calls; mremap's fifth argument is read only with MREMAP_FIXED.
 */
USHM_API int ushm_munmap(void *addr, size_t len);
USHM_API int ushm_mprotect(void *addr, size_t len, int prot);
USHM_API int ushm_madvise(void *addr, size_t len, int advice);
USHM_API void *ushm_mremap(void *old_addr, size_t old_len, size_t new_len,
			   int flags, ... /* void *new_addr */);
USHM_API void *ushm_mmap(void *addr, size_t len, int prot, int flags, int fd,
			 off_t offset);

/*
 * Control operations: IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SHM_INFO,
 * SHM_STAT, SHM_STAT_ANY, SHM_LOCK, SHM_UNLOCK.
 * Errors: EACCES, EFAULT, EIDRM, EINVAL, ENOMEM, EOVERFLOW, EPERM.
 */
USHM_API int ushm_ctl(int shmid, int cmd, struct shmid_ds *buf);

/*
 * The library's version, "MAJOR.MINOR.PATCH" (static storage).  Programs
 * built against an older header run on a newer library of the same
 * soname: the structs below only grow into their reserved space.
 */
USHM_API const char *ushm_version(void);

/*
 * What the daemon reports about itself (ushm daemon status).  reserved[]
 * is zeroed: later versions put new fields there, keeping the size.
 */
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
	uint64_t reserved[16];   /* zero; room to grow without a new ABI */
};

/*
 * Fills *info from the daemon that $USHM_SOCKET (or the default) names.
 * Never starts a daemon.  Errors: ECONNREFUSED/ENOENT (none runs), EPROTO.
 */
USHM_API int ushm_daemon_status(struct ushm_daemon_info *info);

/*
 * Requests the daemon has served since it started, by kind.  Failed calls
 * count too: they were served.  Tests use them to prove that ushm, not the
 * kernel, served a program's calls (ushm daemon status prints them).
 */
struct ushm_daemon_counters {
	uint64_t shmget;         /* shmget calls */
	uint64_t shmat;          /* shmat calls */
	uint64_t shmat_undo;     /* shmat calls whose mapping then failed */
	uint64_t shmdt;          /* shmdt calls (and munmaps of segments
				    the library noticed) */
	uint64_t shmctl;         /* shmctl calls */
	uint64_t registered;     /* attachments announced: inherited by a
				    forked child, or held across a restart */
	uint64_t hello;          /* forked children announcing themselves */
	uint64_t forked;         /* parents naming a child they forked */
	uint64_t status;         /* status and counter requests */
	uint64_t stop;           /* stop requests */
	uint64_t holders;        /* holder listings (ushm stat) */
	uint64_t table;          /* processes that took the published table:
				    they answer shmget of an existing key
				    and IPC_STAT from it themselves */
	uint64_t shmat_kept;     /* of shmat: attaches of a descriptor the
				    process kept from an earlier shmat,
				    told to the daemon without waiting */
	uint64_t reserved[6];    /* zero; room to grow without a new ABI */
};

/*
 * Fills *c from the daemon that $USHM_SOCKET (or the default) names.
 * Never starts a daemon; the request itself counts as a status request.
 * Errors: ECONNREFUSED/ENOENT (none runs), EPROTO.
 */
USHM_API int ushm_daemon_counters(struct ushm_daemon_counters *c);

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

/*
 * One mapping of a segment by a process that has it attached.  Callers
 * pass arrays of these, so its size is fixed: reserved[] (zeroed) is
 * where later versions add fields.
 */
struct ushm_holder {
	pid_t pid;               /* the process */
	unsigned int count;      /* its attachments of the segment */
	uintptr_t start, end;    /* the mapping [start, end); both 0 when
				    the daemon may not read its maps */
	uint64_t reserved[2];    /* zero; room to grow without a new ABI */
};

/*
 * Lists who has segment shmid attached: one entry per mapping, at most
 * max of them in buf.  Returns how many entries there are in all (more
 * than max: call again with a larger buf), or -1 with errno set.
 * Permission as for IPC_STAT.  Errors: EACCES, EINVAL, EIDRM, ENOMEM.
 */
USHM_API int ushm_holders(int shmid, struct ushm_holder *buf, size_t max);

/*
 * ---- Wait and notify, channels (src/chan) --------------------------------
 *
 * These need only a mapping: they work the same on a ushm segment, on a
 * kernel System V segment or on any MAP_SHARED memory, between any
 * processes that map it.
 */
#include <time.h>

/* A 32-bit word that ushm_wait/ushm_wake act on (_Atomic in C). */
#ifdef __cplusplus
typedef volatile uint32_t ushm_atomic_u32;
#else
typedef _Atomic uint32_t ushm_atomic_u32;
#endif

/*
 * Sleeps while *word == expected, until ushm_wake on the same word (in
 * any process mapping it) or until timeout (relative; NULL waits without
 * limit).  Returns 0 when woken or when *word already differs (the caller
 * checks its condition again either way; a spurious 0 is possible).
 * Errors: ETIMEDOUT, EINTR (a signal handler ran), EINVAL (word not
 * 4-byte aligned, or timeout has tv_nsec outside [0, 1e9) or is negative),
 * EFAULT (word not mapped).
 */
USHM_API int ushm_wait(const ushm_atomic_u32 *word, uint32_t expected,
		       const struct timespec *timeout);

/*
 * Wakes up to count waiters on word (INT_MAX: all of them); returns how
 * many were woken.  Errors: EINVAL (misaligned word, count < 1), EFAULT.
 */
USHM_API int ushm_wake(ushm_atomic_u32 *word, int count);

/*
 * A channel: messages of 0 to ushm_chan_max_msg() bytes from producers to
 * one consumer, through rings in a segment.  Each producer owns a lane (a
 * ring of its own): lanes = 1 is single-producer/single-consumer, more
 * lanes admit that many producers at once.  Guarantees: every committed
 * message is delivered exactly once, in the order its producer committed
 * it; messages of different producers are interleaved in no promised
 * order.  While a ring is neither empty nor full, sending and receiving
 * make no system call; a side that must block spins briefly (adaptively:
 * not at all when its peer last ran on the same CPU), then sleeps on a
 * futex, and is woken only if it sleeps.
 *
 * Every blocking call takes a relative timeout: NULL waits without limit,
 * {0, 0} never blocks (EAGAIN).  A peer that dies (even by SIGKILL) is
 * noticed within USHM_CHAN_LIVENESS_MS by a side blocked on it:
 * - the consumer gets EPIPE once the rings are empty and no producer is
 *   left alive, after at least one producer had opened the channel;
 *   what dead producers committed is delivered first;
 * - a producer gets EPIPE when the consumer has closed or died.
 * A consumer hands space back to producers in batches (an eighth of a
 * ring, and whenever it waits or closes): a consumer that dies may have
 * received up to that much that a consumer opened after it sees again.
 * A handle belongs to one thread at a time and is not inherited by fork.
 */
#define USHM_CHAN_LIVENESS_MS 100

enum ushm_chan_role {
	USHM_CHAN_PRODUCER = 1,
	USHM_CHAN_CONSUMER = 2,
};

struct ushm_chan; /* a process-local handle */

/*
 * Bytes a channel of `lanes` rings of `capacity` bytes each needs
 * (capacity: a power of two, 4 KiB to 1 GiB).  0 if the values are
 * out of range.
 */
USHM_API size_t ushm_chan_size(size_t capacity, unsigned int lanes);

/*
 * Formats size bytes at addr (from ushm_chan_size, mapped shared, 64-byte
 * aligned) as an empty channel.  Errors: EINVAL.
 */
USHM_API int ushm_chan_init(void *addr, size_t size, size_t capacity,
			    unsigned int lanes);

/*
 * Creates a segment for key (IPC_CREAT | IPC_EXCL | (mode & 0777)) and
 * formats it; returns its shmid.  Errors: those of ushm_get, ushm_at and
 * ushm_chan_init.
 */
USHM_API int ushm_chan_create(key_t key, size_t capacity, unsigned int lanes,
			      int mode);

/*
 * Opens the channel of segment key as role: attaches it and claims the
 * consumer's place or a free producer lane.  Errors: those of ushm_get and
 * ushm_at; EBADMSG (the segment is not a channel), EPROTO (a channel of
 * another version), EINVAL (a channel whose recorded size does not match
 * the segment's, or a bad role), EBUSY (the consumer's place, or every
 * lane, is held by a live process), ENOMEM.
 */
USHM_API struct ushm_chan *ushm_chan_open(key_t key, enum ushm_chan_role role);

/*
 * The same on a mapping the caller made itself (size bytes at addr), for
 * kernel segments or plain shared memory; ushm_chan_close leaves the
 * mapping alone.  Same errors, but none of ushm_get/ushm_at.
 */
USHM_API struct ushm_chan *ushm_chan_open_at(void *addr, size_t size,
					     enum ushm_chan_role role);

/*
 * Gives the handle's place up (the peer sees EPIPE as when it dies) and
 * detaches what ushm_chan_open attached.  A pending reservation or peek
 * is dropped.  In a child of fork, it only frees the inherited handle
 * (and detaches), leaving the parent's place alone.
 * Errors: EINVAL (NULL), those of ushm_dt.
 */
USHM_API int ushm_chan_close(struct ushm_chan *ch);

/* Largest message the channel carries (capacity / 2 - 8). */
USHM_API size_t ushm_chan_max_msg(const struct ushm_chan *ch);

/*
 * Producer: copies len bytes from buf into the channel as one message.
 * Errors: EAGAIN/ETIMEDOUT (ring full for the whole timeout: EAGAIN for a
 * zero timeout), EINTR, EPIPE (no consumer any more), EMSGSIZE (len >
 * ushm_chan_max_msg), EBADF (not a producer handle), EINVAL (a
 * reservation is pending, bad timeout).
 */
USHM_API int ushm_chan_send(struct ushm_chan *ch, const void *buf, size_t len,
			    const struct timespec *timeout);

/*
 * Consumer: copies the next message into buf (at most len bytes) and
 * returns its length.  Errors: EAGAIN/ETIMEDOUT, EINTR, EPIPE (empty and
 * every producer gone), EMSGSIZE (the message is longer than len: it
 * stays in the channel), EBADF (not the consumer's handle), EINVAL (a
 * peek is pending, bad timeout), EBADMSG (the ring holds a length that
 * cannot be: something else wrote into the channel).
 */
USHM_API ssize_t ushm_chan_recv(struct ushm_chan *ch, void *buf, size_t len,
				const struct timespec *timeout);

/*
 * Producer, zero copy: returns len contiguous bytes in the ring to write
 * the message in place; ushm_chan_commit publishes it.  NULL with errno
 * as ushm_chan_send.
 */
USHM_API void *ushm_chan_reserve(struct ushm_chan *ch, size_t len,
				 const struct timespec *timeout);

/*
 * Publishes the pending reservation as a message of len bytes (len <= what
 * was reserved).  Errors: EINVAL (no reservation, len too large), EBADF.
 */
USHM_API int ushm_chan_commit(struct ushm_chan *ch, size_t len);

/*
 * Consumer, zero copy: returns the next message in place and its length
 * in *len; it stays valid until ushm_chan_release.  NULL with errno as
 * ushm_chan_recv (but no EMSGSIZE).
 */
USHM_API const void *ushm_chan_peek(struct ushm_chan *ch, size_t *len,
				    const struct timespec *timeout);

/*
 * Consumes the message ushm_chan_peek returned, making its space free.
 * Errors: EINVAL (nothing peeked), EBADF.
 */
USHM_API int ushm_chan_release(struct ushm_chan *ch);

#ifdef __cplusplus
}
#endif

#endif /* USHM_H */
