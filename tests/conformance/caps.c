/*
 * caps.c - privilege is capabilities, not uid 0: CAP_IPC_OWNER passes
 * the mode's refusal (shmget, shmat, IPC_STAT, SHM_STAT), CAP_SYS_ADMIN
 * the owner's (IPC_SET, IPC_RMID), CAP_IPC_LOCK both of SHM_LOCK's.
 * Root without one of them is refused as anyone would be (a container's
 * root, say); another user given one is let through; a process root in
 * a user namespace of its own has none where the segments are.
 *
 * Each caller is a forked child of root.  A segment of nobody's and one
 * of root's, both 0600, are the targets; root is neither owner nor
 * creator of the first, nobody of the second.
 */
#include "conf.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static int nobodys, roots, spare, idx_nobodys;
static key_t nobodys_key;
/* What IPC_SET sets them to again (read by root beforehand: a caller
 * may not be allowed to). */
static struct shmid_ds ds_nobodys, ds_roots;

static void
caps_get(struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	memset(d, 0, sizeof(*d) * _LINUX_CAPABILITY_U32S_3);
	if (syscall(SYS_capget, &h, d) != 0)
		die("capget");
}

static void
caps_set(struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	if (syscall(SYS_capset, &h, d) != 0)
		die("capset");
}

/* Root keeps every capability but cap (gone from the effective set). */
static void
drop_cap(int cap)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	caps_get(d);
	d[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	caps_set(d);
}

/* Becomes nobody with cap alone (effective and permitted). */
static void
nobody_with(int cap)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		die("PR_SET_KEEPCAPS");
	if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) != 0)
		die("cannot become nobody");
	memset(d, 0, sizeof(d));
	d[CAP_TO_INDEX(cap)].effective = d[CAP_TO_INDEX(cap)].permitted =
		CAP_TO_MASK(cap);
	caps_set(d);
}

/* text into path: 0 or -1 (a namespace's map, which an LSM may refuse
 * even where the namespace was made). */
static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Becomes nobody, then root of a user namespace of its own: every
 * capability, there.  Where user namespaces are not allowed, says so
 * and ends (the same on both sides). */
static void
nobody_in_own_userns(void)
{
	become_nobody();
	/* Its /proc files are root's after the change of ids until it is
	 * dumpable again; the maps are written there. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		die("PR_SET_DUMPABLE");
	if (unshare(CLONE_NEWUSER) != 0 ||
	    write_file("/proc/self/setgroups", "deny") != 0 ||
	    write_file("/proc/self/uid_map", "0 65534 1") != 0 ||
	    write_file("/proc/self/gid_map", "0 65534 1") != 0) {
		say("no user namespace for nobody here: skipped");
		_exit(0);
	}
}

static const char *
at_dt(int id, int flg)
{
	void *p = shmat(id, NULL, flg);
	int e = errno;

	if (p != (void *)-1 && shmdt(p) != 0)
		die("shmdt");
	return resp(p, e);
}

/* The access that CAP_IPC_OWNER overrules, on a segment of mode 0600
 * that is not the caller's. */
static void
access_calls(const char *who, int id, int with_key)
{
	struct shmid_ds ds;

	if (with_key)
		say("%s: shmget(key, 0, 0600): %s", who,
		    R(shmget(nobodys_key, 0, 0600) == id ? 0 : -1));
	say("%s: shmat: %s", who, at_dt(id, 0));
	say("%s: shmat(SHM_RDONLY): %s", who, at_dt(id, SHM_RDONLY));
	say("%s: IPC_STAT: %s", who, R(shmctl(id, IPC_STAT, &ds)));
	if (with_key) {
		int r = shmctl(idx_nobodys, SHM_STAT, &ds);

		say("%s: SHM_STAT: %s", who, r == id ? "ok" : R(r));
		r = shmctl(idx_nobodys, SHM_STAT_ANY, &ds);
		say("%s: SHM_STAT_ANY: %s", who, r == id ? "ok" : R(r));
	}
}

/* IPC_SET (to what it is) and SHM_LOCK/SHM_UNLOCK, which ask for the
 * owner or a capability. */
static void
owner_calls(const char *who, int id)
{
	struct shmid_ds ds = id == roots ? ds_roots : ds_nobodys;

	say("%s: IPC_SET: %s", who, R(shmctl(id, IPC_SET, &ds)));
	say("%s: SHM_LOCK: %s", who, R(shmctl(id, SHM_LOCK, NULL)));
	say("%s: SHM_UNLOCK: %s", who, R(shmctl(id, SHM_UNLOCK, NULL)));
}

/* A caller (become(cap) in a child) at a segment not its own: nobody's
 * for root's callers, root's for nobody's. */
static void
run(const char *who, void (*become)(int), int cap, int id)
{
	pid_t pid = xfork();

	if (pid == 0) {
		become(cap);
		access_calls(who, id, id == nobodys);
		owner_calls(who, id);
		if (id == nobodys)
			say("%s: its own segment: shmat %s", who,
			    at_dt(roots, 0));
		_exit(0);
	}
	say("%s: %s", who, wstatus(xwait(pid)));
}

static void
root_without(int cap)
{
	drop_cap(cap);
}

/* IPC_RMID of a segment not the caller's, by callers that may not or
 * may. */
static void
rmid_by(const char *who, void (*become)(int), int cap, int id)
{
	pid_t pid = xfork();

	if (pid == 0) {
		become(cap);
		say("%s: IPC_RMID of %s: %s", who,
		    id == nobodys ? "nobody's" : "root's",
		    R(shmctl(id, IPC_RMID, NULL)));
		_exit(0);
	}
	say("%s: %s", who, wstatus(xwait(pid)));
}

static void
own_userns(int cap)
{
	(void)cap;
	nobody_in_own_userns();
}

/* Root makes a user namespace of its own and writes no maps: its ids
 * show as the overflow ids there, and the kernel still checks it as root
 * without capabilities (its ids are unchanged outside). */
static void
root_unmapped_userns(const char *who)
{
	pid_t pid = xfork();

	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) != 0) {
			say("no user namespace for root here: skipped");
			_exit(0);
		}
		access_calls(who, roots, 0);
		owner_calls(who, roots);
		_exit(0);
	}
	say("%s: %s", who, wstatus(xwait(pid)));
}

