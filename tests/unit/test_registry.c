/*
 * test_registry.c - the segment table on its own, in memory (no store):
 * Linux's id scheme, cyclic index allocation and sequence numbers, key
 * lookup, the SHMMNI limit, page accounting, and attachment counting.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>

#include "../tap.h"

/* 256 KiB of slots: static rather than on the stack. */
static struct ushm__registry reg;

static const struct ushm__limits big = {
	.shmmax = UINT64_MAX,
	.shmall = UINT64_MAX,
	.shmmni = USHM__IPCMNI,
};

static void fresh(const struct ushm__limits *lim)
{
	ushm__registry_init(&reg, lim, NULL);
}

/* Adds a segment of key and size; returns its id or -errno. */
static int add(int32_t key, uint64_t size, struct ushm__segment **out)
{
	struct ushm__seg_meta m;
	struct ushm__segment *s = NULL;
	int id;

	memset(&m, 0, sizeof(m));
	m.key = key;
	m.uid = m.cuid = 1000;
	m.gid = m.cgid = 100;
	m.mode = 0600;
	m.segsz = size;
	id = ushm__registry_add(&reg, &m, &s);
	if (out)
		*out = s;
	return id;
}

/* Adds and at once destroys a segment: moves the allocator one index. */
static int churn(void)
{
	struct ushm__segment *s;
	int id = add(IPC_PRIVATE, 1, &s);

	if (id >= 0)
		ushm__registry_destroy(&reg, s);
	return id;
}

static void test_ids(void)
{
	struct ushm__segment *s0, *s1, *s2;

	fresh(&big);
	is_int(reg.last_idx, -1, "init: no index handed out yet");
	is_int(reg.seq, 0, "init: seq 0");
	is_int(add(1, 100, &s0), 0, "first id is 0");
	is_int(add(2, 100, &s1), 1, "second id is 1");
	is_int(add(3, 100, &s2), 2, "third id is 2");
	is_int(s1->m.id, 1, "the id is stored in the segment");
	is_int(reg.in_use, 3, "in_use 3");
	ok(ushm__registry_find_id(&reg, 1) == s1, "find_id(1)");
	ok(ushm__registry_find_id(&reg, 3) == NULL, "find_id of a free index");
	ok(ushm__registry_find_id(&reg, -1) == NULL, "find_id(-1)");
	ok(ushm__registry_find_id(&reg, USHM__IPCMNI + 1) == NULL,
	   "find_id: right index, other seq");

	is_int(ushm__id_index(3 * USHM__IPCMNI + 5), 5, "id_index");
	is_int(ushm__id_seq(3 * USHM__IPCMNI + 5), 3, "id_seq");
	is_int(ushm__id_index(INT32_MAX), USHM__IPCMNI - 1,
	       "id_index(INT32_MAX)");
	is_int(ushm__id_seq(INT32_MAX), USHM__SEQ_MAX, "id_seq(INT32_MAX)");

	/* Cyclic: a freed index is not reused while later ones are free. */
	ushm__registry_destroy(&reg, s0);
	ok(ushm__registry_find_id(&reg, 0) == NULL, "destroyed id 0 is gone");
	is_int(add(4, 100, NULL), 3, "after removing id 0 the next id is 3");
	ushm__registry_free(&reg);

	fresh(&big);
	add(1, 100, &s0);
	ushm__registry_destroy(&reg, s0);
	is_int(add(1, 100, &s0), 1,
	       "removing id 0 then creating gives index 1, not 0");
	is_int(add(1, 100, NULL), 2, "and then index 2");
	ushm__registry_free(&reg);
	is_int(reg.in_use, 0, "registry_free empties the table");
}

