/*
 * client.h - libushm's internals: the connection to ushmd, the table of
 * this process's attachments, and the daemon autostart.
 *
 * A process has one connection and one table (libushm is a process-wide
 * resource, as the kernel's SysV tables are); both live in one struct
 * guarded by one mutex, and pthread_atfork handlers make a forked child
 * take over its own connection with its inherited attachments counted.
 * Internal functions return 0 (or a value) or -errno; only api.c turns
 * that into -1 and errno.
 */
#ifndef USHM_CLIENT_H
#define USHM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"

struct ushm__attach {
	uintptr_t addr;
	size_t len;    /* mapped length: segsz rounded up to pages */
	int id;
	int rdonly;
	int ghost;     /* its start was mapped over (SHM_REMAP): still
			  counted, no longer found by address */
	dev_t dev;     /* of the segment's file, to recognise its */
	ino_t ino;     /* mappings in /proc/self/maps */
};

struct ushm__attach_table {
	struct ushm__attach *v;
	size_t n, cap;
};

/* ---- attach.c ---- */
int ushm__table_add(struct ushm__attach_table *t, const struct ushm__attach *a);
/* The live attachment that shmat put at addr, or NULL. */
struct ushm__attach *ushm__table_find(struct ushm__attach_table *t,
				      uintptr_t addr);
void ushm__table_remove(struct ushm__attach_table *t, struct ushm__attach *a);

/* ---- maps.c ---- */

/* Is a still the one intact mapping shmat made? */
int ushm__attach_intact(const struct ushm__attach *a);
/* Linux's shmdt on the real mappings: unmaps the segment mapping that
 * starts at addr (fragments included); *which is the table entry to
 * drop.  Returns how many mappings it removed (>= 1), or -EINVAL. */
int ushm__maps_detach(struct ushm__attach_table *t, uintptr_t addr,
		      struct ushm__attach **which);

/* ---- client.c ---- */

/* Locks the process's client state; returns its attachment table. */
struct ushm__attach_table *ushm__client_lock(void);
void ushm__client_unlock(void);

/*
 * Sends req (of len bytes) and waits for the reply, connecting (and
 * starting a daemon) when needed.  A broken connection is re-established
 * once, re-registering this process's attachments, and the request sent
 * again.  *fd receives a descriptor the reply carries (or -1); fd may be
 * NULL for ops that carry none.  Caller holds the client lock.  Returns
 * the reply's result (>= 0, or -errno from the daemon) or -errno.
 */
int64_t ushm__transact(struct ushm__req *req, size_t len,
		       struct ushm__rep *rep, int *fd);

/* Takes the spare descriptor again after a reply's fd was closed. */
void ushm__client_respare(void);

/* The socket of this process's daemon: the one it uses, else the one
 * it would discover now.  0 or -errno. */
int ushm__client_socket(char *buf, size_t len);

/* The socket this process has used (fixed at its first connection), or
 * NULL; takes no lock (for exec after vfork). */
const char *ushm__used_socket(void);

/* Sends req on a connection of its own and waits for the reply, without
 * starting a daemon (status, stop).  Returns the result or -errno. */
int64_t ushm__transact_once(struct ushm__req *req, struct ushm__rep *rep);

/* ---- spawn.c ---- */

/* Starts a daemon for socket_path keeping its segments in state_dir
 * (serialised with other starters) and waits until it accepts clients.
 * 0 or -errno (-ECONNREFUSED when USHM_AUTOSTART=0).  A failure is
 * explained once on stderr. */
int ushm__autostart(const char *socket_path, const char *state_dir);

/* ---- connect (client.c) ---- */

/* Connects to socket_path; checks the daemon runs as root or as us
 * (-EACCES otherwise, explained once on stderr).  Returns the fd or
 * -errno. */
int ushm__connect(const char *socket_path);

#endif /* USHM_CLIENT_H */
