/*
 * fuzz_proto.c - libFuzzer target for the wire checks: ushm__req_check
 * and ushm__rep_check on arbitrary bytes.
 *
 * Input: one control byte, then the message.
 *   control bits 0-1  nfds passed to both checks (0..3)
 *   control bits 2-5  the op rep_check is told the reply answers
 *   control bit  6    also build a request/reply from the bytes as the
 *                     library and the daemon do, and insist it passes
 *
 * Besides "no crash, no out-of-bounds read" (the message sits in a heap
 * block of exactly its length, so ASan sees any read past it), every
 * verdict is checked against what proto.h promises, written here
 * independently of proto.c so that the two have to agree.
 */
#include "proto/proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken property is a crash: libFuzzer keeps the input. */
#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_proto: %s:%d: %s\n",         \
				__FILE__, __LINE__, #cond);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* The request fields each op reads (proto.h); the others must be zero. */
enum {
	F_ID = 1 << 0,
	F_KEY = 1 << 1,
	F_SHMFLG = 1 << 2,
	F_SIZE = 1 << 3,
	F_ADDR = 1 << 4,
	F_SET = 1 << 5,
	F_COUNT = 1 << 6,
};

static const unsigned op_fields[USHM__OP_END] = {
	[USHM__OP_GET] = F_KEY | F_SHMFLG | F_SIZE | F_COUNT,
	[USHM__OP_AT] = F_ID | F_SHMFLG | F_ADDR,
	[USHM__OP_AT_UNDO] = F_ID,
	[USHM__OP_DT] = F_ID | F_ADDR | F_COUNT,
	[USHM__OP_CTL] = F_ID | F_SHMFLG | F_SET | F_SIZE,
	[USHM__OP_REGISTER] = F_COUNT,
	[USHM__OP_HELLO] = 0,
	[USHM__OP_STATUS] = 0,
	[USHM__OP_STOP] = 0,
	[USHM__OP_HOLDERS] = F_ID | F_COUNT,
	[USHM__OP_FORKED] = F_ID,
	[USHM__OP_TABLE] = 0,
	[USHM__OP_ATTACHED] = F_ID | F_SHMFLG | F_ADDR,
	[USHM__OP_SYNC] = 0,
};

/* The checks run on a heap copy of exactly n bytes: malloc's alignment
 * suits the structures (as the daemon's and library's buffers do), and
 * ASan flags a read one byte past the message. */
static void *copy_of(const void *p, size_t n)
{
	void *b = malloc(n ? n : 1);

	CHECK(b != NULL);
	if (n)
		memcpy(b, p, n);
	return b;
}

static int req_check_copy(const void *p, size_t n, int nfds)
{
	void *b = copy_of(p, n);
	int r = ushm__req_check(b, n, nfds);

	free(b);
	return r;
}

static int rep_check_copy(const void *p, size_t n, int nfds, unsigned op)
{
	void *b = copy_of(p, n);
	int r = ushm__rep_check(b, n, nfds, op);

	free(b);
	return r;
}