static void test_wrap(void)
{
	struct ushm__segment *keep, *s;
	int id = 0, bad = 0;

	/* Index 0 stays in use across the wrap.  With few segments in
	 * use, Linux cycles through the first 64 indexes only (the kernel
	 * showed it: ipc_idr_alloc's max(in_use * 3/2, 64)). */
	fresh(&big);
	is_int(add(1, 100, &keep), 0, "wrap: id 0 kept");
	for (int i = 1; i < 64; i++) {
		id = churn();
		if (id != i && !bad++)
			diag("  churn %d gave id %d", i, id);
	}
	ok(bad == 0, "ids 1..63 handed out in turn");
	is_int(reg.last_idx, 63, "last_idx is 63");
	is_int(reg.seq, 0, "seq still 0 before the wrap");

	id = add(2, 100, &s);
	is_int(ushm__id_index(id), 1, "wrap: index 0 in use, so index 1");
	is_int(ushm__id_seq(id), 1, "wrap: seq bumped to 1");
	is_int(id, USHM__IPCMNI + 1, "wrap: id 32769");
	is_int(reg.seq, 1, "registry seq 1");
	ok(ushm__registry_find_id(&reg, 1) == NULL,
	   "stale id 1 (seq 0) not found at index 1");
	ok(ushm__registry_find_id(&reg, USHM__IPCMNI + 1) == s,
	   "new id 32769 found");
	ok(ushm__registry_find_id(&reg, 0) == keep,
	   "id 0 from before the wrap still found");
	ok(ushm__registry_find_id(&reg, USHM__IPCMNI) == NULL,
	   "id 32768 (index 0, seq 1) not found: index 0 is seq 0");
	ushm__registry_free(&reg);

	/* A full table but for one index: each new segment takes that
	 * index again, and each time is a wrap that bumps seq. */
	fresh(&big);
	bad = 0;
	for (int i = 0; i < USHM__IPCMNI; i++)
		if (add(1, 1, NULL) != i && !bad++)
			diag("  add %d failed", i);
	ok(bad == 0, "a full table of 32768 segments");
	s = ushm__registry_find_id(&reg, 5);
	if (s)
		ushm__registry_destroy(&reg, s);
	id = add(3, 1, &s);
	is_int(id, USHM__IPCMNI + 5, "only index 5 free: seq 1, index 5");
	ushm__registry_destroy(&reg, s);
	is_int(reg.last_idx, 5, "last_idx 5");
	id = add(3, 1, &s);
	is_int(id, 2 * USHM__IPCMNI + 5,
	       "index 5 again, the last one handed out: seq 2");
	is_int(add(3, 1, NULL), -ENOSPC, "no free index: -ENOSPC");
	is_int(reg.in_use, USHM__IPCMNI, "in_use 32768");
	is_int(reg.last_idx, 5, "the refused add moved nothing");
	is_int(reg.seq, 2, "nor seq");
	ushm__registry_free(&reg);

	/* The sequence number wraps before an id would overflow; as on
	 * Linux, its highest value is USHM__SEQ_MAX - 1. */
	fresh(&big);
	reg.seq = USHM__SEQ_MAX - 1;
	reg.last_idx = 63;
	id = add(4, 1, NULL);
	is_int(reg.seq, 0, "seq reaching USHM__SEQ_MAX wraps to 0");
	is_int(id, 0, "and the id is its index");
	ushm__registry_free(&reg);

	fresh(&big);
	reg.seq = USHM__SEQ_MAX - 1;
	reg.last_idx = 10;
	id = add(4, 1, NULL);
	is_int(id, (USHM__SEQ_MAX - 1) * USHM__IPCMNI + 11,
	       "the highest seq is USHM__SEQ_MAX - 1");
	ushm__registry_free(&reg);

	/* More segments in use widen the cycle: with 100 in use, 150. */
	fresh(&big);
	bad = 0;
	for (int i = 0; i < 100; i++)
		if (add(1, 1, NULL) != i && !bad++)
			diag("  add %d failed", i);
	reg.last_idx = 148;
	is_int(ushm__id_index(add(1, 1, NULL)), 149,
	       "100 in use: index 149 is in the cycle");
	is_int(ushm__id_index(add(1, 1, NULL)), 150,
	       "101 in use: the cycle is 151 long, so 150 comes next");
	reg.last_idx = 152;
	id = add(1, 1, NULL);
	is_int(ushm__id_index(id), 100,
	       "102 in use, at the end of its 153: wrap to the first free");
	is_int(ushm__id_seq(id), 1, "and that wrap bumps seq");
	ushm__registry_free(&reg);
}

