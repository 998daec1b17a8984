/*
 * test_perm.c - ushm__perm_check, ushm__perm_owner, ushm__cred_in_group:
 * Linux's ipcperms() and the owner test of IPC_SET/IPC_RMID.
 *
 * The caller is uid 1000, gid 100, in supplementary groups 200 and 300.
 * A segment's owner (uid/gid) and creator (cuid/cgid) differ in most
 * cases, because the rules treat the two pairs alike and a check of only
 * one of them would otherwise go unnoticed.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "../tap.h"

#define ME 1000
#define MYGID 100
#define SUPP1 200
#define SUPP2 300
#define NOBODY 4242
/* Above PID_MAX_LIMIT (2^22): a pid no process has. */
#define NOPID 0x400001
#define NOGROUP 4343

static struct ushm__cred me(void)
{
	struct ushm__cred c;

	memset(&c, 0, sizeof(c));
	c.pid = NOPID; /* no process */
	c.pidfd = -1;
	c.caps = 0;
	c.uid = ME;
	c.gid = MYGID;
	c.ngroups = 2;
	c.groups[0] = SUPP1;
	c.groups[1] = SUPP2;
	return c;
}

static struct ushm__seg_meta seg(uint32_t uid, uint32_t gid, uint32_t cuid,
				 uint32_t cgid, uint32_t mode)
{
	struct ushm__seg_meta m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.gid = gid;
	m.cuid = cuid;
	m.cgid = cgid;
	m.mode = mode;
	return m;
}

/* Which triple of the mode applies to the caller. */
enum cls { OWNER, GROUP, OTHER };

static const struct {
	const char *name;
	uint32_t uid, gid, cuid, cgid;
	enum cls cls;
} who[] = {
	{ "owner via uid", ME, NOGROUP, NOBODY, NOGROUP, OWNER },
	{ "owner via cuid", NOBODY, NOGROUP, ME, NOGROUP, OWNER },
	/* Being the owner decides, even when the group also matches. */
	{ "owner and in group", ME, MYGID, ME, MYGID, OWNER },
	{ "group via gid", NOBODY, MYGID, NOBODY, NOGROUP, GROUP },
	{ "group via cgid", NOBODY, NOGROUP, NOBODY, MYGID, GROUP },
	{ "group via supplementary gid", NOBODY, SUPP2, NOBODY, NOGROUP,
	  GROUP },
	{ "group via supplementary cgid", NOBODY, NOGROUP, NOBODY, SUPP1,
	  GROUP },
	{ "other", NOBODY, NOGROUP, NOBODY, NOGROUP, OTHER },
};

#define NWHO (sizeof(who) / sizeof(who[0]))

static const uint32_t modes[] = {
	0,    0400, 0200, 0100, 0040, 0020, 0010, 0004, 0002, 0001,
	0600, 0644, 0640, 0660, 0666, 0700, 0070, 0007, 0777, 0444,
	0222, 0111, 0750, 0705, 0075, 0421, 0124, 0356,
	/* SHM_DEST and SHM_LOCKED are not permission bits. */
	01600, 02000 | 0640, 03777,
};

#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* What the caller may do under mode, from the meaning of the bits:
 * the class's r, w and x bits, one by one. */
static int allowed(uint32_t mode, enum cls cls, int rwx)
{
	static const uint32_t r[] = { 0400, 0040, 0004 };
	static const uint32_t w[] = { 0200, 0020, 0002 };
	static const uint32_t x[] = { 0100, 0010, 0001 };

	if ((rwx & 4) && !(mode & r[cls]))
		return 0;
	if ((rwx & 2) && !(mode & w[cls]))
		return 0;
	if ((rwx & 1) && !(mode & x[cls]))
		return 0;
	return 1;
}

/*
 * Every rwx request (1..7) in every non-empty combination of the three
 * triples, for every mode and every kind of caller: one check per (caller,
 * mode), listing the first wrong answer.
 */
