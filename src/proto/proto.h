/*
 * proto.h - the wire format between libushm and ushmd.
 *
 * One request, one reply, over a SOCK_SEQPACKET connection: every
 * message is a single datagram-sized record, so a read returns exactly
 * one message or nothing.  Fixed layouts, little-endian host order (both
 * ends are on the same machine), a magic and a version in every header.
 * The receiver validates every field (ushm__req_check, ushm__rep_check)
 * before looking at anything else; those checks are pure functions so
 * that a fuzzer can drive them.
 *
 * Identity is never in a message: the daemon takes the caller's pid, uid
 * and gid from the SCM_CREDENTIALS the kernel attaches (and verifies) on
 * each request, and supplementary groups from SO_PEERGROUPS.
 */
#ifndef USHM_PROTO_H
#define USHM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define USHM__MAGIC 0x6d687375u /* "ushm" */
#define USHM__PROTO_VERSION 2u /* 2: STATUS counts requests served */

/* Largest message either side sends; a receive buffer of this size always
 * holds a whole message, and anything longer is malformed. */
#define USHM__MSG_MAX 2048

/* Entries one REGISTER request can carry; more take several requests. */
#define USHM__REG_MAX 48

enum ushm__op {
	USHM__OP_GET = 1,   /* shmget: key, shmflg, size; count = a tag the
			       caller gives each shmget (USHM__GET_RETRY) */
	USHM__OP_AT,        /* shmat: id, shmflg, addr; reply carries an fd */
	USHM__OP_AT_UNDO,   /* the mmap after AT failed: take it back */
	USHM__OP_DT,        /* shmdt: id, addr, count = mappings removed */
	USHM__OP_CTL,       /* shmctl: id, shmflg = cmd, set for IPC_SET */
	USHM__OP_REGISTER,  /* count attachments this process already maps */
	USHM__OP_HELLO,     /* no reply: a forked child announces itself
			       (its pid, from its credentials) */
	USHM__OP_STATUS,    /* daemon status */
	USHM__OP_STOP,      /* daemon exit, keeping every segment */
	USHM__OP_HOLDERS,   /* who maps segment id: count = first entry */
	USHM__OP_FORKED,    /* no reply: the parent names the child (id = its
			       pid) that will use this connection */
	USHM__OP_TABLE,     /* the published table: the reply carries its
			       fd (read-only) and the watch set's
			       (src/proto/table.h) */
	USHM__OP_ATTACHED,  /* no reply: shmat of a descriptor the process
			       kept from an earlier AT (id, shmflg, addr):
			       count it as AT would (see src/lib/attach.c) */
	USHM__OP_SYNC,      /* reply once everything sent before it is
			       served: the result is the -errno of the last
			       ATTACHED refused since the last SYNC, or 0 */
	USHM__OP_END
};

/* The op of a reply the daemon sends, unasked, to a connection it turns
 * away (too many connections for the user, or the daemon out of
 * descriptors), just before closing it: its result (-ENOMEM) answers
 * whatever request the client sends.  Never a request's op. */
#define USHM__REP_REFUSED 0x100u

/* GET flags. */
enum {
	/* Sent again: the daemon died before it answered the first attempt,
	 * which it may have served.  A segment that attempt created (the
	 * caller's, with the same tag) is the answer. */
	USHM__GET_RETRY = 1u << 0,
	/* The caller has CAP_IPC_LOCK in its effective set (capget): Linux
	 * lets it make SHM_HUGETLB segments outside vm.hugetlb_shm_group.
	 * Only the caller's own shmget depends on it, and such a segment
	 * is ordinary memory in ushm, so a caller who lies gains nothing it
	 * could not have without the flag. */
	USHM__GET_CAP_IPC_LOCK = 1u << 1,
};

/* DT flags. */
enum {
	/* No reply: the client has unmapped already (a detach cannot
	 * fail once the library found the mapping), so it does not wait;
	 * the daemon counts the detach when it reads the request, before
	 * anything the client sends after it, and readers of the table
	 * see the request pending until then. */
	USHM__DT_NOREPLY = 1u << 0,
	/* Sent since a fork whose REGISTER went on a connection of its
	 * own (the fork socket's, which the daemon takes when it gathers)
	 * and before any reply: the daemon takes what is pending (the
	 * child's REGISTER, which copies what the parent holds) before it
	 * serves this detach. */
	USHM__DT_AFTER_FORK = 1u << 1,
};

/* REGISTER flags. */
enum {
	/* The entries are new attachments (a child inherits its parent's
	 * mappings): count them like shmat, updating atime and lpid. */
	USHM__REG_FORK = 1u << 0,
	/* The entries are attachments this process already holds, through
	 * an older connection or from before a daemon restart: move them
	 * here silently, leaving the times and lpid as they are. */
	USHM__REG_ADOPT = 1u << 1,
	/* With USHM__REG_FORK: no reply.  A parent sends its child's
	 * inherited attachments this way from inside fork(), which must
	 * not wait on the daemon; the daemon applies them before it
	 * serves any request that follows (see "The fork protocol" in
	 * src/daemon/loop.c). */
	USHM__REG_NOREPLY = 1u << 2,
};

