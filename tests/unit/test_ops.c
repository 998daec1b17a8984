/*
 * test_ops.c - ushm__op_get, ushm__op_at and ushm__op_ctl on an in-memory
 * registry, with credentials made up for each case: the results and the
 * order of checks of Linux's shmget, shmat and shmctl.
 *
 * The cast: OWNER (uid 1000, gid 100) creates most segments, MEMBER
 * (uid 1001) shares its group through a supplementary group, OTHER
 * (uid 2000, gid 200) shares nothing, ROOT is uid 0.
 */
#define _GNU_SOURCE
#include "daemon/daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "../tap.h"

static struct ushm__registry reg;
static struct ushm__cred OWNER, MEMBER, OTHER, ROOT;
static struct ushm__ctl_out out;
static const struct ushm__wire_set noset;
static uint64_t ps; /* page size */

#define MIB (1024 * 1024)
/* Above PID_MAX_LIMIT (2^22): a pid no process has. */
#define NOPID(n) (0x400000 + (n))

static const struct ushm__limits lim = {
	.shmmax = MIB,
	.shmall = 1024, /* pages */
	.shmmni = 16,
};

static struct ushm__cred cred(pid_t pid, uid_t uid, gid_t gid, gid_t supp)
{
	struct ushm__cred c;

	memset(&c, 0, sizeof(c));
	c.pid = pid;
	c.pidfd = -1;
	c.caps = uid == 0 ? INT64_MAX : 0; /* root's: every one */
	c.uid = uid;
	c.gid = gid;
	if (supp) {
		c.ngroups = 1;
		c.groups[0] = supp;
	}
	return c;
}

static void fresh(const struct ushm__limits *l)
{
	ushm__registry_init(&reg, l, NULL);
	ps = (uint64_t)reg.page_size;
}

static int get(const struct ushm__cred *c, int32_t key, uint64_t size,
	       int flg)
{
	return ushm__op_get(&reg, c, key, size, flg, 0, 0, 1000);
}

static int ctl(const struct ushm__cred *c, int id, int cmd)
{
	memset(&out, 0xa5, sizeof(out));
	return ushm__op_ctl(&reg, c, id, cmd, &noset, UINT64_MAX, 5000, &out);
}

static int ctl_set(const struct ushm__cred *c, int id, uint32_t uid,
		   uint32_t gid, uint32_t mode, int64_t now)
{
	struct ushm__wire_set s = { .uid = uid, .gid = gid, .mode = mode };

	return ushm__op_ctl(&reg, c, id, IPC_SET, &s, UINT64_MAX, now, &out);
}

static int ctl_lock(const struct ushm__cred *c, int id, int cmd,
		    uint64_t memlock)
{
	return ushm__op_ctl(&reg, c, id, cmd, &noset, memlock, 6000, &out);
}

static int at(const struct ushm__cred *c, int id, int flg)
{
	struct ushm__segment *s = NULL;
	int err = ushm__op_at(&reg, c, id, flg, &s);

	if (err == 0 && s != ushm__registry_find_id(&reg, id))
		return -1000; /* succeeded but pointed elsewhere */
	return err;
}

static struct ushm__segment *seg(int id)
{
	return ushm__registry_find_id(&reg, id);
}

