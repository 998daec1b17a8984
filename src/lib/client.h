/*
 * client.h - libushm's internals: the connection to ushmd, the table of
 * this process's attachments, and the daemon autostart.
 *
 * A process has one connection and one table (libushm is a process-wide
 * resource, as the kernel's SysV tables are); both live in the session
 * (session.c), guarded by one mutex, the client lock; the connection's
 * messages are transport.c's, and the fork protocol (forkproto.c) makes
 * a forked child take over its own connection with its inherited
 * attachments counted.  Internal functions return 0 (or a value) or
 * -errno; only api.c turns that into -1 and errno.
 */
#ifndef USHM_CLIENT_H
#define USHM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"

#include <errno.h>

/* Linux's calls leave errno as it was when they succeed.  The work behind
 * ours makes system calls that may fail on the way (a look for a reply
 * that is not there yet: EAGAIN), so a call that succeeds puts back the
 * errno it found (saved at its start). */
static inline void ushm__errno_keep(int saved, int ok)
{
	if (ok)
		errno = saved;
}

/*
 * One mapping (one Linux vma) of an attachment.  shmat makes one piece;
 * mprotect and munmap split pieces, munmap and mappings over them remove
 * parts, mremap moves and resizes them, fork copies them all.  Linux
 * counts every piece in nattch (a split is an attach, a removal a
 * detach) and never merges them again; the daemon holds one count per
 * piece.
 */
struct ushm__attach {
	uintptr_t addr; /* where the piece starts */
	size_t len;     /* its length (a multiple of the page size) */
	size_t off;     /* the segment offset mapped at addr */
	size_t seglen;  /* the segment's size in whole pages: how far
			   shmdt looks for pieces */
	uint64_t att;   /* the shmat that made it (Linux: its shm file):
			   shmdt removes only pieces of one attachment */
	int id;
	int rdonly;
	int prot;       /* mprotect splits only where it changes this */
	unsigned advice; /* USHM__ADV_*: vma flags madvise set (a change
			    splits too) */
};

/* The madvise advices that change a vma's flags, as bits of advice. */
enum {
	USHM__ADV_DONTFORK = 1u << 0,  /* not inherited by a child */
	USHM__ADV_DONTDUMP = 1u << 1,
	USHM__ADV_WIPEONFORK = 1u << 2,
	USHM__ADV_HUGEPAGE = 1u << 3,
	USHM__ADV_NOHUGEPAGE = 1u << 4,
	USHM__ADV_MERGEABLE = 1u << 5,
	USHM__ADV_RANDOM = 1u << 6,     /* read-ahead off */
	USHM__ADV_SEQUENTIAL = 1u << 7, /* read-ahead eager */
};

struct ushm__attach_table {
	struct ushm__attach *v;
	size_t n, cap;     /* n is also read without the lock: atomics */
	uint64_t next_att; /* the next shmat's att */
	int dontfork_seen; /* a piece was given MADV_DONTFORK once: a child
			      must look for what it did not inherit */
	int change_settled; /* for the mapping call in progress (under the
			       lock): 1 its connection was made the process's
			       own before the call (ushm__pieces_settle), -1
			       that failed (nothing of the change is sent),
			       0 not looked at */
};

/* ---- attach.c ---- */
int ushm__table_add(struct ushm__attach_table *t, const struct ushm__attach *a);
void ushm__table_remove(struct ushm__attach_table *t, struct ushm__attach *a);
/* Has the process any piece?  Without the lock: a hint for fast paths
 * (a racing shmat is the program's own race). */
int ushm__table_any(const struct ushm__attach_table *t);

/* ---- pieces.c: mappings as Linux counts them ---- */

/* The address space changed over [lo, hi): what was mapped there is gone
 * (munmap, a mapping put over it).  Splits and removes pieces and tells
 * the daemon.  Caller holds the client lock. */
void ushm__pieces_cut(struct ushm__attach_table *t, uintptr_t lo,
		      uintptr_t hi);
/* A successful mprotect of [lo, hi) to prot: pieces whose protection
 * changes split at lo and hi (Linux leaves the others whole). */
