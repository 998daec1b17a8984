/*
 * ipcperm.c - Linux's ipcperms() (see ipcperm.h).
 */
#include "ipcperm.h"

#include <errno.h>

int ushm__ipcperm(uid_t euid, ushm__in_group_fn in_group, const void *caller,
		  const struct ushm__perm_of *p, int flag)
{
	int requested = ((flag >> 6) | (flag >> 3) | flag) & 07;
	int granted = (int)p->mode;

	if (euid == p->cuid || euid == p->uid) {
		granted >>= 6;
	} else if (((granted >> 3) & 07) != (granted & 07)) {
		/* Membership decides only when the two triples differ. */
		if (in_group(caller, p->cgid) || in_group(caller, p->gid))
			granted >>= 3;
	}
	if (requested & ~granted & 07)
		return -EACCES;
	return 0;
}

int ushm__gid_member(gid_t fsgid, const gid_t *groups, int n, gid_t gid)
{
	if (fsgid == gid)
		return 1;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int ushm__ipcowner(uid_t euid, const struct ushm__perm_of *p)
{
	if (euid == p->uid || euid == p->cuid)
		return 0;
	return -EPERM;
}