static void test_get_create(void)
{
	struct ushm__segment *s;
	int a, b, c;

	fresh(&lim);
	a = get(&OWNER, IPC_PRIVATE, 100, 0600);
	is_int(a, 0, "IPC_PRIVATE creates id 0");
	b = get(&OWNER, IPC_PRIVATE, 100, IPC_CREAT | IPC_EXCL | 0600);
	is_int(b, 1, "IPC_PRIVATE with IPC_CREAT|IPC_EXCL creates another");
	s = seg(a);
	if (ok(s != NULL, "the new segment is in the table")) {
		is_int(s->m.key, IPC_PRIVATE, "key IPC_PRIVATE");
		is_int(s->m.uid, 1000, "uid of the creator");
		is_int(s->m.cuid, 1000, "cuid of the creator");
		is_int(s->m.gid, 100, "gid of the creator");
		is_int(s->m.cgid, 100, "cgid of the creator");
		is_int(s->m.mode, 0600, "mode 0600");
		is_int(s->m.segsz, 100, "segsz as asked, not rounded");
		is_int(s->m.cpid, NOPID(11), "cpid of the creator");
		is_int(s->m.lpid, 0, "lpid 0");
		is_int(s->m.ctime, 1000, "ctime now");
		is_int(s->m.atime, 0, "atime 0");
		is_int(s->m.dtime, 0, "dtime 0");
		is_int(s->nattch, 0, "nattch 0");
	}
	is_int(reg.shm_tot, 2, "two one-page segments in shm_tot");

	is_int(get(&OWNER, 0x10, 100, 0600), -ENOENT,
	       "a new key without IPC_CREAT");
	c = get(&OWNER, 0x10, 100, IPC_CREAT | 0600);
	is_int(c, 2, "a new key with IPC_CREAT");
	is_int(get(&OWNER, 0x10, 100, IPC_CREAT | 0600), c,
	       "IPC_CREAT on the existing key returns it");
	is_int(get(&OWNER, 0x10, 0, 0), c, "the key, size 0, no flags");
	is_int(get(&OTHER, 0x10, 50, 0), c,
	       "anyone may look a key up asking for no access");
	is_int(get(&OWNER, 0x10, 100, IPC_CREAT | IPC_EXCL | 0600), -EEXIST,
	       "IPC_CREAT|IPC_EXCL on an existing key");
	is_int(get(&OWNER, 0x10, 100, IPC_EXCL | 0600), c,
	       "IPC_EXCL alone is no exclusive create");

	c = get(&OWNER, 0x11, 100, IPC_CREAT | SHM_NORESERVE | 0751);
	is_int(seg(c) ? (long long)seg(c)->m.mode : -1, 0751,
	       "mode keeps only the 0777 bits of shmflg");
	c = get(&OWNER, 0x12, 100, IPC_CREAT | IPC_EXCL | 0);
	is_int(seg(c) ? (long long)seg(c)->m.mode : -1, 0, "mode 0 is kept");
	ushm__registry_free(&reg);
}

/* shmget of an existing key: EEXIST, then EINVAL, then EACCES. */
static void test_get_order(void)
{
	int id;

	fresh(&lim);
	id = get(&OWNER, 0x20, 4096, IPC_CREAT | 0600);
	is_int(get(&OTHER, 0x20, 8192, IPC_CREAT | IPC_EXCL | 0600), -EEXIST,
	       "EEXIST before EINVAL and EACCES");
	is_int(get(&OTHER, 0x20, 8192, IPC_CREAT | 0600), -EINVAL,
	       "EINVAL (too big) before EACCES");
	is_int(get(&OTHER, 0x20, 4096, IPC_CREAT | 0600), -EACCES,
	       "EACCES when the size fits");
	is_int(get(&OTHER, 0x20, 4096, 0400), -EACCES, "EACCES for read");
	is_int(get(&OWNER, 0x20, 4097, 0600), -EINVAL,
	       "the owner too: larger than the segment");
	is_int(get(&OWNER, 0x20, 4096, 0600), id, "the owner, same size");
	is_int(get(&OWNER, 0x20, 1, 0600), id, "the owner, smaller size");
	is_int(get(&OWNER, 0x20, 0, 0700), -EACCES,
	       "the owner asking for x of 0600");
	is_int(get(&ROOT, 0x20, 0, 0777), id, "root asking for rwx");
	is_int(get(&MEMBER, 0x20, 0, 0060), -EACCES,
	       "group member asking for rw of 0600");
	ushm__registry_free(&reg);
}