void ushm__pieces_protect(struct ushm__attach_table *t, uintptr_t lo,
			  uintptr_t hi, int prot);
/* A successful madvise of [lo, hi) with advice: pieces whose flags it
 * changes split at lo and hi. */
void ushm__pieces_advise(struct ushm__attach_table *t, uintptr_t lo,
			 uintptr_t hi, int advice);
/* After fork, in the child: the pieces it did not inherit
 * (MADV_DONTFORK) leave its table.  Async-signal-safe. */
void ushm__pieces_forked(struct ushm__attach_table *t);
/* Before a mapping call that may change pieces in [lo, hi): if it
 * overlaps one, makes the process's connection its own now, while the
 * table and the mappings still agree (a child made without fork
 * handlers registers its inheritance then, which the daemon checks
 * against its mappings).  Once a call; ushm__pieces_change_done ends
 * it. */
void ushm__pieces_settle(struct ushm__attach_table *t, uintptr_t lo,
			 uintptr_t hi);
void ushm__pieces_change_done(struct ushm__attach_table *t);
/* A successful mremap of [old, old + old_len) to [now, now + new_len);
 * with keep_old (MREMAP_DONTUNMAP), the old range stays mapped. */
void ushm__pieces_remap(struct ushm__attach_table *t, uintptr_t old,
			size_t old_len, uintptr_t now, size_t new_len,
			int keep_old);
/* Linux's shmdt at addr: removes the first piece at or above addr that
 * maps the offset addr would, and every piece of the same attachment
 * within the segment's size.  0 or -EINVAL. */
int ushm__pieces_detach(struct ushm__attach_table *t, uintptr_t addr);

/* The system calls themselves, not the shim's wrappers (which take the
 * client lock): the library's own mappings. */
/* The page size (sysconf; 4096 if it cannot say). */
uintptr_t ushm__page_size(void);
void *ushm__sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off);
int ushm__sys_munmap(void *addr, size_t len);

/* ---- table.c: answers from the daemon's published table ---- */

/* The table as this process maps it, with what tells a reader whether
 * the daemon has work pending (src/proto/table.h). */
struct ushm__view {
	void *base;       /* the table, read-only; NULL: none */
	int watch_fd;     /* the daemon's watch set */
	int refused;      /* the daemon has no table for us */
};

/* Maps the table of fds[0] and keeps fds[1] (the watch set), moved
 * out of the program's way.  Takes the descriptors (closed on
 * failure).  0 or -errno. */
int ushm__view_map(struct ushm__view *v, int fds[2]);
void ushm__view_drop(struct ushm__view *v);

/* A result found in the table, or USHM__ASK_DAEMON when the call must
 * be sent (nothing there decides it, or nattch may be behind). */
#define USHM__ASK_DAEMON INT64_MIN

/* Is euid the one this process's connection was made with?  Not after a
 * seteuid, nor after entering another user namespace (whose uids are
 * not the table's): the daemon is asked then, and the identity checked
 * again.  Caller holds the client lock. */
int ushm__client_euid_is(uid_t euid);

/* caps.c: has this thread capability cap (CAP_*) in its effective set?
 * 1 or 0, or unknown when capget cannot tell. */
int ushm__thread_has_cap(int cap, int unknown);

/* shmget of an existing key: the id, -errno, or USHM__ASK_DAEMON.
 * Caller holds the client lock. */
int64_t ushm__table_get(int32_t key, uint64_t size, int shmflg);
/* What a reader waits for instead of asking: the daemon's next pass
 * (USHM__WAIT_PASS). */
#define USHM__WAIT_PASS (INT64_MIN + 1)
struct ushm__pass {
	int waits;            /* passes waited for so far (the caller's) */
	const uint32_t *word; /* the futex the daemon wakes after a pass */
	uint32_t seen;        /* its value when the reader looked */
};

/* len bytes from src to the caller's dst (to_user) or from the caller's
 * src to our dst, as the kernel's copy_to_user / copy_from_user: 0, or
 * -EFAULT where the kernel would fail (usercopy.c). */
