/*
 * ipcperm.h - Linux's ipcperms(): may a caller access a segment?
 *
 * One rule for the daemon (which checks every request) and the library
 * (which answers shmget of an existing key and IPC_STAT from the
 * published table): the two must never disagree.
 */
#ifndef USHM_IPCPERM_H
#define USHM_IPCPERM_H

#include <stdint.h>
#include <sys/types.h>

/* What ipcperms reads of a segment. */
struct ushm__perm_of {
	uint32_t mode; /* permission bits (and others, ignored) */
	uint32_t uid, gid, cuid, cgid;
};

/* Is gid one of the caller's groups (Linux's in_group_p: its fsgid or
 * a supplementary group)?  Asked only when the answer matters. */
typedef int (*ushm__in_group_fn)(const void *caller, gid_t gid);

/*
 * flag's permission bits are folded into one rwx request, whichever
 * triple they were written in (Linux does the same: shmget(key, 0, 0600)
 * asks for read and write).  The owner triple applies to the owner and
 * the creator, the group triple to members of the owner's or creator's
 * group, the other triple to everyone else.  Returns 0 or -EACCES, the
 * mode's answer: a caller with CAP_IPC_OWNER passes all the same, and
 * the caller of this function asks that (uid 0 is not the privilege:
 * Linux refuses root without the capability, in a container say).
 */
int ushm__ipcperm(uid_t euid, ushm__in_group_fn in_group, const void *caller,
		  const struct ushm__perm_of *p, int flag);

/* Linux's in_group_p: is gid the caller's fsgid or one of its n
 * supplementary groups? */
int ushm__gid_member(gid_t fsgid, const gid_t *groups, int n, gid_t gid);

/* IPC_SET, IPC_RMID and SHM_LOCK without CAP_IPC_LOCK: the owner or the
 * creator.  0 or -EPERM (a caller with CAP_SYS_ADMIN may all the same
 * for IPC_SET and IPC_RMID: the caller of this function asks). */
int ushm__ipcowner(uid_t euid, const struct ushm__perm_of *p);

#endif /* USHM_IPCPERM_H */