static void test_find_key(void)
{
	struct ushm__segment *priv, *a, *b, *a2;

	fresh(&big);
	add(IPC_PRIVATE, 10, &priv);
	add(0x100, 10, &a);
	add(0x200, 10, &b);
	ok(ushm__registry_find_key(&reg, IPC_PRIVATE) == NULL,
	   "find_key(IPC_PRIVATE) finds nothing, even with a key-0 segment");
	ok(ushm__registry_find_key(&reg, 0x100) == a, "find_key(0x100)");
	ok(ushm__registry_find_key(&reg, 0x200) == b, "find_key(0x200)");
	ok(ushm__registry_find_key(&reg, 0x300) == NULL, "find_key(0x300)");

	a->m.mode |= USHM__SHM_DEST;
	ok(ushm__registry_find_key(&reg, 0x100) == NULL,
	   "find_key ignores a SHM_DEST segment with that key");
	add(0x100, 10, &a2);
	ok(ushm__registry_find_key(&reg, 0x100) == a2,
	   "and finds the live one of the same key");

	/* The scan stops after in_use segments: make sure it reaches one
	 * far from the others. */
	ushm__registry_destroy(&reg, b);
	for (int i = 0; i < 1000; i++)
		churn();
	add(0x400, 10, &b);
	ok(ushm__registry_find_key(&reg, 0x400) == b,
	   "find_key reaches index %d", ushm__id_index(b->m.id));
	ushm__registry_free(&reg);
}

static void test_max_idx_and_pages(void)
{
	struct ushm__segment *s[4];
	uint64_t ps;

	fresh(&big);
	ps = (uint64_t)reg.page_size;
	ok(reg.page_size > 0, "page_size set");
	is_int(ushm__registry_max_idx(&reg), -1, "max_idx of an empty table");
	is_int(ushm__pages(&reg, 0), 0, "pages(0)");
	is_int(ushm__pages(&reg, 1), 1, "pages(1)");
	is_int(ushm__pages(&reg, ps), 1, "pages(page)");
	is_int(ushm__pages(&reg, ps + 1), 2, "pages(page + 1)");
	is_int(ushm__pages(&reg, UINT64_MAX), UINT64_MAX / ps + 1,
	       "pages(UINT64_MAX) does not overflow");

	add(1, 1, &s[0]);
	add(2, ps, &s[1]);
	add(3, ps + 1, &s[2]);
	add(4, 10 * ps, &s[3]);
	is_int(reg.shm_tot, 1 + 1 + 2 + 10, "shm_tot counts whole pages");
	is_int(ushm__registry_max_idx(&reg), 3, "max_idx 3");
	ushm__registry_destroy(&reg, s[3]);
	is_int(ushm__registry_max_idx(&reg), 2, "max_idx 2 after removing 3");
	is_int(reg.shm_tot, 4, "shm_tot gives back the 10 pages");
	ushm__registry_destroy(&reg, s[0]);
	is_int(ushm__registry_max_idx(&reg), 2,
	       "max_idx unchanged by removing index 0");
	ushm__registry_destroy(&reg, s[1]);
	ushm__registry_destroy(&reg, s[2]);
	is_int(ushm__registry_max_idx(&reg), -1, "max_idx -1 when emptied");
	is_int(reg.shm_tot, 0, "shm_tot 0 when emptied");
	is_int(reg.in_use, 0, "in_use 0 when emptied");
	add(5, 1, &s[0]);
	is_int(ushm__registry_max_idx(&reg), 4,
	       "max_idx follows the cyclic allocator");
	ushm__registry_free(&reg);
}

static void test_shmmni(void)
{
	struct ushm__limits lim = big;
	struct ushm__segment *s;
	int last;

	lim.shmmni = 3;
	fresh(&lim);
	add(1, 1, &s);
	add(2, 1, NULL);
	add(3, 1, NULL);
	last = reg.last_idx;
	is_int(add(4, 1, NULL), -ENOSPC, "a fourth segment with shmmni 3");
	is_int(reg.in_use, 3, "in_use still 3");
	is_int(reg.last_idx, last, "the refused add took no index");
	is_int(reg.shm_tot, 3, "nor any pages");
	ushm__registry_destroy(&reg, s);
	is_int(add(4, 1, NULL), 3, "room again after a removal");
	ushm__registry_free(&reg);
}