/* Root makes a user namespace of its own, where its parent maps uid and
 * gid 0 to 0 (only root may): still uid 0 outside, with every
 * capability inside and none outside, where the segments are. */
static void
root_in_own_userns(const char *who)
{
	int ready[2], go[2];
	char b, path[64];
	pid_t pid;

	xpipe(ready);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		b = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
		if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(1);
		if (b != 'y') {
			say("no user namespace for root here: skipped");
			_exit(0);
		}
		access_calls(who, nobodys, 1);
		owner_calls(who, nobodys);
		say("%s: its own segment: shmat %s", who, at_dt(roots, 0));
		_exit(0);
	}
	if (read(ready[0], &b, 1) != 1)
		die("read");
	if (b == 'y') {
		snprintf(path, sizeof(path), "/proc/%ld/uid_map", (long)pid);
		if (write_file(path, "0 0 1") != 0)
			b = 'n';
		snprintf(path, sizeof(path), "/proc/%ld/gid_map", (long)pid);
		if (b == 'y' && write_file(path, "0 0 1") != 0)
			b = 'n';
	}
	if (write(go[1], &b, 1) != 1)
		die("write");
	say("%s: %s", who, wstatus(xwait(pid)));
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

int
main(void)
{
	struct shmid_ds ds;
	int fd[2];
	pid_t pid;

	conf_init();
	if (geteuid() != 0) {
		say("caps: skipped (needs root)");
		return 0;
	}
	nobodys_key = conf_key(1);
	/* nobody's segment, made by nobody. */
	xpipe(fd);
	pid = xfork();
	if (pid == 0) {
		int id;

		become_nobody();
		id = shmget(nobodys_key, 4096, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0 || write(fd[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		_exit(0);
	}
	if (read(fd[0], &nobodys, sizeof(nobodys)) != sizeof(nobodys))
		die("nobody's segment");
	say("nobody made its segment: %s", wstatus(xwait(pid)));
	track(nobodys);
	idx_nobodys = conf_find_index(nobodys);
	roots = mkseg(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	spare = mkseg(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	ds_nobodys = stat_of(nobodys);
	ds_roots = stat_of(roots);

	run("root without CAP_IPC_OWNER", root_without, CAP_IPC_OWNER,
	    nobodys);
	run("root without CAP_SYS_ADMIN", root_without, CAP_SYS_ADMIN,
	    nobodys);
	run("root without CAP_IPC_LOCK", root_without, CAP_IPC_LOCK, nobodys);
	run("nobody with CAP_IPC_OWNER", nobody_with, CAP_IPC_OWNER, roots);
	run("nobody with CAP_SYS_ADMIN", nobody_with, CAP_SYS_ADMIN, roots);
	run("nobody with CAP_IPC_LOCK", nobody_with, CAP_IPC_LOCK, roots);
	run("nobody, root of its own user namespace", own_userns, 0, roots);
	root_in_own_userns("root in a user namespace of its own");
	root_unmapped_userns("root, in a user namespace with no maps");

	rmid_by("root without CAP_SYS_ADMIN", root_without, CAP_SYS_ADMIN,
		nobodys);
	rmid_by("nobody with CAP_IPC_OWNER", nobody_with, CAP_IPC_OWNER,
		spare);
	rmid_by("nobody, root of its own user namespace", own_userns, 0,
		spare);
	rmid_by("nobody with CAP_SYS_ADMIN", nobody_with, CAP_SYS_ADMIN,
		spare);
	say("nobody's after: %s", R(shmctl(nobodys, IPC_STAT, &ds)));

	rmseg(roots);
	rmseg(nobodys);
	return 0;
}