static void test_get_limits(void)
{
	struct ushm__limits l = lim;
	int id;

	fresh(&lim);
	is_int(get(&OWNER, IPC_PRIVATE, 0, 0600), -EINVAL,
	       "size 0: EINVAL");
	is_int(get(&OWNER, 0x30, 0, IPC_CREAT | 0600), -EINVAL,
	       "size 0 with IPC_CREAT: EINVAL");
	is_int(get(&OWNER, IPC_PRIVATE, MIB + 1, 0600), -EINVAL,
	       "size shmmax + 1: EINVAL");
	is_int(get(&OWNER, IPC_PRIVATE, UINT64_MAX, 0600), -EINVAL,
	       "size UINT64_MAX: EINVAL");
	ok(get(&OWNER, IPC_PRIVATE, MIB, 0600) >= 0, "size shmmax is fine");
	is_int(reg.in_use, 1, "nothing else was created");
	ushm__registry_free(&reg);

	/* shmall: 4 pages in all. */
	l.shmall = 4;
	fresh(&l);
	ok(get(&OWNER, IPC_PRIVATE, 3 * ps, 0600) >= 0, "3 of 4 pages");
	is_int(get(&OWNER, IPC_PRIVATE, ps + 1, 0600), -ENOSPC,
	       "2 more pages: ENOSPC");
	is_int(get(&OWNER, 0x31, 1, IPC_CREAT | 0600) >= 0, 1,
	       "1 more page fits exactly");
	is_int(get(&OWNER, IPC_PRIVATE, 1, 0600), -ENOSPC,
	       "shmall reached: even 1 byte is ENOSPC");
	is_int(get(&OWNER, IPC_PRIVATE, 0, 0600), -EINVAL,
	       "size 0 is EINVAL before ENOSPC");
	is_int(get(&OWNER, IPC_PRIVATE, MIB + 1, 0600), -EINVAL,
	       "too big is EINVAL before ENOSPC");
	is_int(reg.shm_tot, 4, "shm_tot 4");
	ushm__registry_free(&reg);

	/* shmmni: 2 segments. */
	l = lim;
	l.shmmni = 2;
	fresh(&l);
	get(&OWNER, IPC_PRIVATE, 1, 0600);
	id = get(&OWNER, IPC_PRIVATE, 1, 0600);
	is_int(get(&OWNER, 0x32, 1, IPC_CREAT | 0600), -ENOSPC,
	       "shmmni reached: ENOSPC");
	ctl(&OWNER, id, IPC_RMID);
	ok(get(&OWNER, 0x32, 1, IPC_CREAT | 0600) >= 0,
	   "room again after IPC_RMID");
	ushm__registry_free(&reg);
}

static void test_at(void)
{
	int id, x;

	fresh(&lim);
	id = get(&OWNER, IPC_PRIVATE, 100, 0640);
	x = get(&OWNER, IPC_PRIVATE, 100, 0750);

	is_int(at(&OWNER, id, 0), 0, "owner attaches rw to 0640");
	is_int(at(&OWNER, id, SHM_RDONLY), 0, "owner attaches ro to 0640");
	is_int(at(&MEMBER, id, SHM_RDONLY), 0, "member attaches ro to 0640");
	is_int(at(&MEMBER, id, 0), -EACCES, "member rw to 0640: EACCES");
	is_int(at(&OTHER, id, SHM_RDONLY), -EACCES,
	       "other ro to 0640: EACCES");
	is_int(at(&ROOT, id, SHM_EXEC), 0, "root rwx to 0640");
	is_int(at(&OWNER, id, SHM_EXEC), -EACCES,
	       "owner SHM_EXEC to 0640: needs x");
	is_int(at(&OWNER, id, SHM_RND | SHM_REMAP), 0,
	       "SHM_RND and SHM_REMAP ask for nothing more");

	is_int(at(&OWNER, x, SHM_EXEC), 0, "owner rw SHM_EXEC to 0750");
	is_int(at(&MEMBER, x, SHM_EXEC | SHM_RDONLY), 0,
	       "member ro SHM_EXEC to 0750");
	is_int(at(&MEMBER, x, SHM_EXEC), -EACCES,
	       "member rw SHM_EXEC to 0750: EACCES");
	is_int(at(&OTHER, x, SHM_EXEC | SHM_RDONLY), -EACCES,
	       "other to 0750: EACCES");

	/* Write-only is not enough for an attachment: it maps readable. */
	ctl_set(&OWNER, id, 1000, 100, 0200, 1);
	is_int(at(&OWNER, id, 0), -EACCES, "owner rw to 0200: needs r too");
	is_int(at(&OWNER, id, SHM_RDONLY), -EACCES, "owner ro to 0200");
	ctl_set(&OWNER, id, 1000, 100, 0400, 1);
	is_int(at(&OWNER, id, SHM_RDONLY), 0, "owner ro to 0400");
	is_int(at(&OWNER, id, 0), -EACCES, "owner rw to 0400");

	is_int(at(&OWNER, 12345, 0), -EINVAL, "no such id: EINVAL");
	is_int(at(&OWNER, -1, 0), -EINVAL, "id -1: EINVAL");
	is_int(at(&OTHER, 12345, 0), -EINVAL,
	       "no such id is EINVAL for anyone");
	is_int(at(&OWNER, id + USHM__IPCMNI, 0), -EINVAL,
	       "right index, wrong seq: EINVAL");
	ushm__registry_free(&reg);
}

