/*
 * hugetlb.c - shmget's SHM_HUGETLB rules, in the order Linux's newseg()
 * and hugetlb_file_setup() apply them:
 *
 *  1. the huge page size: bits 26..31 of shmflg name it as a log2 (0: the
 *     default size); a size this machine has no pool for is EINVAL;
 *  2. permission: a caller without CAP_IPC_LOCK whose groups (fsgid or
 *     supplementary) do not include vm.hugetlb_shm_group gets EPERM.
 *     Linux since 5.17 only warns about the old RLIMIT_MEMLOCK fallback
 *     ("Using mlock ulimits for SHM_HUGETLB is obsolete") and refuses
 *     all the same, so the caller's rlimit plays no part, with
 *     SHM_NORESERVE or without;
 *  3. the pool: without SHM_NORESERVE, the segment rounded up to huge
 *     pages must fit in the pool's free, unreserved pages (ENOMEM).
 *
 * ushm keeps such a segment in ordinary pages but answers exactly as
 * Linux would, so programs take the same paths.  Settings are read at
 * each call: an administrator's change applies at once, as on Linux.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "../common/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>

#define HUGE_SHIFT 26  /* SHM_HUGE_SHIFT */
#define HUGE_MASK 0x3f /* SHM_HUGE_MASK */
#define POOLS "/sys/kernel/mm/hugepages"

/* A number of pool kb's file (free_hugepages, ...), or 0. */
static unsigned long long pool_value(unsigned long long kb, const char *name)
{
	char path[128];
	unsigned long long v = 0;

	snprintf(path, sizeof(path), POOLS "/hugepages-%llukB/%s", kb, name);
	return ushm__read_number(path, &v) == 0 ? v : 0;
}

/* Is there a pool of kb-sized huge pages? */
static int pool_exists(unsigned long long kb)
{
	char path[128];
	DIR *d;

	snprintf(path, sizeof(path), POOLS "/hugepages-%llukB", kb);
	d = opendir(path);
	if (!d)
		return 0;
	closedir(d);
	return 1;
}

/* The huge page size shmflg asks for, in kB; 0 when there is no such
 * pool (Linux's hstate_sizelog() finds none). */
static unsigned long long page_kb(int shmflg)
{
	unsigned log = ((unsigned)shmflg >> HUGE_SHIFT) & HUGE_MASK;
	unsigned long long kb;

	if (log == 0) {
		kb = ushm__meminfo_kb("Hugepagesize");
		return kb && pool_exists(kb) ? kb : 0;
	}
	if (log < 10 || log >= 64)
		return 0;
	kb = 1ull << (log - 10);
	return pool_exists(kb) ? kb : 0;
}

/* May c make huge page segments (Linux's can_do_hugetlb_shm)? */
static int may_use_hugetlb(const struct ushm__cred *c, uint32_t get_flags)
{
	unsigned long long group;

	/* The caller's word, which costs a liar nothing but an ordinary
	 * segment; but a capability counts only in the daemon's user
	 * namespace, where a process root in its own has none. */
	if ((get_flags & USHM__GET_CAP_IPC_LOCK) &&
	    ushm__proc_same_userns(c->pid) != 0)
		return 1;
	return ushm__read_number("/proc/sys/vm/hugetlb_shm_group", &group) ==
		       0 &&
	       group <= (gid_t)-1 && ushm__cred_in_group(c, (gid_t)group);
}

int ushm__hugetlb_check(const struct ushm__cred *c, uint64_t size,
			int shmflg, uint32_t get_flags)
{
	unsigned long long kb = page_kb(shmflg), bytes, pages, free, resv;

	if (kb == 0)
		return -EINVAL;
	if (!may_use_hugetlb(c, get_flags))
		return -EPERM;
	if (shmflg & SHM_NORESERVE)
		return 0;
	bytes = kb * 1024;
	pages = size / bytes + (size % bytes != 0);
	free = pool_value(kb, "free_hugepages");
	resv = pool_value(kb, "resv_hugepages");
	return resv <= free && pages <= free - resv ? 0 : -ENOMEM;
}