int ushm__user_copy(void *dst, const void *src, size_t len, int to_user);
/* IPC_STAT, SHM_STAT, SHM_STAT_ANY into *ds: the call's result, -errno,
 * USHM__ASK_DAEMON, or USHM__WAIT_PASS: the process's own notes may be
 * what the daemon has pending; the caller lets go of the client lock,
 * calls ushm__table_wait_pass(pass), counts it in pass->waits and asks
 * again.  Caller holds the client lock. */
int64_t ushm__table_stat(int id, int cmd, struct ushm__wire_ds *ds,
			 struct ushm__pass *pass);
/* Sleeps until the daemon's pass after pass->seen, or 2 ms.  Without the
 * client lock: the word may be unmapped meanwhile, which only ends the
 * wait (EFAULT). */
void ushm__table_wait_pass(const struct ushm__pass *pass);
/* shmat from a kept descriptor (kept.c): a stable copy of id's row if
 * the row decides the attach without the daemon: 1, with the attach
 * permitted (acc: ipcperm's flag) to effective uid euid without asking
 * which groups the caller is in, and gen even; 0 otherwise (no table,
 * no such segment, SHM_DEST, a change under way, a refusal or a group
 * question: the daemon decides).  Caller holds the client lock. */
struct ushm__table_row;
int ushm__table_at_row(int id, int acc, uid_t euid,
		       struct ushm__table_row *row);
/* gen of id's row now (sequentially consistent: read after a send). */
uint32_t ushm__table_gen_now(int id);
/* Does the table show segment id?  1 (*row: its stable copy), 0 no such
 * segment, -1 the table cannot say now.  Caller holds the client lock. */
int ushm__table_row_state(int id, struct ushm__table_row *row);

/* ---- shmat.c ---- */

/* Lets go of the descriptors kept from earlier shmats whose segment the
 * table shows removed, SHM_DEST or replaced (see shmat.c).  Caller holds
 * the client lock. */
void ushm__kept_sweep(void);

/* ---- session.c: the process's connection ---- */

/* The published table of this process's daemon, fetched on first use;
 * NULL when calls must go to the daemon (no connection yet, no table,
 * or, with own_count, this process's attachments are not counted yet).
 * Caller holds the client lock. */
const struct ushm__view *ushm__client_view(int own_count);

/* The process's attachment table, without locking (for
 * ushm__table_any). */
const struct ushm__attach_table *ushm__client_table(void);
/* Does this thread hold the client lock already: is this call made by a
 * signal handler that interrupted one of ours?  Linux's calls are system
 * calls, which a handler may make; ours would wait for ever on the lock
 * its own thread holds, so the SysV calls fail with EDEADLK instead, and
 * the mapping wrappers make the system call alone (nattch may miss what
 * it changed until the attachment goes). */
int ushm__client_reentered(void);
/* For the SysV calls: -EDEADLK, said once, when the call re-entered. */
int ushm__client_refuse_reentry(void);
/* Locks the process's client state; returns its attachment table. */
struct ushm__attach_table *ushm__client_lock(void);
void ushm__client_unlock(void);

/*
 * Sends req (of len bytes) and waits for the reply, connecting (and
 * starting a daemon) when needed.  A broken connection is re-established
 * once, re-registering this process's attachments, and the request sent
 * again.  *fd receives a descriptor the reply carries (or -1); fd may be
 * NULL for ops that carry none.  Returns the reply's result (>= 0, or
 * -errno from the daemon) or -errno.
 *
 * Caller holds the client lock, and holds it on return; but while a
 * daemon starts, or one that died is waited for, the lock is let go
 * (see session.c), before the request is sent: the caller must not
 * carry across the call anything it read under the lock, except the
 * attachment table's address.
 */
int64_t ushm__transact(struct ushm__req *req, size_t len,
		       struct ushm__rep *rep, int *fd);
/* Sends a note (a message the daemon does not answer) on this process's
 * own connection, if it has one now: 0, or -errno (-ENOTCONN: none;
 * nothing was sent).  With euid (the caller's effective uid, just read),
 * it and the effective gid go with it (the kernel's own credentials name
 * the real ones).  Never connects.  Caller holds the client lock. */
