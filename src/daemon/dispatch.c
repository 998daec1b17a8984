/*
 * dispatch.c - the table of request ops: what each is, and who serves it.
 *
 * conn.c receives and validates a request, then asks this table what the
 * op is: a note (sent without waiting, so no barrier before it and no
 * reply after it), a parent's message for its child, or a request served
 * only while the asker lives.  ushm__dispatch runs the op's handler and
 * sends its reply.  Validation itself is src/proto/proto.c's.
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <string.h>
#include <unistd.h>

/* A property an op has whatever its flags (else: when any of the flags
 * given is set, and never when none is given). */
#define ALWAYS UINT32_MAX

static const struct {
	ushm__serve_fn *serve;
	/* A note: no reply, and the client does not wait for one.  The
	 * barrier serves notes queued ahead of a request, so what a client
	 * did without waiting counts before what it asks next. */
	uint32_t note;
	/* Sent by a parent on the connection it prepared for its child:
	 * the sender's pid and exit are not the connection's. */
	uint32_t for_child;
	/* Hands the asker a descriptor: a connection whose process is gone
	 * ends instead (whoever else holds it gets none). */
	uint32_t asker_only;
	/* A note of the process's own shmat or shmdt, which the process
	 * often follows at once with a call whose read of the table waits
	 * for the pass that served the note (IPC_STAT; another shmat): the
	 * loop looks for more work before it sleeps, as after a reply. */
	uint32_t followed;
	/* A note that must not be served before what is pending in the
	 * departures set: the barrier runs first, as for a request. */
	uint32_t barrier;
} ops[USHM__OP_END] = {
	[USHM__OP_GET] = { .serve = ushm__serve_get },
	[USHM__OP_AT] = { .serve = ushm__serve_at, .asker_only = ALWAYS },
	[USHM__OP_AT_UNDO] = { .serve = ushm__serve_at_undo },
	[USHM__OP_DT] = { .serve = ushm__serve_dt,
			   .note = USHM__DT_NOREPLY,
			   .followed = USHM__DT_NOREPLY,
			   .barrier = USHM__DT_AFTER_FORK },
	[USHM__OP_CTL] = { .serve = ushm__serve_ctl },
	[USHM__OP_REGISTER] = { .serve = ushm__serve_register,
				.note = USHM__REG_NOREPLY,
				.for_child = USHM__REG_FORK },
	[USHM__OP_HELLO] = { .serve = ushm__serve_hello, .note = ALWAYS },
	[USHM__OP_STATUS] = { .serve = ushm__serve_status },
	[USHM__OP_STOP] = { .serve = ushm__serve_stop },
	[USHM__OP_HOLDERS] = { .serve = ushm__serve_holders },
	[USHM__OP_FORKED] = { .serve = ushm__serve_forked, .note = ALWAYS,
			      .for_child = ALWAYS },
	[USHM__OP_TABLE] = { .serve = ushm__serve_table },
	[USHM__OP_ATTACHED] = { .serve = ushm__serve_attached,
				.note = ALWAYS,
				.followed = ALWAYS },
	[USHM__OP_SYNC] = { .serve = ushm__serve_sync },
};

/* Does a property given as ALWAYS or a set of flags hold for h?  Any op
 * (a peeked header is not validated): one the table lacks has none. */
static int has(uint32_t prop, const struct ushm__hdr *h)
{
	return prop == ALWAYS || (h->flags & prop) != 0;
}

#define PROPERTY(h, field)                                                 \
	((h)->op < USHM__OP_END && has(ops[(h)->op].field, (h)))

int ushm__dispatch_is_note(const struct ushm__hdr *h)
{
	return PROPERTY(h, note);
}

int ushm__dispatch_for_child(const struct ushm__hdr *h)
{
	return PROPERTY(h, for_child);
}

int ushm__dispatch_asker_only(const struct ushm__hdr *h)
{
	return PROPERTY(h, asker_only);
}

int ushm__dispatch_followed(const struct ushm__hdr *h)
{
	return PROPERTY(h, followed);
}

int ushm__dispatch_barrier(const struct ushm__hdr *h)
{
	return PROPERTY(h, barrier);
}

int ushm__dispatch(struct ushm__server *srv, struct ushm__conn *c,
		   const struct ushm__cred *cr, const struct ushm__req *q)
{
	struct ushm__answer a;
	int64_t res;
	int err = 0;

	memset(&a, 0, sizeof(a));
	/* Any request means this process finished its last shmat. */
	c->at_pending = 0;
	/* Validated requests have an op below USHM__OP_END. */
	srv->served[q->hdr.op % USHM__OPS_MAX]++;
	if (q->hdr.op >= USHM__OP_END || !ops[q->hdr.op].serve)
		return -1;
	res = ops[q->hdr.op].serve(srv, c, cr, q, &a);
	/* No reply when the client is not waiting, or cannot read (a
	 * connection taken closed: so the table's epoch stays odd while
	 * it is served, as for every departure). */
	if (!ushm__dispatch_is_note(&q->hdr) && !c->unwatched) {
		a.rep.result = res;
		err = ushm__conn_reply(srv, c, &a.rep, q->hdr.op, a.fds,
				       a.nfds);
	}
	if (a.own_fds)
		for (int i = 0; i < a.nfds; i++)
			close(a.fds[i]);
	if (err < 0) {
		ushm__log(USHM__LOG_DEBUG, "pid %ld: reply: %s", (long)c->pid,
			  strerror(-err));
		return -1;
	}
	return 0;
}
