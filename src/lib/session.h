/*
 * session.h - what the session (session.c: the process's one connection,
 * its attachment table and daemon) and the fork protocol (forkproto.c)
 * offer each other.  Private to those two files.
 */
#ifndef USHM_SESSION_H
#define USHM_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ushm__sender; /* transport.h */

/* ---- session.c, for the fork handlers ---- */

/* Takes the client lock, as ushm__client_lock does, for fork's prepare
 * handler (which must not run pthread_once). */
void ushm__session_lock(void);

/* Caller holds the lock.  Are this process's attachments counted on a
 * connection of its own, made with the identity it has now?  Then path
 * receives the socket of its daemon, as who the process is (for
 * ushm__send_as) and the answer is 1; else 0 (a child then registers
 * them at its first call). */
int ushm__session_forkable(char *path, size_t len, struct ushm__sender *as);

/* In a child forked by a signal handler that interrupted one of our
 * calls in its thread (the fork handlers then skip the protocol: the
 * interrupted call holds the lock, or waits for it): the lock is let go
 * (no thread of the parent holds it here), and the copies of the
 * parent's connections (and of one being made) are made dead ones, so
 * that nothing the child does, the interrupted call included if the
 * handler returns into it, reaches the parent's requests and replies.
 * The child's first call finds it is another process's copy (a child
 * made without fork handlers), closes it and connects.
 * Async-signal-safe. */
void ushm__session_child_unforked(void);

/* Registers the attachment table's entries on fd, USHM__REG_MAX per
 * request, sent as as (the process's ids, just read); for a child
 * (USHM__REG_FORK), not the pieces fork does not copy (MADV_DONTFORK).
 * With USHM__REG_NOREPLY, only sends them (on a non-blocking fd: a full
 * queue is -EAGAIN, never a wait).  Caller holds the lock.  0 or
 * -errno. */
int ushm__session_register(int fd, uint32_t mode,
			   const struct ushm__sender *as);

/* In a child after fork, with the lock its parent held: takes fd (a
 * connection its attachments are registered on, whose inode is ino, or
 * -1: register them at the first call) in place of the parent's, drops
 * the pieces it did not inherit, and lets go of the lock.  pid: the
 * child's own, just read.  Async-signal-safe, and calls no libc
 * function (rawsys.h). */
void ushm__session_child(int fd, ino_t ino, pid_t pid);

/* ---- forkproto.c ---- */

/* Installs the fork handlers (once: forkproto.c does it when the
 * library is loaded; the first lock of the client state makes sure). */
void ushm__fork_protocol_setup(void);
/* Closes the connection made ahead for the next child, if any (nothing
 * is attached any more, or it is a copy inherited from a parent).  Under
 * the client lock. */
void ushm__fork_ahead_drop(void);

#endif /* USHM_SESSION_H */
