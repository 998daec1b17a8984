/*
 * test_proto.c - ushm__req_check and ushm__rep_check.
 *
 * The daemon trusts nothing a client sends and the library nothing the
 * daemon answers beyond what these two checks let through, so each rule
 * they enforce gets a message that breaks exactly that rule and nothing
 * else, next to a valid message of the same op that passes.
 */
#include "proto/proto.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../tap.h"

/* The request fields each op reads (all others must be zero). */
enum {
	F_ID = 1 << 0,
	F_KEY = 1 << 1,
	F_SHMFLG = 1 << 2,
	F_SIZE = 1 << 3,
	F_ADDR = 1 << 4,
	F_SET = 1 << 5,
	F_COUNT = 1 << 6,
};

struct op_desc {
	const char *name;
	unsigned fields;
};

/* Written from proto.h's description of each op, independently of the
 * table in proto.c, so that the two have to agree. */
static const struct op_desc ops[USHM__OP_END] = {
	[USHM__OP_GET] = { "GET", F_KEY | F_SHMFLG | F_SIZE | F_COUNT },
	[USHM__OP_AT] = { "AT", F_ID | F_SHMFLG | F_ADDR },
	[USHM__OP_AT_UNDO] = { "AT_UNDO", F_ID },
	[USHM__OP_DT] = { "DT", F_ID | F_ADDR | F_COUNT },
	[USHM__OP_CTL] = { "CTL", F_ID | F_SHMFLG | F_SET | F_SIZE },
	[USHM__OP_REGISTER] = { "REGISTER", F_COUNT },
	[USHM__OP_HELLO] = { "HELLO", 0 },
	[USHM__OP_STATUS] = { "STATUS", 0 },
	[USHM__OP_STOP] = { "STOP", 0 },
	[USHM__OP_HOLDERS] = { "HOLDERS", F_ID | F_COUNT },
	[USHM__OP_FORKED] = { "FORKED", F_ID },
	[USHM__OP_TABLE] = { "TABLE", 0 },
	[USHM__OP_ATTACHED] = { "ATTACHED", F_ID | F_SHMFLG | F_ADDR },
	[USHM__OP_SYNC] = { "SYNC", 0 },
};

/* Room for any message and more, aligned for the structures. */
static union {
	struct ushm__req req;
	struct ushm__rep rep;
	unsigned char bytes[USHM__MSG_MAX * 2];
} msg;

#define NREG 2 /* entries in the valid REGISTER request */

/* Builds a valid request of op in msg, every field it reads non-zero;
 * returns its length. */
static size_t make_req(unsigned op)
{
	struct ushm__req *r = &msg.req;
	unsigned f = ops[op].fields;
	size_t n = sizeof(*r);

	memset(&msg, 0, sizeof(msg));
	if (f & F_ID)
		r->id = 65537;
	if (f & F_KEY)
		r->key = 0x1234;
	if (f & F_SHMFLG)
		r->shmflg = 01600;
	if (f & F_SIZE)
		r->size = 8192;
	if (f & F_ADDR)
		r->addr = 0x7f0000000000ull;
	if (f & F_SET) {
		r->set.uid = 1000;
		r->set.gid = 1000;
		r->set.mode = 0640;
	}
	if (f & F_COUNT)
		r->count = 1;
	if (op == USHM__OP_REGISTER) {
		r->count = NREG;
		for (unsigned i = 0; i < NREG; i++) {
			r->ent[i].id = (int32_t)i;
			r->ent[i].rdonly = i & 1;
			r->ent[i].addr = 0x7f0000000000ull + i * 0x10000;
			r->ent[i].len = 4096;
		}
		n = ushm__req_size(NREG);
	}
	ushm__hdr_init(&r->hdr, op, n,
		       op == USHM__OP_REGISTER ? USHM__REG_FORK : 0);
	return n;
}

/* Sets field f of the request in msg to a non-zero value. */
static void poke(unsigned f)
{
	struct ushm__req *r = &msg.req;

	switch (f) {
	case F_ID: r->id = 7; break;
	case F_KEY: r->key = 7; break;
	case F_SHMFLG: r->shmflg = 7; break;
	case F_SIZE: r->size = 7; break;
	case F_ADDR: r->addr = 7; break;
	case F_SET: r->set.mode = 7; break;
	case F_COUNT: r->count = 7; break;
	}
}