static void test_sweep(void)
{
	struct ushm__cred c = me();

	for (size_t w = 0; w < NWHO; w++) {
		for (size_t i = 0; i < NMODES; i++) {
			struct ushm__seg_meta m =
				seg(who[w].uid, who[w].gid, who[w].cuid,
				    who[w].cgid, modes[i]);
			int bad = 0, bad_flag = 0, bad_got = 0;

			for (int rwx = 0; rwx <= 7; rwx++) {
				for (int t = 1; t <= 7; t++) {
					int flag = ((t & 4) ? rwx << 6 : 0) |
						   ((t & 2) ? rwx << 3 : 0) |
						   ((t & 1) ? rwx : 0);
					int want = allowed(modes[i],
							   who[w].cls, rwx) ?
							   0 :
							   -EACCES;
					int got = ushm__perm_check(&c, &m,
								   flag);

					if (got != want && !bad++) {
						bad_flag = flag;
						bad_got = got;
					}
				}
			}
			if (!ok(bad == 0, "%s, mode %04o: every request",
				who[w].name, modes[i]))
				diag("  flag %04o gave %d (and %d more wrong)",
				     bad_flag, bad_got, bad - 1);
		}
	}
}

/* A few cases spelled out, so that the sweep's model is checked too. */
static void test_table(void)
{
	static const struct {
		uint32_t mode;
		enum cls cls;
		int flag;
		int want;
		const char *what;
	} t[] = {
		{ 0600, OWNER, 0600, 0, "owner rw of 0600" },
		{ 0600, OWNER, 0006, 0, "owner rw of 0600, other triple" },
		{ 0600, OWNER, 0100, -EACCES, "owner x of 0600" },
		{ 0600, GROUP, 0400, -EACCES, "group r of 0600" },
		{ 0600, OTHER, 0004, -EACCES, "other r of 0600" },
		{ 0640, GROUP, 0040, 0, "group r of 0640" },
		{ 0640, GROUP, 0444, 0, "group r of 0640, all triples" },
		{ 0640, GROUP, 0020, -EACCES, "group w of 0640" },
		{ 0644, OTHER, 0444, 0, "other r of 0644" },
		{ 0644, OTHER, 0666, -EACCES, "other rw of 0644" },
		{ 0070, OWNER, 0400, -EACCES,
		  "owner r of 0070: the group bits are not the owner's" },
		{ 0007, OWNER, 0004, -EACCES,
		  "owner r of 0007: the other bits are not the owner's" },
		{ 0007, GROUP, 0004, -EACCES, "group r of 0007" },
		{ 0707, GROUP, 0001, -EACCES, "group x of 0707" },
		{ 0000, OWNER, 0, 0, "nothing asked of 0000" },
		{ 0000, OTHER, IPC_CREAT | IPC_EXCL, 0,
		  "IPC_CREAT|IPC_EXCL ask for nothing" },
		{ 0000, OTHER, SHM_RDONLY, 0, "SHM_RDONLY asks for nothing" },
		{ 0400, OWNER, IPC_CREAT | 0600, -EACCES,
		  "IPC_CREAT|0600 on 0400 asks for w" },
		{ 0111, OTHER, 0100, 0, "other x of 0111, owner triple" },
		{ 0444, OWNER, 0222, -EACCES, "owner w of 0444" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ushm__cred c = me();
		struct ushm__seg_meta m;

		switch (t[i].cls) {
		case OWNER:
			m = seg(ME, NOGROUP, NOBODY, NOGROUP, t[i].mode);
			break;
		case GROUP:
			m = seg(NOBODY, SUPP1, NOBODY, NOGROUP, t[i].mode);
			break;
		default:
			m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP, t[i].mode);
			break;
		}
		is_int(ushm__perm_check(&c, &m, t[i].flag), t[i].want, "%s",
		       t[i].what);
	}
}

/* text into path: 0 or -1. */
static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Privilege is capabilities (given here; test_lookup looks them up),
 * not uid 0. */
