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

static int expect_asker_only(unsigned op, uint32_t flags)
{
	(void)flags;
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

/* Each property of the table, what it should be, and what that means. */
static const struct {
	const char *name;
	int (*got)(const struct ushm__hdr *h);
	int (*want)(unsigned op, uint32_t flags);
	const char *rule;
} props[] = {
	{ "is_note", ushm__dispatch_is_note, expect_note,
	  "notes: HELLO, FORKED, ATTACHED, DT and REGISTER with NOREPLY; "
	  "nothing else" },
	{ "for_child", ushm__dispatch_for_child, expect_for_child,
	  "a parent's for its child: FORKED, REGISTER with FORK" },
	{ "asker_only", ushm__dispatch_asker_only, expect_asker_only,
	  "served only while the asker lives: AT" },
	{ "followed", ushm__dispatch_followed, expect_followed,
	  "followed by a call: ATTACHED, DT with NOREPLY; nothing else" },
	{ "barrier", ushm__dispatch_barrier, expect_barrier,
	  "served after the barrier: DT with AFTER_FORK; nothing else" },
};

#define NPROPS (sizeof(props) / sizeof(*props))

int main(void)
{
	/* Every flag each op has, alone and together, and garbage. */
	static const uint32_t flag_sets[] = {
		0, 1u << 0, 1u << 1, 1u << 2, (1u << 0) | (1u << 2),
		(1u << 1) | (1u << 2), 7, 1u << 31, UINT32_MAX,
	};
	static const unsigned far_ops[] = { USHM__OP_END, USHM__OPS_MAX,
					    USHM__REP_REFUSED, 0xffff };
	int bad[NPROPS] = { 0 };
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
			for (size_t k = 0; k < NPROPS; k++) {
				int got = props[k].got(&h);

				if (got == props[k].want(o, flag_sets[f]))
					continue;
				diag("op %u flags %#x: %s %d", o, flag_sets[f],
				     props[k].name, got);
				bad[k]++;
			}
			checked++;
		}
	}
	ok(checked > 0, "%u op and flag combinations looked up", checked);
	for (size_t k = 0; k < NPROPS; k++)
		is_int(bad[k], 0, "%s", props[k].rule);
	return done_testing();
}