static void test_attach(void)
{
	struct ushm__segment *s, *t;
	int id;
	uint64_t tot;

	fresh(&big);
	id = add(0x77, 3 * (uint64_t)reg.page_size, &s);
	s->m.ctime = 500;
	is_int(ushm__registry_attach(&reg, s, 2, 4001, 1000), 0, "attach 2");
	is_int(s->nattch, 2, "nattch 2");
	is_int(s->m.atime, 1000, "atime set");
	is_int(s->m.dtime, 0, "dtime untouched by attach");
	is_int(s->m.lpid, 4001, "lpid is the attacher");
	is_int(s->m.ctime, 500, "ctime untouched by attach");
	is_int(ushm__registry_detach(&reg, s, 1, 4002, 2000), 0, "detach 1");
	is_int(s->nattch, 1, "nattch 1");
	is_int(s->m.dtime, 2000, "dtime set");
	is_int(s->m.atime, 1000, "atime untouched by detach");
	is_int(s->m.lpid, 4002, "lpid is the detacher");
	is_int(ushm__registry_detach(&reg, s, 5, 4003, 3000), 0,
	       "detach more than attached");
	is_int(s->nattch, 0, "nattch floors at 0");
	ok(ushm__registry_find_id(&reg, id) == s,
	   "a segment without SHM_DEST outlives its last detach");
	is_int(ushm__registry_reap(&reg, s), 0, "reap leaves it");

	/* SHM_DEST: destroyed by the detach of the last attachment. */
	ushm__registry_attach(&reg, s, 2, 4004, 4000);
	s->m.mode |= USHM__SHM_DEST;
	tot = reg.shm_tot;
	is_int(ushm__registry_detach(&reg, s, 1, 4005, 5000), 0,
	       "SHM_DEST: detach 1 of 2");
	ok(ushm__registry_find_id(&reg, id) == s, "SHM_DEST: still there");
	is_int(ushm__registry_detach(&reg, s, 1, 4006, 6000), 1,
	       "SHM_DEST: the last detach returns 1");
	ok(ushm__registry_find_id(&reg, id) == NULL, "SHM_DEST: destroyed");
	is_int(reg.in_use, 0, "SHM_DEST: in_use 0");
	is_int(reg.shm_tot, tot - 3, "SHM_DEST: pages given back");

	/* reap on its own. */
	id = add(0x78, 1, &t);
	t->m.mode |= USHM__SHM_DEST;
	is_int(ushm__registry_reap(&reg, t), 1,
	       "reap of an unattached SHM_DEST segment");
	ok(ushm__registry_find_id(&reg, id) == NULL, "reaped");
	ushm__registry_free(&reg);
}

static void test_memlock(void)
{
	struct ushm__segment *s;

	fresh(&big);
	is_int(ushm__memlock_get(&reg, 1000), 0, "nothing locked");
	is_int(ushm__memlock_charge(&reg, 1000, 5), 0, "charge 5");
	is_int(ushm__memlock_charge(&reg, 2000, 7), 0, "charge 7 to another");
	is_int(ushm__memlock_get(&reg, 1000), 5, "5 pages locked");
	is_int(ushm__memlock_charge(&reg, 1000, 3), 0, "charge 3 more");
	is_int(ushm__memlock_get(&reg, 1000), 8, "8 pages locked");
	is_int(ushm__memlock_charge(&reg, 1000, -8), 0, "uncharge 8");
	is_int(ushm__memlock_get(&reg, 1000), 0, "none left");
	is_int(reg.nmemlock, 1, "the empty record is dropped");
	is_int(ushm__memlock_get(&reg, 2000), 7, "the other user keeps 7");
	is_int(ushm__memlock_charge(&reg, 3000, -1), 0,
	       "uncharging a user with no record");
	is_int(reg.nmemlock, 1, "creates no record");

	/* Destroying a locked segment gives its pages back to the locker. */
	add(1, 2 * (uint64_t)reg.page_size, &s);
	s->m.mode |= USHM__SHM_LOCKED;
	s->m.lock_uid = 2000;
	ushm__registry_destroy(&reg, s);
	is_int(ushm__memlock_get(&reg, 2000), 5,
	       "destroy of a locked segment uncharges lock_uid");
	ushm__registry_free(&reg);
	is_int(reg.nmemlock, 0, "registry_free drops the memlock records");
}

int main(void)
{
	test_ids();
	test_wrap();
	test_find_key();
	test_max_idx_and_pages();
	test_shmmni();
	test_attach();
	test_memlock();
	return done_testing();
}