static void test_root(void)
{
	struct ushm__cred c = me();
	struct ushm__seg_meta m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP, 0);

	c.uid = 0;
	c.caps = INT64_MAX; /* every one */
	is_int(ushm__perm_check(&c, &m, 0777), 0, "root: rwx of mode 0");
	is_int(ushm__perm_check(&c, &m, 0444), 0, "root: r of mode 0");
	m.uid = m.cuid = 0;
	is_int(ushm__perm_check(&c, &m, 0700), 0,
	       "root owning a segment of mode 0");
	is_int(ushm__perm_owner(&c, &m), 0, "root is owner of its own");
	m.uid = m.cuid = NOBODY;
	is_int(ushm__perm_owner(&c, &m), 0, "root is owner of anyone's");

	/* uid 0 without the capabilities (a container's root). */
	c.caps = 0;
	is_int(ushm__perm_check(&c, &m, 0444), -EACCES,
	       "uid 0 without CAP_IPC_OWNER: the mode decides");
	is_int(ushm__perm_owner(&c, &m), -EPERM,
	       "uid 0 without CAP_SYS_ADMIN: not the owner");
	m.uid = 0;
	is_int(ushm__perm_owner(&c, &m), 0, "uid 0 owning it: the owner");

	/* Another uid's capabilities do not count: what /proc shows of
	 * it may be what a setuid program it ran since has (ushm refuses
	 * where Linux would not; never the other way). */
	c = me();
	c.caps = INT64_MAX;
	m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP, 0600);
	is_int(ushm__perm_check(&c, &m, 0400), -EACCES,
	       "another uid's CAP_IPC_OWNER does not count");
	is_int(ushm__perm_owner(&c, &m), -EPERM,
	       "another uid's CAP_SYS_ADMIN does not count");

	/* Group 0 is no privilege. */
	c = me();
	c.gid = 0;
	m = seg(NOBODY, 0, NOBODY, 0, 0600);
	is_int(ushm__perm_check(&c, &m, 0400), -EACCES,
	       "gid 0 is not root");
	is_int(ushm__perm_owner(&c, &m), -EPERM,
	       "gid 0 is not owner");
}

/* This test's own process, as a sender the daemon looks up: root with
 * CAP_IPC_OWNER has it; with no pidfd to tell it is alive, it does not
 * count. */
static void test_lookup(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	struct ushm__cred c = me();

	memset(d, 0, sizeof(d));
	if (geteuid() != 0 || syscall(SYS_capget, &h, d) != 0 ||
	    !(d[CAP_TO_INDEX(CAP_IPC_OWNER)].effective &
	      CAP_TO_MASK(CAP_IPC_OWNER))) {
		skip(2, "needs root with CAP_IPC_OWNER");
		return;
	}
	c.uid = 0;
	c.pid = getpid();
	c.caps = -1;
	c.pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	is_int(ushm__cred_capable(&c, CAP_IPC_OWNER), 1,
	       "root with CAP_IPC_OWNER, looked up in /proc");
	close(c.pidfd);
	c.pidfd = -1;
	is_int(ushm__cred_capable(&c, CAP_IPC_OWNER), 0,
	       "no pidfd: not known alive, no capability");
}

/*
 * Root that made a user namespace of its own (0 mapped to 0: still uid 0
 * to the daemon) has every capability there, and none in the daemon's:
 * Linux's ns_capable asks in the user namespace that owns the IPC
 * namespace.  As root only.
 */
