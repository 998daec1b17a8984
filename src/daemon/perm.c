/*
 * perm.c - who may do what to a segment, as Linux's ipcperms() decides.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>

/* The gid of the request's credentials is the sender's fsgid (see
 * struct ushm__cred). */
static gid_t fsgid(const struct ushm__cred *c)
{
	return c->gid;
}

/* in_group_p with the fsgid already known. */
static int in_group(const struct ushm__cred *c, gid_t fs, gid_t gid)
{
	if (fs == gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int ushm__cred_in_group(const struct ushm__cred *c, gid_t gid)
{
	return in_group(c, fsgid(c), gid);
}

/*
 * flag's permission bits are folded into one rwx request, whichever
 * triple they were written in (Linux does the same: shmget(key, 0, 0600)
 * asks for read and write).  The owner triple applies to the owner and
 * the creator, the group triple to members of the owner's or creator's
 * group, the other triple to everyone else.  Returns 0 or -EACCES.
 */
int ushm__perm_check(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m, int flag)
{
	int requested = ((flag >> 6) | (flag >> 3) | flag) & 07;
	int granted = (int)m->mode;
	gid_t fs;

	if (c->uid == m->cuid || c->uid == m->uid) {
		granted >>= 6;
	} else if (((granted >> 3) & 07) != (granted & 07)) {
		fs = fsgid(c);
		if (in_group(c, fs, m->cgid) || in_group(c, fs, m->gid))
			granted >>= 3;
	}
	if ((requested & ~granted & 07) && c->uid != 0)
		return -EACCES;
	return 0;
}

/* IPC_SET, IPC_RMID and SHM_LOCK without CAP_IPC_LOCK need this. */
int ushm__perm_owner(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m)
{
	if (c->uid == 0 || c->uid == m->uid || c->uid == m->cuid)
		return 0;
	return -EPERM;
}