static void test_stat(void)
{
	struct ushm__segment *s;
	int id;

	fresh(&lim);
	id = get(&OWNER, 0x40, 3 * ps, IPC_CREAT | 0640);
	s = seg(id);
	ushm__registry_attach(&reg, s, 2, 77, 1500);
	ushm__registry_detach(&reg, s, 1, 78, 1600);

	is_int(ctl(&MEMBER, id, IPC_STAT), 0, "IPC_STAT by a reader: 0");
	is_int(out.ds.key, 0x40, "ds.key");
	is_int(out.ds.uid, 1000, "ds.uid");
	is_int(out.ds.gid, 100, "ds.gid");
	is_int(out.ds.cuid, 1000, "ds.cuid");
	is_int(out.ds.cgid, 100, "ds.cgid");
	is_int(out.ds.mode, 0640, "ds.mode");
	is_int(out.ds.seq, 0, "ds.seq");
	is_int(out.ds.pad, 0, "ds.pad zeroed");
	is_int(out.ds.segsz, 3 * ps, "ds.segsz");
	is_int(out.ds.atime, 1500, "ds.atime");
	is_int(out.ds.dtime, 1600, "ds.dtime");
	is_int(out.ds.ctime, 1000, "ds.ctime");
	is_int(out.ds.cpid, NOPID(11), "ds.cpid");
	is_int(out.ds.lpid, 78, "ds.lpid");
	is_int(out.ds.nattch, 1, "ds.nattch");
	is_int(ctl(&OTHER, id, IPC_STAT), -EACCES,
	       "IPC_STAT by a non-reader: EACCES");
	is_int(ctl(&ROOT, id, IPC_STAT), 0, "IPC_STAT by root");
	is_int(ctl(&OWNER, id + 1, IPC_STAT), -EINVAL,
	       "IPC_STAT of no segment: EINVAL");
	is_int(ctl(&OWNER, id + USHM__IPCMNI, IPC_STAT), -EINVAL,
	       "IPC_STAT of a stale id: EINVAL");
	ushm__registry_free(&reg);
}

