/*
 * serve_input.h - the input format of fuzz_serve, shared with the seed
 * generator (gen_corpus.c) so that both read it the same way.
 *
 *   byte 0        configuration of the daemon for this input (FS_CFG_*)
 *   then records  one control byte each; the send actions continue with
 *                 a 2-byte little-endian length and that many bytes, the
 *                 message as the client sends it
 *
 * control byte:
 *   bits 0-1  which of FS_CLIENTS clients acts (connected on first use)
 *   bits 2-4  the action (FS_A_*)
 *   bit  5    FS_FIX: the harness writes magic, version and size into
 *             the header (so that mutations of the body reach the ops);
 *             for FS_A_HANGUP: shutdown(SHUT_WR) instead of close; for
 *             FS_A_UNMAP: restart the daemon instead (at most twice)
 *   bits 6-7  the credentials sent (when the fuzzer runs as root, which
 *             may send any): 0 its own, 1 uid 1000 gid 1000, 2 uid 1001
 *             gid 1000, 3 uid 1001 gid 1001
 */
#ifndef USHM_FUZZ_SERVE_INPUT_H
#define USHM_FUZZ_SERVE_INPUT_H

#define FS_CLIENTS 4
/* Longest message the harness sends: twice the daemon's buffer, so that
 * truncated records are tried too. */
#define FS_MSG_MAX 4096

enum {
	FS_A_SEND = 0,     /* send, then let the daemon serve it */
	FS_A_SEND_MAP,     /* the same, and mmap a descriptor the reply has */
	FS_A_SEND_FD,      /* send with a descriptor attached (SCM_RIGHTS) */
	FS_A_SEND_NOCREDS, /* send without an SCM_CREDENTIALS message */
	FS_A_HANGUP,       /* the client goes away (no message follows) */
	FS_A_UNMAP,        /* munmap the oldest mapping, or with FS_FIX
			      restart the daemon (no message) */
	FS_A_RECONNECT,    /* a new connection in this slot (no message) */
	FS_A_QUEUE,        /* send without serving: requests pile up */
};

#define FS_CTL(client, action, fix, cred)                                   \
	((unsigned char)((client) | ((action) << 2) | ((fix) ? 0x20 : 0) |  \
			 ((cred) << 6)))
#define FS_CLIENT(ctl) ((ctl) & 3)
#define FS_ACTION(ctl) (((ctl) >> 2) & 7)
#define FS_FIX 0x20
#define FS_CRED(ctl) (((ctl) >> 6) & 3)

/* Daemon configurations. */
enum {
	FS_CFG_QUOTA = 1 << 0,      /* per-user quotas: 3 segments, 8 pages */
	FS_CFG_FD_CEILING = 1 << 1, /* few descriptors left for clients */
	FS_CFG_SMALL = 1 << 2,      /* SHMMNI 4, SHMALL 16 pages */
	FS_CFG_OWNER = 1 << 3,      /* uid 1000 runs the daemon (no quota) */
};

#endif /* USHM_FUZZ_SERVE_INPUT_H */