static const char *field_name(unsigned f)
{
	switch (f) {
	case F_ID: return "id";
	case F_KEY: return "key";
	case F_SHMFLG: return "shmflg";
	case F_SIZE: return "size";
	case F_ADDR: return "addr";
	case F_SET: return "set";
	case F_COUNT: return "count";
	}
	return "?";
}

static void test_every_op(void)
{
	for (unsigned op = 1; op < USHM__OP_END; op++) {
		const char *name = ops[op].name;
		size_t n;

		/* A new op must be described here before it is tested. */
		if (!ok(name != NULL, "op %u is known to this test", op))
			continue;
		n = make_req(op);
		is_int(ushm__req_check(&msg, n, 0), 0, "%s: valid", name);
		is_int(ushm__req_check(&msg, n, 1), -EBADMSG,
		       "%s: an fd attached", name);
		is_int(ushm__req_check(&msg, n, 3), -EBADMSG,
		       "%s: three fds attached", name);
		msg.req.hdr.size = (uint32_t)n + 1;
		is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
		       "%s: size field one more than received", name);
		msg.req.hdr.size = (uint32_t)n - 1;
		is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
		       "%s: size field one less than received", name);

		/* Trailing bytes the op does not define. */
		n = make_req(op);
		msg.req.hdr.size = (uint32_t)n + 8;
		is_int(ushm__req_check(&msg, n + 8, 0), -EBADMSG,
		       "%s: 8 trailing bytes", name);

		make_req(op);
		/* An op's known flag with an unknown one, or an unknown. */
		msg.req.hdr.flags = op == USHM__OP_REGISTER ?
					    USHM__REG_FORK | 1u << 4 :
				    op == USHM__OP_GET ?
					    USHM__GET_RETRY | 1u << 4 :
				    op == USHM__OP_DT ?
					    USHM__DT_NOREPLY | 1u << 4 : 1;
		is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
		       "%s: unknown header flag", name);
		make_req(op);
		msg.req.hdr.flags |= 1u << 31;
		is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
		       "%s: header flag bit 31", name);

		for (unsigned f = 1; f <= F_COUNT; f <<= 1) {
			if (ops[op].fields & f)
				continue;
			make_req(op);
			poke(f);
			is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
			       "%s: unused field %s non-zero", name,
			       field_name(f));
		}
		/* Every op: set.pad is never read, so never anything but 0
		 * (one byte of it is enough to be rejected). */
		make_req(op);
		msg.req.set.pad = 1u << 24;
		is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
		       "%s: set.pad non-zero", name);
		make_req(op);
		msg.req.set.uid = 1;
		msg.req.set.gid = 1;
		if (!(ops[op].fields & F_SET))
			is_int(ushm__req_check(&msg, n, 0), -EBADMSG,
			       "%s: set.uid and set.gid non-zero", name);
	}
}