static void test_set(void)
{
	struct ushm__segment *s;
	int id;

	fresh(&lim);
	id = get(&OWNER, 0x50, 100, IPC_CREAT | 0640);
	s = seg(id);
	ushm__registry_attach(&reg, s, 1, 77, 1500);

	is_int(ctl_set(&OTHER, id, 2000, 200, 0666, 2000), -EPERM,
	       "IPC_SET by another user: EPERM");
	is_int(ctl_set(&MEMBER, id, 1001, 100, 0666, 2000), -EPERM,
	       "IPC_SET by a group member: EPERM");
	is_int(ctl_set(&OTHER, id, (uint32_t)-1, 200, 0666, 2000), -EPERM,
	       "IPC_SET uid -1 by another user: EPERM first");
	is_int(ctl_set(&OWNER, id, (uint32_t)-1, 200, 0666, 2000), -EINVAL,
	       "IPC_SET uid -1 by the owner: EINVAL");
	is_int(ctl_set(&OWNER, id, 2000, (uint32_t)-1, 0666, 2000), -EINVAL,
	       "IPC_SET gid -1 by the owner: EINVAL");
	is_int(s->m.uid, 1000, "a refused IPC_SET changes no uid");
	is_int(s->m.mode, 0640, "nor mode");
	is_int(s->m.ctime, 1000, "nor ctime");

	is_int(ctl_set(&OWNER, id, 2000, 200, 07606, 2000), 0,
	       "IPC_SET by the owner");
	is_int(s->m.uid, 2000, "uid changed");
	is_int(s->m.gid, 200, "gid changed");
	is_int(s->m.mode, 0606, "only the 0777 bits of the new mode");
	is_int(s->m.ctime, 2000, "ctime changed");
	is_int(s->m.cuid, 1000, "cuid unchanged");
	is_int(s->m.cgid, 100, "cgid unchanged");
	is_int(s->m.key, 0x50, "key unchanged");
	is_int(s->m.segsz, 100, "segsz unchanged");
	is_int(s->m.cpid, NOPID(11), "cpid unchanged");
	is_int(s->m.lpid, 77, "lpid unchanged");
	is_int(s->m.atime, 1500, "atime unchanged");
	is_int(s->nattch, 1, "nattch unchanged");

	/* The creator keeps its rights after giving the segment away, and
	 * the new owner has them too. */
	is_int(ctl_set(&OWNER, id, 2000, 200, 0600, 2100), 0,
	       "IPC_SET by the creator, no longer owner");
	is_int(ctl_set(&OTHER, id, 2000, 200, 0660, 2200), 0,
	       "IPC_SET by the new owner");
	is_int(ctl_set(&ROOT, id, 3000, 300, 0644, 2300), 0, "IPC_SET by root");
	is_int(s->m.uid, 3000, "root's uid");
	is_int(ctl_set(&OTHER, id, 2000, 200, 0666, 2400), -EPERM,
	       "the previous owner has lost its rights");

	/* SHM_DEST and SHM_LOCKED are not IPC_SET's to change. */
	is_int(ctl_lock(&ROOT, id, SHM_LOCK, 0), 0, "root locks");
	ctl(&OWNER, id, IPC_RMID);
	is_int(s->m.mode, 02000 | 01000 | 0644,
	       "locked and removed");
	is_int(ctl_set(&OWNER, id, 1000, 100, 0, 2500), 0, "IPC_SET mode 0");
	is_int(s->m.mode, 02000 | 01000,
	       "SHM_DEST and SHM_LOCKED survive IPC_SET");
	ushm__registry_free(&reg);
}

static void test_rmid(void)
{
	struct ushm__segment *s;
	int id, id2;
	uint64_t tot;

	fresh(&lim);
	id = get(&OWNER, 0x60, 2 * ps, IPC_CREAT | 0666);
	tot = reg.shm_tot;
	is_int(ctl(&OTHER, id, IPC_RMID), -EPERM, "IPC_RMID by another user");
	is_int(ctl(&MEMBER, id, IPC_RMID), -EPERM,
	       "IPC_RMID by a group member with rw");
	is_int(ctl(&OWNER, id, IPC_RMID), 0, "IPC_RMID by the owner");
	ok(seg(id) == NULL, "unattached: destroyed at once");
	is_int(reg.shm_tot, tot - 2, "its pages given back");
	is_int(ctl(&OWNER, id, IPC_RMID), -EINVAL, "IPC_RMID again: EINVAL");

	id = get(&OWNER, 0x61, 100, IPC_CREAT | 0600);
	ctl_set(&OWNER, id, 2000, 200, 0600, 1);
	is_int(ctl(&OWNER, id, IPC_RMID), 0, "IPC_RMID by the creator");
	id = get(&OWNER, 0x62, 100, IPC_CREAT | 0600);
	is_int(ctl(&ROOT, id, IPC_RMID), 0, "IPC_RMID by root");

	/* Attached: marked, keyless, gone at the last detach. */
	id = get(&OWNER, 0x63, 100, IPC_CREAT | 0600);
	s = seg(id);
	ushm__registry_attach(&reg, s, 1, 77, 1500);
	is_int(ctl(&OWNER, id, IPC_RMID), 0, "IPC_RMID while attached");
	ok(seg(id) == s, "still there while attached");
	is_int(s->m.mode, 01000 | 0600, "mode has SHM_DEST (01000)");
	is_int(s->m.key, IPC_PRIVATE, "key is now IPC_PRIVATE");
	is_int(ctl(&OWNER, id, IPC_STAT), 0, "IPC_STAT still works");
	is_int(out.ds.key, 0, "and shows key 0");
	is_int(get(&OWNER, 0x63, 100, 0600), -ENOENT,
	       "the key no longer finds it");
	id2 = get(&OWNER, 0x63, 100, IPC_CREAT | IPC_EXCL | 0600);
	ok(id2 >= 0 && id2 != id, "the key is free for a new segment");
	is_int(at(&OWNER, id, 0), 0,
	       "a removed, attached segment can still be attached (Linux)");
	is_int(ctl(&OWNER, id, IPC_RMID), 0, "IPC_RMID twice while attached");
	is_int(ushm__registry_detach(&reg, s, 1, 78, 1600), 1,
	       "the last detach destroys it");
	ok(seg(id) == NULL, "gone");
	ok(seg(id2) != NULL, "the new segment of that key stays");
	ushm__registry_free(&reg);
}