/* What an accepted request must look like. */
static void req_accepted(const unsigned char *buf, size_t n, int nfds)
{
	struct ushm__req r;
	unsigned f;

	CHECK(nfds == 0);
	CHECK(n >= sizeof(r) && n <= USHM__MSG_MAX);
	memcpy(&r, buf, sizeof(r));
	CHECK(r.hdr.magic == USHM__MAGIC);
	CHECK(r.hdr.version == USHM__PROTO_VERSION);
	CHECK(r.hdr.size == n);
	CHECK(r.hdr.op > 0 && r.hdr.op < USHM__OP_END);
	f = op_fields[r.hdr.op];
	CHECK((f & F_ID) || r.id == 0);
	CHECK((f & F_KEY) || r.key == 0);
	CHECK((f & F_SHMFLG) || r.shmflg == 0);
	CHECK((f & F_SIZE) || r.size == 0);
	CHECK((f & F_ADDR) || r.addr == 0);
	CHECK((f & F_COUNT) || r.count == 0);
	CHECK(r.set.pad == 0);
	CHECK((f & F_SET) ||
	      (r.set.uid == 0 && r.set.gid == 0 && r.set.mode == 0));
	if (r.hdr.op == USHM__OP_REGISTER) {
		uint32_t mode = r.hdr.flags & ~(uint32_t)USHM__REG_NOREPLY;

		CHECK(mode == USHM__REG_FORK || mode == USHM__REG_ADOPT);
		/* No reply only for a child's inheritance. */
		CHECK(!(r.hdr.flags & USHM__REG_NOREPLY) ||
		      mode == USHM__REG_FORK);
		CHECK(r.count <= USHM__REG_MAX);
		CHECK(n == ushm__req_size(r.count));
		for (uint32_t i = 0; i < r.count; i++) {
			struct ushm__reg_entry e;

			memcpy(&e, buf + sizeof(r) + i * sizeof(e), sizeof(e));
			CHECK(e.id >= 0 && e.rdonly <= 1 && e.len > 0);
			CHECK(e.addr + e.len >= e.addr);
		}
	} else {
		/* GET's flags: sent again after the daemon died; the
		 * caller has CAP_IPC_LOCK.  DT's: no reply wanted; sent
		 * after a fork. */
		CHECK(r.hdr.flags == 0 ||
		      (r.hdr.op == USHM__OP_GET &&
		       !(r.hdr.flags &
			 ~(USHM__GET_RETRY | USHM__GET_CAP_IPC_LOCK))) ||
		      (r.hdr.op == USHM__OP_DT &&
		       !(r.hdr.flags &
			 ~(USHM__DT_NOREPLY | USHM__DT_AFTER_FORK))));
		CHECK(n == sizeof(r));
	}
	if (r.hdr.op == USHM__OP_DT)
		CHECK(r.count > 0);
	/* A record's length is part of it: one byte less or more fails. */
	CHECK(req_check_copy(buf, n - 1, 0) != 0);
	if (n < USHM__MSG_MAX) {
		unsigned char *longer = calloc(1, n + 1);

		CHECK(longer != NULL);
		memcpy(longer, buf, n);
		CHECK(ushm__req_check(longer, n + 1, 0) != 0);
		free(longer);
	}
	/* So is the descriptor count: requests carry none. */
	CHECK(req_check_copy(buf, n, 1) == -EBADMSG);
}

/* What an accepted reply must look like. */
static void rep_accepted(const unsigned char *buf, size_t n, int nfds,
			 unsigned op)
{
	struct ushm__rep r;

	CHECK(n == sizeof(r));
	memcpy(&r, buf, sizeof(r));
	CHECK(r.hdr.magic == USHM__MAGIC);
	CHECK(r.hdr.version == USHM__PROTO_VERSION);
	CHECK(r.hdr.size == n && r.hdr.flags == 0);
	CHECK(r.result >= -4095);
	if (r.hdr.op == USHM__REP_REFUSED) {
		CHECK(r.result < 0 && nfds == 0);
		return;
	}
	CHECK(r.hdr.op == op);
	if (op == USHM__OP_AT && r.result >= 0)
		CHECK(nfds == 1 && r.segsz > 0);
	else if (op == USHM__OP_TABLE && r.result >= 0)
		CHECK(nfds == 2);
	else
		CHECK(nfds == 0);
	if (op == USHM__OP_HOLDERS) {
		CHECK(r.holders.n <= USHM__HOLDERS_MAX);
		CHECK(r.holders.n <= r.holders.total);
	} else {
		/* The library prints these with %s. */
		CHECK(memchr(r.status.socket_path, 0,
			     sizeof(r.status.socket_path)) != NULL);
		CHECK(memchr(r.status.state_dir, 0,
			     sizeof(r.status.state_dir)) != NULL);
	}
}

/* Reads bytes from the input into dst (zero-fills what is missing). */
static void take(void *dst, size_t len, const uint8_t **p, size_t *n)
{
	size_t k = *n < len ? *n : len;

	memset(dst, 0, len);
	memcpy(dst, *p, k);
	*p += k;
	*n -= k;
}

/*
 * Round trip: a request built like the library builds one (ushm__hdr_init,
 * only the fields its op reads, in range) must pass ushm__req_check; a
 * reply built like the daemon builds one must pass ushm__rep_check.
 */
