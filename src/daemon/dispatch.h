/*
 * dispatch.h - what each request op is and who serves it.
 *
 * One table (dispatch.c), indexed by op, says for each op its handler
 * and what conn.c must know before it runs: whether the op is a note
 * (sent without waiting: no reply, and no barrier before it), whether a
 * parent sends it for its child, and whether it is served only while the
 * asking process lives.  Adding an op is one entry there and its handler
 * in the serve_*.c file of its kind.
 */
#ifndef USHM_DISPATCH_H
#define USHM_DISPATCH_H

#include "server.h"

/* What a handler answers besides the result: the reply (its result is
 * set from the handler's return) and the descriptors to send with it.
 * (A handler that finds the client gone says so with
 * ushm__conn_depart_later.) */
struct ushm__answer {
	struct ushm__rep rep;
	int fds[2];
	int nfds;
	int own_fds;  /* closed once sent; else the daemon keeps them */
};

/*
 * Serves one validated request of its op.  Returns the reply's result
 * (-errno, or what the op answers); a note's is not sent.  The answer
 * starts zeroed.
 */
typedef int64_t ushm__serve_fn(struct ushm__server *srv, struct ushm__conn *c,
			       const struct ushm__cred *cr,
			       const struct ushm__req *q,
			       struct ushm__answer *a);

/* ---- dispatch.c ---- */

/* Is the message with header h (checked or merely peeked: any op and
 * flags) a note, sent without waiting for a reply? */
int ushm__dispatch_is_note(const struct ushm__hdr *h);
/* Is this validated request sent by a parent for the child that will use
 * the connection (its pid and exit are not the connection's)? */
int ushm__dispatch_for_child(const struct ushm__hdr *h);
/* Is this validated request served only while the process that asked
 * lives (it hands that process a descriptor)? */
int ushm__dispatch_asker_only(const struct ushm__hdr *h);

/* Is h a note the process often follows at once with a call (its own
 * shmat's or shmdt's)?  The loop then looks for work before it sleeps. */
int ushm__dispatch_followed(const struct ushm__hdr *h);

/* Is h a note that runs the barrier before it is served (a parent's
 * detach right after a fork: the child's REGISTER, gathered, copies what
 * the parent holds, so it is taken first)?  And is it one the barrier's
 * own pass over the notes leaves for after its rounds? */
int ushm__dispatch_barrier(const struct ushm__hdr *h);
/* Serves one validated request and sends its reply, if it has one.
 * 0, or -1 to drop the client. */
int ushm__dispatch(struct ushm__server *srv, struct ushm__conn *c,
		   const struct ushm__cred *cr, const struct ushm__req *q);

/* ---- serve_segment.c: shmget, shmctl ---- */

ushm__serve_fn ushm__serve_get, ushm__serve_ctl;

/* ---- serve_attach.c: shmat, shmdt and their accounting ---- */

ushm__serve_fn ushm__serve_at, ushm__serve_attached, ushm__serve_sync,
	ushm__serve_at_undo, ushm__serve_dt;

/* ---- serve_fork.c: the fork protocol ---- */

ushm__serve_fn ushm__serve_register, ushm__serve_hello, ushm__serve_forked;

/* ---- serve_holders.c ---- */

ushm__serve_fn ushm__serve_holders;

/* ---- serve_daemon.c: the daemon's own ---- */

ushm__serve_fn ushm__serve_status, ushm__serve_table, ushm__serve_stop;

#endif /* USHM_DISPATCH_H */