static void test_header(void)
{
	size_t n = make_req(USHM__OP_GET);
	size_t hdr = sizeof(struct ushm__hdr);

	is_int(ushm__req_check(&msg, 0, 0), -EBADMSG, "empty message");
	is_int(ushm__req_check(&msg, hdr - 1, 0), -EBADMSG,
	       "shorter than a header");
	msg.req.hdr.size = (uint32_t)hdr;
	is_int(ushm__req_check(&msg, hdr, 0), -EBADMSG,
	       "a header alone, size field matching");
	msg.req.hdr.size = (uint32_t)(n - 1);
	is_int(ushm__req_check(&msg, n - 1, 0), -EBADMSG,
	       "one byte short of a request, size field matching");

	make_req(USHM__OP_GET);
	msg.req.hdr.size = USHM__MSG_MAX + 1;
	is_int(ushm__req_check(&msg, USHM__MSG_MAX + 1, 0), -EBADMSG,
	       "longer than USHM__MSG_MAX");
	msg.req.hdr.size = USHM__MSG_MAX;
	is_int(ushm__req_check(&msg, USHM__MSG_MAX, 0), -EBADMSG,
	       "USHM__MSG_MAX bytes of GET");
	msg.req.hdr.size = (uint32_t)sizeof(msg);
	is_int(ushm__req_check(&msg, sizeof(msg), 0), -EBADMSG,
	       "twice USHM__MSG_MAX");

	make_req(USHM__OP_GET);
	msg.req.hdr.magic = USHM__MAGIC ^ 1;
	is_int(ushm__req_check(&msg, n, 0), -EBADMSG, "wrong magic");
	msg.req.hdr.magic = 0;
	is_int(ushm__req_check(&msg, n, 0), -EBADMSG, "magic 0");
	make_req(USHM__OP_GET);
	msg.req.hdr.magic = __builtin_bswap32(USHM__MAGIC);
	is_int(ushm__req_check(&msg, n, 0), -EBADMSG, "byte-swapped magic");

	make_req(USHM__OP_GET);
	msg.req.hdr.version = USHM__PROTO_VERSION + 1;
	is_int(ushm__req_check(&msg, n, 0), -EPROTO, "next version");
	msg.req.hdr.version = 0;
	is_int(ushm__req_check(&msg, n, 0), -EPROTO, "version 0");
	/* Another version may have other layouts: the version must be
	 * reported whatever the size. */
	msg.req.hdr.version = USHM__PROTO_VERSION + 1;
	msg.req.hdr.size = (uint32_t)hdr;
	is_int(ushm__req_check(&msg, hdr, 0), -EPROTO,
	       "next version, header only");
	msg.req.hdr.magic = 0;
	is_int(ushm__req_check(&msg, hdr, 0), -EBADMSG,
	       "wrong magic wins over wrong version");

	make_req(USHM__OP_GET);
	msg.req.hdr.op = 0;
	is_int(ushm__req_check(&msg, n, 0), -EINVAL, "op 0");
	msg.req.hdr.op = USHM__OP_END;
	is_int(ushm__req_check(&msg, n, 0), -EINVAL, "op USHM__OP_END");
	msg.req.hdr.op = 0xffff;
	is_int(ushm__req_check(&msg, n, 0), -EINVAL, "op 0xffff");

	/* DT counts the mappings removed: zero of them is no request. */
	n = make_req(USHM__OP_DT);
	msg.req.count = 0;
	is_int(ushm__req_check(&msg, n, 0), -EBADMSG, "DT with count 0");
}

/* A REGISTER request of count entries (valid ones) and n bytes. */
static void make_register(uint32_t count, size_t n)
{
	struct ushm__req *r = &msg.req;

	memset(&msg, 0, sizeof(msg));
	r->count = count;
	for (uint32_t i = 0; i < count && i < USHM__REG_MAX + 8; i++) {
		r->ent[i].id = (int32_t)i;
		r->ent[i].addr = 0x10000000ull * (i + 1);
		r->ent[i].len = 4096;
	}
	ushm__hdr_init(&r->hdr, USHM__OP_REGISTER, n, USHM__REG_ADOPT);
}