static void test_info(void)
{
	struct ushm__segment *s;
	int a, b;

	fresh(&lim);
	is_int(ctl(&OTHER, 0, IPC_INFO), 0, "IPC_INFO of an empty table: 0");
	is_int(out.info.shmmax, MIB, "shmmax");
	is_int(out.info.shmmin, 1, "shmmin");
	is_int(out.info.shmmni, 16, "shmmni");
	is_int(out.info.shmseg, 16, "shmseg is shmmni (as Linux)");
	is_int(out.info.shmall, 1024, "shmall");
	is_int(out.info.used_ids, 0, "IPC_INFO leaves used_ids 0");
	is_int(ctl(&OTHER, 0, SHM_INFO), 0, "SHM_INFO of an empty table: 0");
	is_int(out.info.used_ids, 0, "used_ids 0");
	is_int(out.info.shm_tot, 0, "shm_tot 0");
	is_int(out.info.shm_rss, 0, "shm_rss 0");
	is_int(out.info.shm_swp, 0, "shm_swp 0");

	a = get(&OWNER, IPC_PRIVATE, 1, 0600);
	get(&OWNER, IPC_PRIVATE, ps + 1, 0600);
	b = get(&OWNER, IPC_PRIVATE, 3 * ps, 0);
	is_int(ctl(&OTHER, 0, IPC_INFO), 2, "IPC_INFO returns the top index");
	is_int(ctl(&OTHER, 999, IPC_INFO), 2, "whatever the id");
	is_int(ctl(&OTHER, 0, SHM_INFO), 2, "SHM_INFO returns the top index");
	is_int(out.info.used_ids, 3, "used_ids 3");
	is_int(out.info.shm_tot, 1 + 2 + 3, "shm_tot in pages");
	ctl(&OWNER, a, IPC_RMID);
	is_int(ctl(&OTHER, 0, SHM_INFO), 2, "a hole below changes nothing");
	is_int(out.info.used_ids, 2, "used_ids 2");
	s = seg(b);
	ushm__registry_attach(&reg, s, 1, 1, 1);
	ctl(&OWNER, b, IPC_RMID);
	is_int(ctl(&OTHER, 0, SHM_INFO), 2, "a SHM_DEST segment counts");
	ushm__registry_detach(&reg, s, 1, 1, 1);
	is_int(ctl(&OTHER, 0, SHM_INFO), 1, "top index 1 once it is gone");
	is_int(ctl(&OTHER, -1, IPC_INFO), -EINVAL, "IPC_INFO with id -1");
	is_int(ctl(&OTHER, -1, SHM_INFO), -EINVAL, "SHM_INFO with id -1");
	ushm__registry_free(&reg);
}

