/*
 * perm.c - who may do what to a segment, as Linux's ipcperms() decides
 * (the rule itself is src/common/ipcperm.c, shared with the library).
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../common/ipcperm.h"
#include "../common/procfs.h"

#include <errno.h>
#include <linux/capability.h>
#include <poll.h>

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

/*
 * Linux's ns_capable(the IPC namespace's user namespace, cap), as far as
 * the daemon can know it safely.  uid 0 alone is no privilege: root
 * without CAP_IPC_OWNER (in a container, say) is refused other users'
 * segments.  So the capability is looked up, in /proc/PID/status of the
 * pid the kernel vouched for, and counts only in the daemon's user
 * namespace (a process root in a namespace of its own has every
 * capability there and none here).
 *
 * Only for a sender the kernel vouched is uid 0, though: /proc shows a
 * process as it is when the request is served, not as it was when it
 * was sent, and a user who sends a request and then executes a setuid
 * or file-capability program would be served with that program's
 * capabilities.  Root gains nothing that way (what an exec can give
 * root it could take by itself); anyone else's capabilities do not
 * count (a known difference: more refusals than Linux, never fewer).
 * The sender must still be alive once its capabilities are read (the
 * connection's pidfd), or they may be another process's; with no pidfd
 * to tell, they do not count.  What is left: a pid reused between the
 * sender's death and the first look at it (SCM_PIDFD, Linux 6.5, would
 * close that at the cost of a descriptor per message), a sender with
 * CAP_SYS_ADMIN naming another pid, and a thread that dropped a
 * capability its process's first thread still has.
 */
int ushm__cred_capable(const struct ushm__cred *c, int cap)
{
	struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };
	uint64_t caps;

	if (c->uid != 0 || cap < 0 || cap > 63)
		return 0;
	if (c->caps >= 0)
		return !!((uint64_t)c->caps & (1ull << cap));
	if (c->pid <= 0 || c->pidfd < 0 ||
	    ushm__proc_capeff(c->pid, &caps) < 0 || !(caps & (1ull << cap)) ||
	    ushm__proc_same_userns(c->pid) != 1)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

int ushm__perm_check(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m, int flag)
{
	struct ushm__perm_of p = perm_of(m);
	int err = ushm__ipcperm(c->uid, cred_in_group, c, &p, flag);

	return err == -EACCES && ushm__cred_capable(c, CAP_IPC_OWNER) ? 0 :
									err;
}

int ushm__perm_owner(const struct ushm__cred *c,
		     const struct ushm__seg_meta *m)
{
	struct ushm__perm_of p = perm_of(m);
	int err = ushm__ipcowner(c->uid, &p);

	return err == -EPERM && ushm__cred_capable(c, CAP_SYS_ADMIN) ? 0 :
								       err;
}