static void test_register(void)
{
	size_t n2 = ushm__req_size(2);
	struct ushm__reg_entry *e = &msg.req.ent[1];

	make_register(0, ushm__req_size(0));
	is_int(ushm__req_check(&msg, ushm__req_size(0), 0), 0,
	       "REGISTER with no entries");
	make_register(USHM__REG_MAX, ushm__req_size(USHM__REG_MAX));
	is_int(ushm__req_check(&msg, ushm__req_size(USHM__REG_MAX), 0), 0,
	       "REGISTER with USHM__REG_MAX entries");
	ok(ushm__req_size(USHM__REG_MAX + 1) <= USHM__MSG_MAX,
	   "USHM__REG_MAX + 1 entries still fit in a message");
	make_register(USHM__REG_MAX + 1, ushm__req_size(USHM__REG_MAX + 1));
	is_int(ushm__req_check(&msg, ushm__req_size(USHM__REG_MAX + 1), 0),
	       -EBADMSG, "REGISTER with USHM__REG_MAX + 1 entries");
	make_register(UINT32_MAX, n2);
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER with count UINT32_MAX");

	make_register(2, ushm__req_size(3));
	is_int(ushm__req_check(&msg, ushm__req_size(3), 0), -EBADMSG,
	       "REGISTER: count 2, room for 3");
	make_register(3, n2);
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER: count 3, room for 2");
	make_register(2, n2 + 1);
	is_int(ushm__req_check(&msg, n2 + 1, 0), -EBADMSG,
	       "REGISTER: one byte more than 2 entries");

	make_register(2, n2);
	msg.req.hdr.flags = USHM__REG_FORK;
	is_int(ushm__req_check(&msg, n2, 0), 0, "REGISTER FORK");
	msg.req.hdr.flags = USHM__REG_ADOPT;
	is_int(ushm__req_check(&msg, n2, 0), 0, "REGISTER ADOPT");
	msg.req.hdr.flags = USHM__REG_FORK | USHM__REG_ADOPT;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER with both FORK and ADOPT");
	msg.req.hdr.flags = 0;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER with neither FORK nor ADOPT");
	msg.req.hdr.flags = USHM__REG_FORK | USHM__REG_NOREPLY;
	is_int(ushm__req_check(&msg, n2, 0), 0, "REGISTER FORK without reply");
	msg.req.hdr.flags = USHM__REG_ADOPT | USHM__REG_NOREPLY;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER ADOPT without reply (only a fork's goes unanswered)");
	msg.req.hdr.flags = USHM__REG_NOREPLY;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "REGISTER without reply, neither FORK nor ADOPT");

	/* Each bad entry is the second one, so that a check of only the
	 * first would miss it. */
	make_register(2, n2);
	e->len = 0;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG, "entry with len 0");
	make_register(2, n2);
	e->addr = UINT64_MAX - 4096;
	e->len = 4096;
	is_int(ushm__req_check(&msg, n2, 0), 0,
	       "entry whose addr + len is UINT64_MAX");
	e->len = 4097;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "entry whose addr + len overflows");
	e->addr = 1;
	e->len = UINT64_MAX;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "entry of len UINT64_MAX at addr 1");
	make_register(2, n2);
	e->rdonly = 1;
	is_int(ushm__req_check(&msg, n2, 0), 0, "entry with rdonly 1");
	e->rdonly = 2;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG, "entry with rdonly 2");
	e->rdonly = UINT32_MAX;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG,
	       "entry with rdonly UINT32_MAX");
	make_register(2, n2);
	e->id = -1;
	is_int(ushm__req_check(&msg, n2, 0), -EBADMSG, "entry with id -1");
	e->id = INT32_MAX;
	is_int(ushm__req_check(&msg, n2, 0), 0, "entry with id INT32_MAX");
}

/* Builds a valid reply to op with result in msg; returns its length. */
static size_t make_rep(unsigned op, int64_t result)
{
	memset(&msg, 0, sizeof(msg));
	ushm__hdr_init(&msg.rep.hdr, op, sizeof(msg.rep), 0);
	msg.rep.result = result;
	if (op == USHM__OP_AT && result >= 0)
		msg.rep.segsz = 4096;
	return sizeof(msg.rep);
}