int ushm__notify(const struct ushm__req *req, size_t len, const uid_t *euid);
/* Has the process sent notes since its last reply (which the daemon may
 * still be serving)?  Caller holds the client lock. */
int ushm__client_notes_inflight(void);
/* A fork's REGISTER went on a connection of its own (forkproto.c), which
 * the daemon takes when it gathers: until the next reply, a detach is
 * sent with USHM__DT_AFTER_FORK, so that it is not counted before the
 * child's REGISTER copies what the process holds.  Caller holds the
 * client lock. */
void ushm__client_forked(void);
int ushm__client_after_fork(void);

/* ushm__transact for a caller in the middle of a change of the
 * attachment table, which must keep the lock throughout: it starts no
 * daemon and waits for none to come back (without one, nothing is
 * counted, and the next connection registers the whole table). */
int64_t ushm__transact_held(struct ushm__req *req, size_t len,
			    struct ushm__rep *rep);

/* Before a change of the attachment table touches it: makes the
 * process's connection its own (not one made for it in fork, not its
 * parent's, not closed by the program), connecting if it is not (no
 * daemon is started), so that a new connection registers the table as
 * it was before the change, and the change's counts follow on it.
 * 0 (it was), 1 (connected now) or -errno (nothing will be counted; the
 * next connection registers the table).  A change of identity (setuid)
 * is not looked at: notes go without credentials.  Caller holds the
 * client lock. */
int ushm__client_settle(void);
/* As ushm__client_settle, and the identity too, for a change whose
 * counts include requests (REGISTER), which carry the caller's
 * credentials as they are now. */
int ushm__client_ensure(void);

/* Sends req (of len bytes), which has no reply, on the connection
 * ushm__client_settle made this process's own (nothing is sent without
 * one).  Nothing to report: a request lost with a connection is made
 * good by the attachments a new connection registers.  Caller holds the
 * client lock. */
void ushm__post(const struct ushm__req *req, size_t len);

/* Takes the spare descriptor again after a reply's fd was closed. */
void ushm__client_respare(void);

/* The socket of this process's daemon: the one it uses, else the one
 * it would discover now.  0 or -errno. */
int ushm__client_socket(char *buf, size_t len);

/* The socket this process has used (fixed at its first connection), or
 * NULL; takes no lock (for exec after vfork). */
/* Exported in the USHM_PRIVATE version node, for the shim's exec
 * wrappers (src/lib/libushm.map). */
__attribute__((visibility("default"))) const char *ushm__used_socket(void);

/* Sends req on a connection of its own and waits for the reply, without
 * starting a daemon (status, stop).  Returns the result or -errno. */
int64_t ushm__transact_once(struct ushm__req *req, struct ushm__rep *rep);

/* ---- forkproto.c ---- */

/*
 * fork() for the shim's wrapper: calls real_fork (libc's), and in the
 * parent names the child on the connection the fork handlers prepared
 * for it (FORKED, no reply), so that a child killed before it runs is
 * still known by its pid.  Exported in USHM_PRIVATE.
 */
__attribute__((visibility("default"))) pid_t
ushm__fork(pid_t (*real_fork)(void));

/* ---- spawn.c ---- */

/* Starts a daemon for socket_path keeping its segments in state_dir
 * (serialised with other starters) and waits until it accepts clients.
 * 0 or -errno (-ECONNREFUSED when USHM_AUTOSTART=0).  A failure is
 * explained once on stderr. */
int ushm__autostart(const char *socket_path, const char *state_dir);

/* ---- transport.c (the rest: transport.h) ---- */

/* Moves fd to a high number, out of the way of programs that expect
 * low ones free; returns the new fd (fd closed), or fd itself. */
int ushm__move_high(int fd);

/* Connects to socket_path; checks the daemon runs as root or as us
 * (-EACCES otherwise, explained once on stderr).  Returns the fd or
 * -errno. */
int ushm__connect(const char *socket_path);

#endif /* USHM_CLIENT_H */
