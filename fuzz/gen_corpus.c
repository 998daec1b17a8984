/*
 * gen_corpus.c - writes the seed corpora of the fuzzers: valid requests
 * and replies of every op for fuzz_proto, and short client sessions for
 * fuzz_serve (serve_input.h) that reach each op's code with a segment
 * in place.  The fuzzers start from these instead of from nothing: a
 * random byte string almost never has the magic, version and size right.
 *
 *   gen_corpus DIR    writes DIR/fuzz_proto/ and DIR/fuzz_serve/
 *
 * (make fuzz-corpus regenerates fuzz/corpus/, which is committed.)
 */
#define _GNU_SOURCE
#include "proto/proto.h"
#include "serve_input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

static const char *out_dir;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_file(const char *target, const char *name, const void *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (!f)
		die(path);
	if (fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

/* A request of op with the header set; the caller fills the fields. */
/* (Out parameters: gcc notes an ABI change when a structure with a
 * flexible array member is passed by value.) */
static void req(struct ushm__req *q, unsigned op)
{
	memset(q, 0, sizeof(*q));
	ushm__hdr_init(&q->hdr, op, sizeof(*q), 0);
}

/* ---- fuzz_proto: control byte, then the message ---- */

static void proto_seed(const char *name, unsigned char ctl, const void *msg,
		       size_t n)
{
	unsigned char buf[1 + USHM__MSG_MAX];

	buf[0] = ctl;
	memcpy(buf + 1, msg, n);
	write_file("fuzz_proto", name, buf, 1 + n);
}

static void proto_seeds(void)
{
	static const char *names[USHM__OP_END] = {
		[USHM__OP_GET] = "get", [USHM__OP_AT] = "at",
		[USHM__OP_AT_UNDO] = "at_undo", [USHM__OP_DT] = "dt",
		[USHM__OP_CTL] = "ctl", [USHM__OP_REGISTER] = "register",
		[USHM__OP_HELLO] = "hello", [USHM__OP_STATUS] = "status",
		[USHM__OP_STOP] = "stop", [USHM__OP_HOLDERS] = "holders",
		[USHM__OP_FORKED] = "forked", [USHM__OP_TABLE] = "table",
		[USHM__OP_ATTACHED] = "attached", [USHM__OP_SYNC] = "sync",
	};
	union {
		struct ushm__req req;
		unsigned char bytes[USHM__MSG_MAX];
	} m;
	struct ushm__rep rep;
	char name[64];

	for (unsigned op = 1; op < USHM__OP_END; op++) {
		if (!names[op]) {
			fprintf(stderr, "gen_corpus: op %u has no name\n", op);
			exit(1);
		}
		req(&m.req, op);
		switch (op) {
		case USHM__OP_GET:
			m.req.key = 0x1234;
			m.req.size = 4096;
			m.req.shmflg = IPC_CREAT | 0600;
			m.req.count = 7; /* its tag */
			m.req.hdr.flags = USHM__GET_RETRY;
			break;
		case USHM__OP_AT:
			m.req.shmflg = SHM_RDONLY;
			m.req.addr = 0x7f0000000000;
			break;
		case USHM__OP_DT:
			m.req.count = 1;
			m.req.addr = 0x7f0000000000;
			/* (Both flags: each alone is a bit cleared.) */
			m.req.hdr.flags = USHM__DT_NOREPLY |
					  USHM__DT_AFTER_FORK;
			break;
		case USHM__OP_CTL:
			m.req.shmflg = IPC_SET;
			m.req.set.uid = 1000;
			m.req.set.gid = 1000;
			m.req.set.mode = 0640;
			m.req.size = UINT64_MAX;
			break;
		case USHM__OP_HOLDERS:
			m.req.count = 2;
			break;
		case USHM__OP_FORKED:
			m.req.id = 4242;
			break;
		}
		if (op == USHM__OP_REGISTER) {
			m.req.count = 2;
			for (int i = 0; i < 2; i++) {
				m.req.ent[i].id = i;
				m.req.ent[i].rdonly = (uint32_t)i;
				m.req.ent[i].addr = 0x7f0000000000u +
						    (uint64_t)i * 0x10000;
				m.req.ent[i].len = 4096;
			}
			ushm__hdr_init(&m.req.hdr, op, ushm__req_size(2),
				       USHM__REG_FORK);
		}
		snprintf(name, sizeof(name), "req-%s", names[op]);
		/* Control: no descriptors, the op's reply, round trip. */
		proto_seed(name, (unsigned char)(op << 2 | 0x40), m.bytes,
			   m.req.hdr.size);

		memset(&rep, 0, sizeof(rep));
		ushm__hdr_init(&rep.hdr, op, sizeof(rep), 0);
		rep.result = op == USHM__OP_GET ? 32768 : 0;
		if (op == USHM__OP_AT)
			rep.segsz = 4096;
		if (op == USHM__OP_STATUS) {
			rep.status.pid = 1234;
			rep.status.proto_version = USHM__PROTO_VERSION;
			strcpy(rep.status.socket_path, "/tmp/ushm/ushmd.sock");
			strcpy(rep.status.state_dir, "/dev/shm/ushm-0");
		}
		if (op == USHM__OP_HOLDERS) {
			rep.holders.n = 1;
			rep.holders.total = 3;
			rep.holders.h[0].pid = 1234;
			rep.holders.h[0].count = 1;
			rep.holders.h[0].start = 0x7f0000000000;
			rep.holders.h[0].end = 0x7f0000001000;
		}
		snprintf(name, sizeof(name), "rep-%s", names[op]);
		proto_seed(name,
			   (unsigned char)((op == USHM__OP_AT) | op << 2),
			   &rep, sizeof(rep));
	}
	memset(&rep, 0, sizeof(rep));
	ushm__hdr_init(&rep.hdr, USHM__REP_REFUSED, sizeof(rep), 0);
	rep.result = -ENOMEM;
	proto_seed("rep-refused", USHM__OP_GET << 2, &rep, sizeof(rep));
}

/* ---- fuzz_serve: configuration byte, then records ---- */

struct session {
	unsigned char buf[16384];
	size_t n;
};

static void put(struct session *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->buf)) {
		fprintf(stderr, "gen_corpus: session too long\n");
		exit(1);
	}
	memcpy(s->buf + s->n, p, n);
	s->n += n;
}