static void test_shm_stat(void)
{
	int id, priv, idx;

	fresh(&lim);
	get(&OWNER, IPC_PRIVATE, 1, 0600);
	reg.seq = 3; /* as if the allocator had wrapped three times */
	id = get(&OWNER, 0x70, 100, IPC_CREAT | 0640);
	idx = ushm__id_index(id);
	is_int(ushm__id_seq(id), 3, "a segment of seq 3");
	is_int(ctl(&MEMBER, idx, SHM_STAT), id,
	       "SHM_STAT by index returns the whole id");
	is_int(out.ds.key, 0x70, "and its ds");
	is_int(out.ds.seq, 3, "with its seq");
	is_int(ctl(&MEMBER, idx + USHM__IPCMNI, SHM_STAT), id,
	       "the index is masked by 32768");
	is_int(ctl(&MEMBER, idx + 7 * USHM__IPCMNI, SHM_STAT_ANY), id,
	       "SHM_STAT_ANY masks it too");
	is_int(ctl(&OTHER, idx, SHM_STAT), -EACCES,
	       "SHM_STAT needs read permission");
	is_int(ctl(&OTHER, idx, SHM_STAT_ANY), id,
	       "SHM_STAT_ANY does not");
	is_int(out.ds.mode, 0640, "and fills the ds");
	is_int(ctl(&OWNER, idx + 1, SHM_STAT), -EINVAL,
	       "SHM_STAT of an unused index: EINVAL");
	is_int(ctl(&OWNER, idx + 1, SHM_STAT_ANY), -EINVAL,
	       "SHM_STAT_ANY of an unused index: EINVAL");
	is_int(ctl(&OWNER, -1, SHM_STAT), -EINVAL, "SHM_STAT of -1");
	priv = get(&OWNER, IPC_PRIVATE, 1, 0);
	is_int(ctl(&OWNER, ushm__id_index(priv), SHM_STAT), -EACCES,
	       "SHM_STAT of mode 0 by its owner: EACCES");
	is_int(ctl(&ROOT, ushm__id_index(priv), SHM_STAT), priv,
	       "SHM_STAT by root");
	ushm__registry_free(&reg);
}

static void test_lock(void)
{
	struct ushm__segment *s;
	int id;

	fresh(&lim);
	id = get(&OWNER, IPC_PRIVATE, 2 * ps, 0666);
	s = seg(id);
	is_int(ctl_lock(&OTHER, id, SHM_LOCK, UINT64_MAX), -EPERM,
	       "SHM_LOCK by another user: EPERM");
	is_int(ctl_lock(&MEMBER, id, SHM_LOCK, UINT64_MAX), -EPERM,
	       "SHM_LOCK by a group member: EPERM");
	is_int(ctl_lock(&OWNER, id, SHM_LOCK, 0), -EPERM,
	       "SHM_LOCK by the owner with RLIMIT_MEMLOCK 0: EPERM");
	is_int(s->m.mode, 0666, "not locked");
	is_int(ctl_lock(&OWNER, id, SHM_LOCK, ps), -ENOMEM,
	       "SHM_LOCK of 2 pages with RLIMIT_MEMLOCK of 1: ENOMEM");
	is_int(ctl_lock(&OWNER, id, SHM_LOCK, 2 * ps), 0,
	       "SHM_LOCK within RLIMIT_MEMLOCK");
	is_int(s->m.mode, 02000 | 0666, "mode has SHM_LOCKED (02000)");
	is_int(ushm__memlock_get(&reg, 1000), 2, "2 pages charged");
	is_int(ctl_lock(&OWNER, id, SHM_LOCK, 2 * ps), 0,
	       "SHM_LOCK again changes nothing");
	is_int(ushm__memlock_get(&reg, 1000), 2, "still 2 pages");
	is_int(ctl_lock(&OTHER, id, SHM_UNLOCK, UINT64_MAX), -EPERM,
	       "SHM_UNLOCK by another user: EPERM");
	is_int(ctl_lock(&OWNER, id, SHM_UNLOCK, 0), 0,
	       "SHM_UNLOCK needs no RLIMIT_MEMLOCK");
	is_int(s->m.mode, 0666, "SHM_LOCKED cleared");
	is_int(ushm__memlock_get(&reg, 1000), 0, "pages given back");
	is_int(ctl_lock(&OWNER, id, SHM_UNLOCK, 0), 0,
	       "SHM_UNLOCK of an unlocked segment");

	is_int(ctl_lock(&ROOT, id, SHM_LOCK, 0), 0,
	       "root locks with RLIMIT_MEMLOCK 0");
	is_int(s->m.mode, 02000 | 0666, "locked by root");
	is_int(ctl_lock(&OWNER, id, SHM_UNLOCK, 0), 0, "the owner unlocks");
	is_int(ushm__memlock_get(&reg, 0), 0, "root's charge given back");

	ctl_set(&OWNER, id, 2000, 200, 0666, 1);
	is_int(ctl_lock(&OWNER, id, SHM_LOCK, UINT64_MAX), 0,
	       "the creator, no longer owner, locks");
	is_int(ctl_lock(&OTHER, id, SHM_UNLOCK, 0), 0,
	       "the new owner unlocks");
	is_int(ushm__memlock_get(&reg, 1000), 0,
	       "the locker's charge is given back, whoever unlocks");
	ushm__registry_free(&reg);
}

