/*
 * proto.c - building and validating wire messages.  Pure functions: no
 * I/O, no allocation, no global state, so the fuzzer drives them as is.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>

void ushm__hdr_init(struct ushm__hdr *h, unsigned op, size_t size,
		    uint32_t flags)
{
	h->magic = USHM__MAGIC;
	h->version = USHM__PROTO_VERSION;
	h->op = (uint16_t)op;
	h->size = (uint32_t)size;
	h->flags = flags;
}

/* The fields of a request that each op reads; all others must be zero. */
enum {
	F_ID = 1 << 0,
	F_KEY = 1 << 1,
	F_SHMFLG = 1 << 2,
	F_SIZE = 1 << 3,
	F_ADDR = 1 << 4,
	F_SET = 1 << 5,
	F_COUNT = 1 << 6,
};

static const struct {
	unsigned fields;
	uint32_t flags; /* header flags the op accepts */
} op_spec[USHM__OP_END] = {
	[USHM__OP_GET] = { F_KEY | F_SHMFLG | F_SIZE | F_COUNT,
			   USHM__GET_RETRY | USHM__GET_CAP_IPC_LOCK },
	[USHM__OP_AT] = { F_ID | F_SHMFLG | F_ADDR, 0 },
	[USHM__OP_AT_UNDO] = { F_ID, 0 },
	[USHM__OP_DT] = { F_ID | F_ADDR | F_COUNT,
			  USHM__DT_NOREPLY | USHM__DT_AFTER_FORK },
	[USHM__OP_CTL] = { F_ID | F_SHMFLG | F_SET | F_SIZE, 0 },
	[USHM__OP_REGISTER] = { F_COUNT, USHM__REG_FORK | USHM__REG_ADOPT |
						 USHM__REG_NOREPLY },
	[USHM__OP_HELLO] = { 0, 0 },
	[USHM__OP_STATUS] = { 0, 0 },
	[USHM__OP_STOP] = { 0, 0 },
	[USHM__OP_HOLDERS] = { F_ID | F_COUNT, 0 },
	[USHM__OP_FORKED] = { F_ID, 0 },
	[USHM__OP_TABLE] = { 0, 0 },
	[USHM__OP_ATTACHED] = { F_ID | F_SHMFLG | F_ADDR, 0 },
	[USHM__OP_SYNC] = { 0, 0 },
};

static int unused_fields_zero(const struct ushm__req *r, unsigned fields)
{
	static const struct ushm__wire_set zero_set;

	if (!(fields & F_ID) && r->id != 0)
		return 0;
	if (!(fields & F_KEY) && r->key != 0)
		return 0;
	if (!(fields & F_SHMFLG) && r->shmflg != 0)
		return 0;
	if (!(fields & F_SIZE) && r->size != 0)
		return 0;
	if (!(fields & F_ADDR) && r->addr != 0)
		return 0;
	if (!(fields & F_COUNT) && r->count != 0)
		return 0;
	if (!(fields & F_SET) &&
	    memcmp(&r->set, &zero_set, sizeof(zero_set)) != 0)
		return 0;
	return r->set.pad == 0;
}

static int register_check(const struct ushm__req *r, size_t n)
{
	uint32_t mode = r->hdr.flags & (USHM__REG_FORK | USHM__REG_ADOPT);

	if (r->count > USHM__REG_MAX || n != ushm__req_size(r->count))
		return -EBADMSG;
	if (mode != USHM__REG_FORK && mode != USHM__REG_ADOPT)
		return -EBADMSG;
	if ((r->hdr.flags & USHM__REG_NOREPLY) && mode != USHM__REG_FORK)
		return -EBADMSG;
	for (uint32_t i = 0; i < r->count; i++) {
		const struct ushm__reg_entry *e = &r->ent[i];

		if (e->id < 0 || e->rdonly > 1 || e->len == 0 ||
		    e->addr + e->len < e->addr)
			return -EBADMSG;
	}
	return 0;
}

int ushm__req_check(const void *buf, size_t n, int nfds)
{
	struct ushm__req r;

	if (n < sizeof(struct ushm__hdr) || n > USHM__MSG_MAX)
		return -EBADMSG;
	memcpy(&r.hdr, buf, sizeof(r.hdr));
	if (r.hdr.magic != USHM__MAGIC)
		return -EBADMSG;
	if (r.hdr.version != USHM__PROTO_VERSION)
		return -EPROTO;
	if (r.hdr.size != n || n < sizeof(r) || nfds != 0)
		return -EBADMSG;
	if (r.hdr.op == 0 || r.hdr.op >= USHM__OP_END)
		return -EINVAL;
	memcpy(&r, buf, sizeof(r));
	if (r.hdr.flags & ~op_spec[r.hdr.op].flags)
		return -EBADMSG;
	if (!unused_fields_zero(&r, op_spec[r.hdr.op].fields))
		return -EBADMSG;
	if (r.hdr.op == USHM__OP_REGISTER)
		return register_check(buf, n);
	if (r.hdr.op == USHM__OP_DT && r.count == 0)
		return -EBADMSG;
	return n == sizeof(r) ? 0 : -EBADMSG;
}

static int terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

int ushm__rep_check(const void *buf, size_t n, int nfds, unsigned op)
{
	const struct ushm__rep *r = buf;
	int want_fds;

	if (n < sizeof(struct ushm__hdr))
		return -EBADMSG;
	if (r->hdr.magic != USHM__MAGIC)
		return -EBADMSG;
	if (r->hdr.version != USHM__PROTO_VERSION)
		return -EPROTO;
	if (n != sizeof(*r) || r->hdr.size != n || r->hdr.flags != 0)
		return -EBADMSG;
	if (r->result < -4095)
		return -EBADMSG;
	if (r->hdr.op == USHM__REP_REFUSED)
		return r->result < 0 && nfds == 0 ? 0 : -EBADMSG;
	if (r->hdr.op != op)
		return -EBADMSG;
	want_fds = r->result < 0 ? 0 :
		   op == USHM__OP_AT ? 1 :
		   op == USHM__OP_TABLE ? 2 : 0;
	if (nfds != want_fds)
		return -EBADMSG;
	if (op == USHM__OP_AT && want_fds && r->segsz == 0)
		return -EBADMSG;
	if (op == USHM__OP_HOLDERS)
		return r->holders.n <= USHM__HOLDERS_MAX &&
		       r->holders.n <= r->holders.total ? 0 : -EBADMSG;
	if (!terminated(r->status.socket_path, sizeof(r->status.socket_path)) ||
	    !terminated(r->status.state_dir, sizeof(r->status.state_dir)))
		return -EBADMSG;
	return 0;
}