struct ushm__hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	uint32_t size; /* bytes in the whole message, header included */
	uint32_t flags;
};

/* One attachment in a REGISTER request. */
struct ushm__reg_entry {
	int32_t id;
	uint32_t rdonly; /* 0 or 1 */
	uint64_t addr;
	uint64_t len;
};

/* The three fields IPC_SET takes. */
struct ushm__wire_set {
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	uint32_t pad;
};

struct ushm__req {
	struct ushm__hdr hdr;
	int32_t id;       /* shmid (AT, AT_UNDO, DT, CTL) */
	int32_t key;      /* GET */
	int32_t shmflg;   /* GET, AT flags; CTL command */
	uint32_t count;   /* REGISTER: entries that follow; DT: mappings */
	uint64_t size;    /* GET; CTL: the caller's RLIMIT_MEMLOCK in bytes
			     (UINT64_MAX: unlimited), for SHM_LOCK */
	uint64_t addr;    /* AT, DT: the address (kept for introspection) */
	struct ushm__wire_set set; /* CTL IPC_SET */
	struct ushm__reg_entry ent[]; /* REGISTER only */
};

/* struct shmid_ds as it travels; the library converts to libc's. */
struct ushm__wire_ds {
	int32_t key;
	uint32_t uid, gid, cuid, cgid;
	uint32_t mode;
	uint32_t seq;
	uint32_t pad;
	uint64_t segsz;
	int64_t atime, dtime, ctime;
	int32_t cpid, lpid;
	uint64_t nattch;
};

/* IPC_INFO and SHM_INFO, both in one. */
struct ushm__wire_info {
	uint64_t shmmax, shmmin, shmmni, shmseg, shmall;
	uint64_t used_ids, shm_tot, shm_rss, shm_swp;
};

/* Room for a count per op in STATUS (ops are below this). */
#define USHM__OPS_MAX 16
_Static_assert(USHM__OP_END <= USHM__OPS_MAX, "every op has a counter");

struct ushm__wire_status {
	int32_t pid;
	uint32_t proto_version;
	uint64_t segments, connections, open_fds, orphans;
	int64_t started;
	char socket_path[108];
	char state_dir[256];
	/* Requests served since the daemon started, by op (the index):
	 * what lets a test tell that ushm, not the kernel, served its
	 * program's calls.  Failed calls count too: they were served. */
	uint64_t served[USHM__OPS_MAX];
};

/*
 * One mapping of a segment in a holder's address space (HOLDERS).  A
 * holder whose maps the daemon cannot read gets one entry with start and
 * end 0.  count is the holder's attachments of the segment, repeated in
 * each of its entries.
 */
struct ushm__wire_holder {
	int32_t pid;
	uint32_t count;
	uint64_t start, end;
};

/* Entries one HOLDERS reply carries: it shares the room of the status. */
#define USHM__HOLDERS_MAX 16

struct ushm__wire_holders {
	uint32_t n;       /* entries in this reply */
	uint32_t total;   /* entries in the whole list at this moment */
	struct ushm__wire_holder h[USHM__HOLDERS_MAX];
};

struct ushm__rep {
	struct ushm__hdr hdr;
	int64_t result;   /* >= 0: the call's value; < 0: -errno */
	uint64_t segsz;   /* AT: bytes to map */
	struct ushm__wire_ds ds;         /* IPC_STAT, SHM_STAT[_ANY]; HOLDERS */
	struct ushm__wire_info info;     /* IPC_INFO, SHM_INFO */
	/* Overlaid so that HOLDERS leaves every reply its old size. */
	union {
		struct ushm__wire_status status;   /* STATUS */
		struct ushm__wire_holders holders; /* HOLDERS */
	};
};

_Static_assert(sizeof(struct ushm__wire_holders) <=
	       sizeof(struct ushm__wire_status), "HOLDERS keeps the size");

/* Size of a request with n REGISTER entries. */
static inline size_t ushm__req_size(uint32_t n)
{
	return sizeof(struct ushm__req) + n * sizeof(struct ushm__reg_entry);
}

/* Fills a header for op with size bytes. */
void ushm__hdr_init(struct ushm__hdr *h, unsigned op, size_t size,
		    uint32_t flags);

/*
 * Validates a received request of n bytes that came with nfds
 * descriptors.  Returns 0 when every field is in range, else -EBADMSG
 * (malformed), -EPROTO (other version) or -EINVAL (unknown op).
 */
int ushm__req_check(const void *buf, size_t n, int nfds);

/*
 * Validates a received reply of n bytes with nfds descriptors to a
 * request of op (or a refusal, USHM__REP_REFUSED, whatever op was).
 * Returns 0 or -EPROTO/-EBADMSG.
 */
int ushm__rep_check(const void *buf, size_t n, int nfds, unsigned op);

#endif /* USHM_PROTO_H */
