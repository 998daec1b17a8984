/*
 * perm.c - who may do what to a segment, as Linux's ipcperms() decides
 * (the rule itself is src/common/ipcperm.c, shared with the library).
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../common/ipcperm.h"

#include <errno.h>

/* in_group_p: the gid of the request's credentials is the sender's
 * fsgid (see struct ushm__cred). */
int ushm__cred_in_group(const struct ushm__cred *c, gid_t gid)
{
	return ushm__gid_member(c->gid, c->groups, c->ngroups, gid);
}

static int cred_in_group(const void *caller, gid_t gid)
{
	return ushm__cred_in_group(caller, gid);
}

static struct ushm__perm_of perm_of(const struct ushm__seg_meta *m)
{
	struct ushm__perm_of p = { m->mode, m->uid, m->gid, m->cuid, m->cgid };

	return p;
}

int ushm__perm_check(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m, int flag)
{
	struct ushm__perm_of p = perm_of(m);

	return ushm__ipcperm(c->uid, cred_in_group, c, &p, flag);
}

int ushm__perm_owner(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m)
{
	struct ushm__perm_of p = perm_of(m);

	return ushm__ipcowner(c->uid, &p);
}