static void begin(struct session *s, unsigned char cfg)
{
	s->n = 0;
	put(s, &cfg, 1);
}

/* A send record: control byte, length, message. */
static void send_msg(struct session *s, int client, int action, int cred,
		     const void *msg, size_t n)
{
	unsigned char h[3] = { FS_CTL(client, action, 0, cred),
			       (unsigned char)(n & 0xff),
			       (unsigned char)(n >> 8) };

	put(s, h, sizeof(h));
	put(s, msg, n);
}

static void send_req(struct session *s, int client, int action, int cred,
		     const struct ushm__req *q)
{
	send_msg(s, client, action, cred, q, q->hdr.size);
}

static void act(struct session *s, int client, int action, int fix)
{
	unsigned char c = FS_CTL(client, action, fix, 0);

	put(s, &c, 1);
}

/* A shmget with its tag, a new one each call, as the library's. */
static void get(struct ushm__req *q, int32_t key, uint64_t size, int shmflg)
{
	static uint32_t tag;

	req(q, USHM__OP_GET);
	q->key = key;
	q->size = size;
	q->shmflg = shmflg;
	q->count = ++tag;
}

static void at(struct ushm__req *q, int id, int shmflg)
{
	req(q, USHM__OP_AT);
	q->id = id;
	q->shmflg = shmflg;
}

static void dt(struct ushm__req *q, int id, uint32_t count)
{
	req(q, USHM__OP_DT);
	q->id = id;
	q->count = count;
}

static void ctl(struct ushm__req *q, int id, int cmd)
{
	req(q, USHM__OP_CTL);
	q->id = id;
	q->shmflg = cmd;
	q->size = UINT64_MAX;
}

static void with_id(struct ushm__req *q, unsigned op, int id, uint32_t count)
{
	req(q, op);
	q->id = id;
	q->count = count;
}