static void test_bad_ctl(void)
{
	int id;

	fresh(&lim);
	id = get(&OWNER, IPC_PRIVATE, 1, 0600);
	is_int(ctl(&OWNER, id, -1), -EINVAL, "cmd -1: EINVAL");
	is_int(ctl(&ROOT, id, -1), -EINVAL, "cmd -1 by root: EINVAL");
	is_int(ctl(&OWNER, -1, IPC_STAT), -EINVAL, "id -1: EINVAL");
	is_int(ctl(&OWNER, INT32_MIN, IPC_RMID), -EINVAL,
	       "id INT32_MIN: EINVAL");
	is_int(ctl(&OWNER, id, 4), -EINVAL, "cmd 4: EINVAL");
	is_int(ctl(&OWNER, id, 10), -EINVAL, "cmd 10: EINVAL");
	is_int(ctl(&OWNER, id, 16), -EINVAL, "cmd 16: EINVAL");
	is_int(ctl(&OWNER, id, 12345), -EINVAL, "cmd 12345: EINVAL");
	is_int(ctl(&OWNER, id + 1, SHM_LOCK), -EINVAL,
	       "SHM_LOCK of no segment: EINVAL");
	is_int(ctl(&OTHER, id + 1, IPC_SET), -EINVAL,
	       "IPC_SET of no segment: EINVAL, not EPERM");
	ok(seg(id) != NULL, "nothing happened to the segment");
	ushm__registry_free(&reg);
}

/* A shmget sent again after the daemon died finds what its first
 * attempt created, by the caller's pid and tag. */
static void test_get_retry(void)
{
	int a, b;

	fresh(&lim);
	a = ushm__op_get(&reg, &OWNER, IPC_PRIVATE, ps, 0600, 7, 0, 1000);
	ok(a >= 0, "retry: the first attempt creates");
	is_int(ushm__op_get(&reg, &OWNER, IPC_PRIVATE, ps, 0600, 7, 1, 1000),
	       a, "retry: the same tag gets the same segment");
	b = ushm__op_get(&reg, &OWNER, IPC_PRIVATE, ps, 0600, 8, 1, 1000);
	ok(b >= 0 && b != a, "retry: another tag creates anew");
	ok(ushm__op_get(&reg, &MEMBER, IPC_PRIVATE, ps, 0600, 7, 1, 1000) !=
		   a, "retry: another process's tag is not ours");
	a = ushm__op_get(&reg, &OWNER, 0x1234, ps, IPC_CREAT | IPC_EXCL | 0600,
			 9, 0, 1000);
	is_int(ushm__op_get(&reg, &OWNER, 0x1234, ps,
			    IPC_CREAT | IPC_EXCL | 0600, 9, 1, 1000),
	       a, "retry: IPC_EXCL finds its own creation, not EEXIST");
	is_int(ushm__op_get(&reg, &OWNER, 0x1234, ps,
			    IPC_CREAT | IPC_EXCL | 0600, 10, 0, 1000),
	       -EEXIST, "without the retry flag: EEXIST");
	ushm__registry_free(&reg);
}

int main(void)
{
	/* Pids no process can have; the capabilities are given (cred()),
	 * not looked up. */
	OWNER = cred(NOPID(11), 1000, 100, 0);
	MEMBER = cred(NOPID(12), 1001, 500, 100);
	OTHER = cred(NOPID(13), 2000, 200, 0);
	ROOT = cred(NOPID(1), 0, 0, 0);

	test_get_create();
	test_get_order();
	test_get_limits();
	test_at();
	test_stat();
	test_set();
	test_rmid();
	test_info();
	test_shm_stat();
	test_lock();
	test_bad_ctl();
	test_get_retry();
	return done_testing();
}
