/*
 * test_dispatch.c - what the daemon's op table (src/daemon/dispatch.c)
 * says each op is.
 *
 * Whether a message is a note decides whether the daemon runs the
 * barrier before it and whether it replies: a note answered would leave
 * a reply the client never reads, a request taken for a note would leave
 * the client waiting for ever.  The expectations are written here from
 * proto.h's description of each op and flag, independently of the
 * table, for every op (and ops no daemon knows, as a peeked header may
 * carry) under every combination of the flags.
 */
#include "daemon/dispatch.h"

#include <stdint.h>
#include <string.h>

#include "../tap.h"

static int expect_note(unsigned op, uint32_t flags)
{
	switch (op) {
	case USHM__OP_HELLO:
	case USHM__OP_FORKED:
	case USHM__OP_ATTACHED:
		return 1;
	case USHM__OP_DT:
		return !!(flags & USHM__DT_NOREPLY);
	case USHM__OP_REGISTER:
		return !!(flags & USHM__REG_NOREPLY);
	default:
		return 0;
	}
}

static int expect_for_child(unsigned op, uint32_t flags)
{
	return op == USHM__OP_FORKED ||
	       (op == USHM__OP_REGISTER && (flags & USHM__REG_FORK));
}

static int expect_asker_only(unsigned op)
{
	return op == USHM__OP_AT;
}

/* A note a call often follows: the process's own shmat's or shmdt's. */
static int expect_followed(unsigned op, uint32_t flags)
{
	return op == USHM__OP_ATTACHED ||
	       (op == USHM__OP_DT && (flags & USHM__DT_NOREPLY));
}

/* Served after what forks left pending: a detach sent after a fork. */
static int expect_barrier(unsigned op, uint32_t flags)
{
	return op == USHM__OP_DT && (flags & USHM__DT_AFTER_FORK);
}

int main(void)
{
	/* Every flag each op has, alone and together, and garbage. */
	static const uint32_t flag_sets[] = {
		0, 1u << 0, 1u << 1, 1u << 2, (1u << 0) | (1u << 2),
		(1u << 1) | (1u << 2), 7, 1u << 31, UINT32_MAX,
	};
	static const unsigned far_ops[] = { USHM__OP_END, USHM__OPS_MAX,
					    USHM__REP_REFUSED, 0xffff };
	int bad[5] = { 0, 0, 0, 0, 0 };
	unsigned checked = 0;

	for (unsigned op = 0; op < USHM__OP_END + 4u; op++) {
		for (size_t f = 0; f < sizeof(flag_sets) / sizeof(*flag_sets);
		     f++) {
			unsigned o = op < USHM__OP_END ?
					     op :
					     far_ops[op - USHM__OP_END];
			struct ushm__hdr h;

			memset(&h, 0, sizeof(h));
			ushm__hdr_init(&h, o, sizeof(struct ushm__req),
				       flag_sets[f]);
			if (ushm__dispatch_is_note(&h) !=
			    expect_note(o, flag_sets[f])) {
				diag("op %u flags %#x: is_note %d", o,
				     flag_sets[f], ushm__dispatch_is_note(&h));
				bad[0]++;
			}
			if (ushm__dispatch_for_child(&h) !=
			    expect_for_child(o, flag_sets[f])) {
				diag("op %u flags %#x: for_child %d", o,
				     flag_sets[f], ushm__dispatch_for_child(&h));
				bad[1]++;
			}
			if (ushm__dispatch_asker_only(&h) !=
			    expect_asker_only(o)) {
				diag("op %u flags %#x: asker_only %d", o,
				     flag_sets[f],
				     ushm__dispatch_asker_only(&h));
				bad[2]++;
			}
			if (ushm__dispatch_followed(&h) !=
			    expect_followed(o, flag_sets[f])) {
				diag("op %u flags %#x: followed %d", o,
				     flag_sets[f], ushm__dispatch_followed(&h));
				bad[3]++;
			}
			if (ushm__dispatch_barrier(&h) !=
			    expect_barrier(o, flag_sets[f])) {
				diag("op %u flags %#x: barrier %d", o,
				     flag_sets[f], ushm__dispatch_barrier(&h));
				bad[4]++;
			}
			checked++;
		}
	}
	ok(checked > 0, "%u op and flag combinations looked up", checked);
	is_int(bad[0], 0,
	       "notes: HELLO, FORKED, ATTACHED, DT and REGISTER with "
	       "NOREPLY; nothing else");
	is_int(bad[1], 0,
	       "a parent's for its child: FORKED, REGISTER with FORK");
	is_int(bad[2], 0, "served only while the asker lives: AT");
	is_int(bad[3], 0,
	       "followed by a call: ATTACHED, DT with NOREPLY; nothing else");
	is_int(bad[4], 0,
	       "served after the barrier: DT with AFTER_FORK; nothing else");
	return done_testing();
}