static void round_trip(const uint8_t *p, size_t n)
{
	union {
		struct ushm__req req;
		unsigned char bytes[USHM__MSG_MAX];
	} m;
	struct ushm__req in;
	struct ushm__rep rep;
	unsigned op;
	uint8_t sel;
	size_t len = sizeof(m.req);
	unsigned f;
	int nfds = 0;

	take(&sel, 1, &p, &n);
	op = 1 + sel % (USHM__OP_END - 1);
	take(&in, sizeof(in), &p, &n);
	f = op_fields[op];
	memset(&m, 0, sizeof(m));
	m.req.id = (f & F_ID) ? in.id : 0;
	m.req.key = (f & F_KEY) ? in.key : 0;
	m.req.shmflg = (f & F_SHMFLG) ? in.shmflg : 0;
	m.req.size = (f & F_SIZE) ? in.size : 0;
	m.req.addr = (f & F_ADDR) ? in.addr : 0;
	m.req.count = (f & F_COUNT) ? in.count : 0;
	if (f & F_SET) {
		m.req.set = in.set;
		m.req.set.pad = 0;
	}
	if (op == USHM__OP_DT && m.req.count == 0)
		m.req.count = 1;
	if (op == USHM__OP_REGISTER) {
		uint32_t k = m.req.count % (USHM__REG_MAX + 1);

		m.req.count = k;
		for (uint32_t i = 0; i < k; i++) {
			struct ushm__reg_entry *e = &m.req.ent[i];

			take(e, sizeof(*e), &p, &n);
			e->id &= INT32_MAX;
			e->rdonly &= 1;
			if (e->len == 0)
				e->len = 1;
			if (e->addr + e->len < e->addr)
				e->addr = 0;
		}
		len = ushm__req_size(k);
		ushm__hdr_init(&m.req.hdr, op, len,
			       (sel & 0x80) ? USHM__REG_ADOPT : USHM__REG_FORK);
	} else {
		ushm__hdr_init(&m.req.hdr, op, len,
			       op == USHM__OP_GET && (sel & 0x80) ?
				       USHM__GET_RETRY :
				       0);
	}
	CHECK(req_check_copy(m.bytes, len, 0) == 0);

	/* The daemon's reply to op: whatever fields, a result in errno
	 * range or >= 0, strings it copied terminated, HOLDERS within its
	 * page, AT with its descriptor and size, TABLE with its two. */
	take(&rep, sizeof(rep), &p, &n);
	if (rep.result < -4095)
		rep.result = -(rep.result & 4095);
	rep.status.socket_path[sizeof(rep.status.socket_path) - 1] = '\0';
	rep.status.state_dir[sizeof(rep.status.state_dir) - 1] = '\0';
	if (op == USHM__OP_HOLDERS) {
		rep.holders.n %= USHM__HOLDERS_MAX + 1;
		if (rep.holders.total < rep.holders.n)
			rep.holders.total = rep.holders.n;
	}
	if (op == USHM__OP_AT && rep.result >= 0) {
		nfds = 1;
		if (rep.segsz == 0)
			rep.segsz = 1;
	}
	if (op == USHM__OP_TABLE && rep.result >= 0)
		nfds = 2; /* the table and the watch set */
	ushm__hdr_init(&rep.hdr, op, sizeof(rep), 0);
	CHECK(rep_check_copy(&rep, sizeof(rep), nfds, op) == 0);
	/* A refusal answers any op, never with a descriptor. */
	ushm__hdr_init(&rep.hdr, USHM__REP_REFUSED, sizeof(rep), 0);
	rep.result = -ENOMEM;
	CHECK(rep_check_copy(&rep, sizeof(rep), 0, op) == 0);
	CHECK(rep_check_copy(&rep, sizeof(rep), 1, op) == -EBADMSG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	size_t n;
	unsigned op;
	int nfds, r, r2;

	if (size < 1)
		return 0;
	nfds = data[0] & 3;
	op = (data[0] >> 2) & 15;
	msg = data + 1;
	n = size - 1;

	r = req_check_copy(msg, n, nfds);
	CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -EINVAL);
	/* Pure: the same bytes get the same verdict. */
	r2 = req_check_copy(msg, n, nfds);
	CHECK(r == r2);
	if (r == 0)
		req_accepted(msg, n, nfds);

	r = rep_check_copy(msg, n, nfds, op);
	CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
	if (r == 0)
		rep_accepted(msg, n, nfds, op);
	/* Every op the library may be waiting on, for the same bytes. */
	for (unsigned o = 1; o < USHM__OP_END; o++) {
		r = rep_check_copy(msg, n, nfds, o);
		CHECK(r == 0 || r == -EBADMSG || r == -EPROTO);
		if (r == 0)
			rep_accepted(msg, n, nfds, o);
	}

	if (data[0] & 0x40)
		round_trip(msg, n);
	return 0;
}