static void send_register(struct session *s, int client, uint32_t mode,
			  const int *ids, uint32_t n)
{
	union {
		struct ushm__req req;
		unsigned char bytes[USHM__MSG_MAX];
	} m;

	memset(&m, 0, sizeof(m));
	m.req.count = n;
	for (uint32_t i = 0; i < n; i++) {
		m.req.ent[i].id = ids[i];
		m.req.ent[i].addr = 0x7f0000000000u + (uint64_t)i * 0x100000;
		m.req.ent[i].len = 4096;
	}
	ushm__hdr_init(&m.req.hdr, USHM__OP_REGISTER, ushm__req_size(n),
		       mode);
	send_msg(s, client, FS_A_SEND, 0, m.bytes, ushm__req_size(n));
}

static void done(struct session *s, const char *name)
{
	write_file("fuzz_serve", name, s->buf, s->n);
}

static void serve_seeds(void)
{
	struct session s;
	struct ushm__req q;
	static const int ids01[] = { 0, 1 };

	/* The life of a segment: create, attach, detach, remove. */
	begin(&s, 0);
	get(&q, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	at(&q, 0, 0);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	dt(&q, 0, 1);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	ctl(&q, 0, IPC_RMID);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	done(&s, "lifecycle");

	/* Segments that outlive their creator: one keyed, one private and
	 * still attached when the client goes.  The daemon keeps both (and
	 * their memory) after every client has gone. */
	begin(&s, 0);
	get(&q, 0x4c656674, 4096, IPC_CREAT | 0640);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	get(&q, IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	send_req(&s, 1, FS_A_SEND, 0, &q);
	at(&q, 1, 0);
	send_req(&s, 1, FS_A_SEND_MAP, 0, &q);
	done(&s, "leftover");

	/* Removed while attached: goes at the hang-up. */
	begin(&s, 0);
	get(&q, 0x1234, 8192, IPC_CREAT | 0644);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	at(&q, 0, SHM_RDONLY);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	ctl(&q, 0, IPC_RMID);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	ctl(&q, 0, IPC_STAT);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	act(&s, 0, FS_A_HANGUP, 0);
	done(&s, "rmid-attached");

	/* Every shmctl command on one segment. */
	begin(&s, 0);
	get(&q, 0x77, 100000, IPC_CREAT | IPC_EXCL | 0660);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	{
		static const int cmds[] = { IPC_STAT, SHM_STAT, SHM_STAT_ANY,
					    IPC_INFO, SHM_INFO, SHM_LOCK,
					    SHM_LOCK, SHM_UNLOCK, IPC_SET };

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			ctl(&q, 0, cmds[i]);
			if (cmds[i] == IPC_SET) {
				q.set.uid = 1000;
				q.set.gid = 1000;
				q.set.mode = 0600;
			}
			send_req(&s, 0, FS_A_SEND, 0, &q);
		}
	}
	get(&q, 0x77, 4096, 0);
	send_req(&s, 0, FS_A_SEND, 1, &q);
	done(&s, "ctl-all");

	/* A shmget sent again (the daemon died before answering): the
	 * segment the first attempt made, by its tag, is the answer. */
	begin(&s, 0);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	act(&s, 0, FS_A_UNMAP, 1);
	q.hdr.flags = USHM__GET_RETRY;
	send_req(&s, 0, FS_A_SEND, 0, &q);
	get(&q, 0x99, 4096, IPC_CREAT | 0600);
	q.hdr.flags = USHM__GET_RETRY;
	send_req(&s, 0, FS_A_SEND, 0, &q);
	done(&s, "get-retry");

	/* shmat whose mmap failed, undone. */
	begin(&s, 0);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	at(&q, 0, 0);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	with_id(&q, USHM__OP_AT_UNDO, 0, 0);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	done(&s, "at-undo");

	/* Two connections of one process: the second adopts what the
	 * first holds, the first goes, a fork registers mappings. */
	begin(&s, 0);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	at(&q, 0, 0);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	at(&q, 1, 0);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	send_register(&s, 1, USHM__REG_ADOPT, ids01, 2);
	send_register(&s, 2, USHM__REG_FORK, ids01, 2);
	with_id(&q, USHM__OP_HOLDERS, 0, 0);
	send_req(&s, 1, FS_A_SEND, 0, &q);
	act(&s, 0, FS_A_HANGUP, 0);
	act(&s, 0, FS_A_UNMAP, 0);
	ctl(&q, 0, IPC_STAT);
	send_req(&s, 1, FS_A_SEND, 0, &q);
	done(&s, "adopt-fork");

	/* A restart: the segments are loaded back, a removed one nobody
	 * holds any more goes, the client reconnects and adopts. */
	begin(&s, 0);
	get(&q, 0x4321, 4096, IPC_CREAT | 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	at(&q, 0, 0);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	at(&q, 1, 0);
	send_req(&s, 0, FS_A_SEND_MAP, 0, &q);
	ctl(&q, 1, IPC_RMID);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	act(&s, 0, FS_A_UNMAP, 1);
	send_register(&s, 0, USHM__REG_ADOPT, ids01, 2);
	get(&q, 0x4321, 0, 0);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	done(&s, "restart");

	/* The daemon's own requests. */
	begin(&s, 0);
	req(&q, USHM__OP_HELLO);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	req(&q, USHM__OP_STATUS);
	send_req(&s, 0, FS_A_SEND, 0, &q);
	with_id(&q, USHM__OP_FORKED, 0x7ffffff0, 0);
	send_req(&s, 1, FS_A_SEND, 0, &q);
	req(&q, USHM__OP_STOP);
	send_req(&s, 2, FS_A_SEND, 1, &q);
	req(&q, USHM__OP_STOP);
	send_req(&s, 2, FS_A_SEND, 0, &q);
	done(&s, "status-stop");

	/* Other users, quotas, permissions. */
	begin(&s, FS_CFG_QUOTA | FS_CFG_SMALL);
	for (int i = 0; i < 5; i++) {
		get(&q, 0x100 + i, 3 * 4096, IPC_CREAT | 0640);
		send_req(&s, 0, FS_A_SEND, 1, &q);
	}
	at(&q, 0, 0);
	send_req(&s, 1, FS_A_SEND, 2, &q);
	at(&q, 0, SHM_RDONLY);
	send_req(&s, 1, FS_A_SEND_MAP, 2, &q);
	ctl(&q, 0, SHM_LOCK);
	q.size = 8192;
	send_req(&s, 1, FS_A_SEND, 1, &q);
	ctl(&q, 1, IPC_RMID);
	send_req(&s, 1, FS_A_SEND, 3, &q);
	done(&s, "users-quota");

	/* What a hostile client sends: a descriptor, no credentials,
	 * another version, an unknown op, an oversized record, requests
	 * queued and a half-closed socket. */
	begin(&s, FS_CFG_FD_CEILING);
	req(&q, USHM__OP_STATUS);
	send_req(&s, 0, FS_A_SEND_FD, 0, &q);
	send_req(&s, 1, FS_A_SEND_NOCREDS, 0, &q);
	q.hdr.version = 2;
	send_req(&s, 2, FS_A_SEND, 0, &q);
	req(&q, USHM__OP_STATUS);
	q.hdr.op = 99;
	send_req(&s, 2, FS_A_SEND, 0, &q);
	{
		static unsigned char big[3000];
		struct ushm__req b;

		req(&b, USHM__OP_STATUS);

		memcpy(big, &b, sizeof(b));
		send_msg(&s, 3, FS_A_SEND, 0, big, sizeof(big));
	}
	get(&q, IPC_PRIVATE, 4096, 0600);
	send_req(&s, 2, FS_A_QUEUE, 0, &q);
	at(&q, 0, 0);
	send_req(&s, 2, FS_A_QUEUE, 0, &q);
	send_req(&s, 2, FS_A_QUEUE, 0, &q);
	act(&s, 2, FS_A_HANGUP, 1);
	act(&s, 3, FS_A_RECONNECT, 0);
	done(&s, "hostile");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST)
		die(out_dir);
	proto_seeds();
	serve_seeds();
	return 0;
}