static void test_replies(void)
{
	size_t n = sizeof(struct ushm__rep);

	for (unsigned op = 1; op < USHM__OP_END; op++) {
		const char *name = ops[op].name ? ops[op].name : "?";
		int fds = op == USHM__OP_AT ? 1 : op == USHM__OP_TABLE ? 2 : 0;

		make_rep(op, 0);
		is_int(ushm__rep_check(&msg, n, fds, op), 0,
		       "reply to %s: valid", name);
		is_int(ushm__rep_check(&msg, n, fds + 1, op), -EBADMSG,
		       "reply to %s: one fd too many", name);
		make_rep(op, -EACCES);
		is_int(ushm__rep_check(&msg, n, 0, op), 0,
		       "reply to %s: -EACCES", name);
		is_int(ushm__rep_check(&msg, n, 1, op), -EBADMSG,
		       "reply to %s: -EACCES with an fd", name);
		make_rep(op, 0);
		is_int(ushm__rep_check(&msg, n, fds,
				       op == USHM__OP_GET ? USHM__OP_CTL :
							    USHM__OP_GET),
		       -EBADMSG, "reply to %s taken for another op", name);
		msg.rep.hdr.flags = 1;
		is_int(ushm__rep_check(&msg, n, fds, op), -EBADMSG,
		       "reply to %s: header flags", name);
	}

	make_rep(USHM__OP_AT, 5);
	is_int(ushm__rep_check(&msg, n, 1, USHM__OP_AT), 0,
	       "AT success with its fd");
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_AT), -EBADMSG,
	       "AT success without an fd");
	is_int(ushm__rep_check(&msg, n, 2, USHM__OP_AT), -EBADMSG,
	       "AT success with two fds");
	msg.rep.segsz = 0;
	is_int(ushm__rep_check(&msg, n, 1, USHM__OP_AT), -EBADMSG,
	       "AT success with segsz 0");
	make_rep(USHM__OP_AT, -EINVAL);
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_AT), 0,
	       "AT failure without an fd");
	is_int(ushm__rep_check(&msg, n, 1, USHM__OP_AT), -EBADMSG,
	       "AT failure with an fd");

	make_rep(USHM__OP_GET, -4095);
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), 0, "result -4095");
	msg.rep.result = -4096;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), -EBADMSG,
	       "result -4096");
	msg.rep.result = INT64_MIN;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), -EBADMSG,
	       "result INT64_MIN");
	msg.rep.result = INT32_MAX;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), 0,
	       "result INT32_MAX");

	make_rep(USHM__OP_STATUS, 0);
	memset(msg.rep.status.socket_path, 'a',
	       sizeof(msg.rep.status.socket_path));
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_STATUS), -EBADMSG,
	       "STATUS: socket_path unterminated");
	msg.rep.status.socket_path[sizeof(msg.rep.status.socket_path) - 1] = 0;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_STATUS), 0,
	       "STATUS: socket_path terminated in its last byte");
	memset(msg.rep.status.state_dir, 'b',
	       sizeof(msg.rep.status.state_dir));
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_STATUS), -EBADMSG,
	       "STATUS: state_dir unterminated");
	/* Other replies carry the same bytes: garbage there is refused
	 * too rather than handed to a caller that might print it. */
	make_rep(USHM__OP_CTL, 0);
	memset(msg.rep.status.state_dir, 'b',
	       sizeof(msg.rep.status.state_dir));
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_CTL), -EBADMSG,
	       "CTL: state_dir unterminated");

#ifdef USHM__HOLDERS_MAX
	make_rep(USHM__OP_HOLDERS, 0);
	msg.rep.holders.n = USHM__HOLDERS_MAX;
	msg.rep.holders.total = USHM__HOLDERS_MAX + 5;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_HOLDERS), 0,
	       "HOLDERS: a full page of a longer list");
	msg.rep.holders.n = USHM__HOLDERS_MAX + 1;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_HOLDERS), -EBADMSG,
	       "HOLDERS: more entries than a reply holds");
	msg.rep.holders.n = 3;
	msg.rep.holders.total = 2;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_HOLDERS), -EBADMSG,
	       "HOLDERS: more entries than the total");
#endif

	make_rep(USHM__OP_GET, 0);
	is_int(ushm__rep_check(&msg, 0, 0, USHM__OP_GET), -EBADMSG,
	       "empty reply");
	is_int(ushm__rep_check(&msg, sizeof(struct ushm__hdr) - 1, 0,
			       USHM__OP_GET),
	       -EBADMSG, "reply shorter than a header");
	msg.rep.hdr.size = (uint32_t)n - 1;
	is_int(ushm__rep_check(&msg, n - 1, 0, USHM__OP_GET), -EBADMSG,
	       "reply one byte short, size field matching");
	msg.rep.hdr.size = (uint32_t)n + 1;
	is_int(ushm__rep_check(&msg, n + 1, 0, USHM__OP_GET), -EBADMSG,
	       "reply one byte long, size field matching");
	msg.rep.hdr.size = (uint32_t)n + 1;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), -EBADMSG,
	       "reply size field mismatch");
	make_rep(USHM__OP_GET, 0);
	msg.rep.hdr.magic = ~USHM__MAGIC;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), -EBADMSG,
	       "reply with wrong magic");
	make_rep(USHM__OP_GET, 0);
	msg.rep.hdr.version = USHM__PROTO_VERSION + 1;
	is_int(ushm__rep_check(&msg, n, 0, USHM__OP_GET), -EPROTO,
	       "reply of the next version");
	msg.rep.hdr.size = sizeof(struct ushm__hdr);
	is_int(ushm__rep_check(&msg, sizeof(struct ushm__hdr), 0,
			       USHM__OP_GET),
	       -EPROTO, "reply of the next version, header only");
}

int main(void)
{
	test_every_op();
	test_header();
	test_register();
	test_replies();
	return done_testing();
}
