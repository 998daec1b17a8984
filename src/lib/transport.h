/*
 * transport.h - one connection to ushmd: connecting to a trusted daemon,
 * requests sent with the credentials the kernel checks, replies received
 * with the descriptors they carry, all bounded by USHM_TIMEOUT, and the
 * reply a timed-out request still owes.  Private to the client
 * (transport.c, session.c, forkproto.c); nothing here knows which
 * connection is the process's, or takes a lock.
 */
#ifndef USHM_TRANSPORT_H
#define USHM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"

/* A connection as its owner holds it. */
struct ushm__link {
	int fd;           /* the socket, or -1 */
	int spare;        /* a second descriptor of it, given up while a
			     reply brings a segment's fd */
	ino_t ino;        /* the socket's inode: a program may close our
			     descriptors and reuse the numbers */
	unsigned owed_op; /* a reply that timed out is still owed on fd
			     (its op), 0 if none */
	int owed_id;      /* its request's id (AT: to give it back) */
	int raw;          /* made inside fork for a child: non-blocking,
			     without timeouts, for the fork protocol's
			     notes only (the daemon gathers what comes on
			     it): the child's first call makes another */
};

#define USHM__LINK_NONE { .fd = -1, .spare = -1 }

/* Connects without waiting for a daemon whose backlog is full (-EAGAIN
 * then); the socket stays non-blocking and gets no timeouts: it only
 * carries what the fork protocol sends without waiting.  Otherwise as
 * ushm__connect (client.h). */
int ushm__connect_nowait(const char *socket_path);

/* Sends one request with the caller's credentials attached; flags for
 * sendmsg (MSG_DONTWAIT: a full queue is -EAGAIN, never a wait).
 * Async-signal-safe.  0 or -errno (-ETIMEDOUT: the bound ran out). */
int ushm__send(int fd, const void *req, size_t len, int flags);
/* Who sends a request: the pid and effective uid the caller has just
 * read as its own for this call, and the gid to send: USHM__FSGID for
 * the fsgid, read at the send (it decides group membership, so every
 * request that asks for a permission goes with it); a message that asks
 * none (REGISTER, HELLO, FORKED) may give its egid, already read. */
struct ushm__sender {
	pid_t pid;
	uid_t euid;
	gid_t gid;
};
#define USHM__FSGID ((gid_t)-1)

/* ushm__send with the ids in as, which the caller already knows to be
 * its own now (two or three system calls fewer). */
int ushm__send_as(int fd, const void *req, size_t len, int flags,
		  const struct ushm__sender *as);

/* ushm__send_as with as's ids (ushm__send when as is NULL); should the
 * kernel refuse them (EPERM: another thread has changed our ids since),
 * as we are now.  Async-signal-safe. */
int ushm__send_from(int fd, const void *req, size_t len, int flags,
		    const struct ushm__sender *as);

/* Sends req and receives its reply, up to nout descriptors it carries
 * into outfd (-1 for none; any other is closed).  *owed (when owed is
 * given) is set when the request went out but its reply did not come in
 * time.  as: the sender's ids, or NULL to read them at the send.  The
 * reply's result, or -errno (-EPIPE: the daemon went away). */
int64_t ushm__roundtrip(int fd, const void *req, size_t len,
			struct ushm__rep *rep, int *outfd, int nout,
			int *owed, const struct ushm__sender *as);

/* The inode of socket fd (0 if it is no socket, or not open): what
 * ushm__link_take notes, read where the fd is made (a forked child's
 * was, in its parent). */
ino_t ushm__socket_ino(int fd);
/* Is fd still the socket whose inode is ino (noted when it was made),
 * and not a number the program closed and reused?  Never for ino 0.
 * Async-signal-safe, and calls no libc function. */
int ushm__socket_is(int fd, ino_t ino);
/* Takes fd (>= 0), whose inode is ino, as l's connection, and makes the
 * spare; raw: fd came from ushm__connect_nowait.  Async-signal-safe,
 * and calls no libc function (rawsys.h). */
void ushm__link_take(struct ushm__link *l, int fd, ino_t ino, int raw);
/* Is fd (l's connection or its spare) still the socket l took, and not
 * a number the program reused after closing ours? */
int ushm__link_ours(const struct ushm__link *l, int fd);
/* Lets go of the connection: closes what is still ours, forgets the
 * rest.  Async-signal-safe. */
void ushm__link_drop(struct ushm__link *l);
/* The program closed the connection: forgets it without closing
 * anything (the numbers may be another file's now). */
void ushm__link_forget(struct ushm__link *l);

/* A round trip on l that remembers a reply still owed; as as for
 * ushm__roundtrip. */
int64_t ushm__link_call(struct ushm__link *l, const void *req, size_t len,
			struct ushm__rep *rep, int *outfd, int nout,
			const struct ushm__sender *as);
/* Reads the reply l still owes (l->owed_op set) before l serves
 * another request; an attach it granted is given back (its caller was
 * told it failed).  -ETIMEDOUT while the daemon still does not answer;
 * 0 otherwise, l dropped if the daemon went away. */
int64_t ushm__link_pay_owed(struct ushm__link *l);
/* Gives up the spare, so that a reply's descriptor can land in its
 * slot (a program using every low number still gets the segment's). */
void ushm__link_unspare(struct ushm__link *l);
/* Takes the spare again. */
void ushm__link_respare(struct ushm__link *l);

#endif /* USHM_TRANSPORT_H */