static void test_own_userns(void)
{
	struct ushm__cred c = me();
	struct ushm__seg_meta m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP, 0600);
	int ready[2], hold[2];
	char b, path[64];
	pid_t pid;

	if (geteuid() != 0) {
		skip(3, "a user namespace mapping uid 0 needs root");
		return;
	}
	if (pipe(ready) != 0 || pipe(hold) != 0) {
		perror("pipe");
		exit(2);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		char ok = 'n';

		close(ready[0]);
		close(hold[1]);
		/* Its maps are written by its parent, root where only
		 * root may map uid 0. */
		if (unshare(CLONE_NEWUSER) == 0)
			ok = 'y';
		if (write(ready[1], &ok, 1) != 1)
			_exit(1);
		(void)!read(hold[0], &b, 1); /* until the parent is done */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (read(ready[0], &b, 1) != 1 || b != 'y' ||
	    snprintf(path, sizeof(path), "/proc/%ld/uid_map", (long)pid) < 0 ||
	    write_file(path, "0 0 1") != 0 ||
	    snprintf(path, sizeof(path), "/proc/%ld/gid_map", (long)pid) < 0 ||
	    write_file(path, "0 0 1") != 0) {
		skip(3, "no user namespace here");
	} else {
		c.pid = pid;
		c.uid = 0;
		c.caps = -1;
		c.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		is_int(ushm__cred_capable(&c, CAP_IPC_OWNER), 0,
		       "root of its own user namespace: no CAP_IPC_OWNER here");
		is_int(ushm__perm_check(&c, &m, 0400), -EACCES,
		       "so the mode decides");
		is_int(ushm__perm_owner(&c, &m), -EPERM,
		       "nor CAP_SYS_ADMIN for IPC_SET and IPC_RMID");
	}
	if (c.pidfd >= 0)
		close(c.pidfd);
	close(hold[1]);
	if (waitpid(pid, NULL, 0) != pid) {
		perror("waitpid");
		exit(2);
	}
	close(ready[0]);
}

static void test_owner(void)
{
	struct ushm__cred c = me();
	struct ushm__seg_meta m;

	m = seg(ME, NOGROUP, NOBODY, NOGROUP, 0);
	is_int(ushm__perm_owner(&c, &m), 0, "perm_owner: uid");
	m = seg(NOBODY, NOGROUP, ME, NOGROUP, 0);
	is_int(ushm__perm_owner(&c, &m), 0, "perm_owner: cuid");
	m = seg(NOBODY, MYGID, NOBODY, SUPP1, 0777);
	is_int(ushm__perm_owner(&c, &m), -EPERM,
	       "perm_owner: group member, mode 0777");
	m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP, 0777);
	is_int(ushm__perm_owner(&c, &m), -EPERM, "perm_owner: other");
	/* The uid is compared, never the gid. */
	m = seg(MYGID, NOGROUP, MYGID, NOGROUP, 0);
	is_int(ushm__perm_owner(&c, &m), -EPERM,
	       "perm_owner: uid equal to the caller's gid");
}

static void test_in_group(void)
{
	struct ushm__cred c = me();

	ok(ushm__cred_in_group(&c, MYGID), "in its effective group");
	ok(ushm__cred_in_group(&c, SUPP1), "in its first supplementary");
	ok(ushm__cred_in_group(&c, SUPP2), "in its last supplementary");
	ok(!ushm__cred_in_group(&c, NOGROUP), "not in another group");
	/* Only the first ngroups entries count. */
	c.groups[2] = NOGROUP;
	ok(!ushm__cred_in_group(&c, NOGROUP),
	   "an entry past ngroups does not count");
	c.ngroups = 0;
	ok(!ushm__cred_in_group(&c, SUPP1), "no supplementary groups");
	ok(ushm__cred_in_group(&c, MYGID),
	   "effective group without supplementary ones");
}

/* Linux's in_group_p looks at the fsgid, not the egid: the credentials'
 * gid is the fsgid the library sent. */
static void test_fsgid(void)
{
	struct ushm__cred c = me();
	struct ushm__seg_meta m = seg(NOBODY, NOGROUP, NOBODY, NOGROUP,
				      0640);

	c.ngroups = 0;
	is_int(ushm__perm_check(&c, &m, 0400), -EACCES,
	       "another fsgid: other bits");
	c.gid = NOGROUP;
	ok(ushm__cred_in_group(&c, NOGROUP), "in the group of its fsgid");
	ok(!ushm__cred_in_group(&c, MYGID), "no longer in its egid's");
	is_int(ushm__perm_check(&c, &m, 0400), 0, "fsgid's group: group bits");
}

int main(void)
{
	test_sweep();
	test_table();
	test_root();
	test_lookup();
	test_own_userns();
	test_owner();
	test_in_group();
	test_fsgid();
	return done_testing();
}
