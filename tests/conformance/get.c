/*
 * get.c - shmget(2): creation, lookup, flags, sizes and error order.
 */
#include "conf.h"

#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* From <linux/shm.h>, which glibc's <sys/shm.h> does not expose. */
#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
#ifndef SHM_HUGE_2MB
#define SHM_HUGE_2MB (21 << SHM_HUGE_SHIFT)
#endif
#ifndef SHM_HUGE_1GB
#define SHM_HUGE_1GB (30 << SHM_HUGE_SHIFT)
#endif

static size_t page;

/* shmget, printing the outcome under a label; returns the id. */
static int
get(const char *label, key_t key, size_t size, int flg)
{
	int id = xget(key, size, flg);

	say("shmget(%s): %s", label, R(id));
	return id;
}

static void
private_segments(void)
{
	int a, b;

	a = get("IPC_PRIVATE, 1, IPC_CREAT|0600", IPC_PRIVATE, 1,
		IPC_CREAT | 0600);
	/* IPC_PRIVATE always creates, IPC_CREAT or not. */
	b = get("IPC_PRIVATE, 1, 0600", IPC_PRIVATE, 1, 0600);
	say("two private segments differ: %s", yesno(a != b));
	if (b >= 0) {
		struct shmid_ds ds = stat_of(b);

		say("private key: %s", yesno(ds.shm_perm.__key == IPC_PRIVATE));
		say("private mode: %#o", ds.shm_perm.mode);
	}
	/* IPC_EXCL has nothing to collide with for a private key. */
	get("IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600", IPC_PRIVATE, 1,
	    IPC_CREAT | IPC_EXCL | 0600);
	get("IPC_PRIVATE, 1, IPC_EXCL|0600", IPC_PRIVATE, 1,
	    IPC_EXCL | 0600);
	get("IPC_PRIVATE, 0, IPC_CREAT|0600", IPC_PRIVATE, 0,
	    IPC_CREAT | 0600);
}

static void
keyed_segments(void)
{
	key_t k = conf_key(1);
	int id, again;

	get("new key, 1, 0", k, 1, 0);
	get("new key, 0, 0", k, 0, 0);
	get("new key, 0, IPC_CREAT", k, 0, IPC_CREAT | 0600);
	id = get("new key, 4097, IPC_CREAT|0600", k, 4097, IPC_CREAT | 0600);
	if (id < 0)
		return;
	say("segsz: %zu", stat_of(id).shm_segsz);
	say("key: %s", yesno(stat_of(id).shm_perm.__key == k));
	again = get("same key, 4097, IPC_CREAT|0600", k, 4097,
		    IPC_CREAT | 0600);
	say("same id: %s", yesno(again == id));
	again = get("same key, 0, 0", k, 0, 0);
	say("same id: %s", yesno(again == id));
	again = get("same key, 1, 0", k, 1, 0);
	say("same id: %s", yesno(again == id));
	again = get("same key, 4096, 0", k, 4096, 0);
	say("same id: %s", yesno(again == id));
	/* Bigger than the segment, though within the same page. */
	get("same key, 4098, 0", k, 4098, 0);
	get("same key, 8192, IPC_CREAT", k, 8192, IPC_CREAT);
	/* IPC_EXCL alone is ignored. */
	again = get("same key, 1, IPC_EXCL", k, 1, IPC_EXCL);
	say("same id: %s", yesno(again == id));
	get("same key, 1, IPC_CREAT|IPC_EXCL", k, 1, IPC_CREAT | IPC_EXCL);
	/* The mode bits of a lookup are requests, not a new mode. */
	again = get("same key, 1, 0777", k, 1, 0777);
	say("same id: %s", yesno(again == id));
	say("mode after lookup with 0777: %#o", stat_of(id).shm_perm.mode);
	/* A size of 0 never matters for an existing key. */
	get("same key, 0, IPC_CREAT", k, 0, IPC_CREAT);
	/* Error order: EEXIST, then the size's EINVAL. */
	get("same key, 8192, IPC_CREAT|IPC_EXCL", k, 8192,
	    IPC_CREAT | IPC_EXCL);
	get("same key, (size_t)-1, IPC_CREAT|IPC_EXCL", k, (size_t)-1,
	    IPC_CREAT | IPC_EXCL);
	get("same key, (size_t)-1, 0", k, (size_t)-1, 0);
	rmseg(id);
	get("removed key, 1, 0", k, 1, 0);
	again = get("removed key, 1, IPC_CREAT|0600", k, 1, IPC_CREAT | 0600);
	say("new id differs: %s", yesno(again >= 0 && again != id));
	if (again >= 0)
		rmseg(again);
}

static void
modes(void)
{
	/*
	 * 01000 is IPC_CREAT, 02000 IPC_EXCL and 04000 SHM_HUGETLB: 07777
	 * asks for a huge page segment.
	 */
	static const int m[] = { 0, 0400, 0600, 0644, 0666, 0777, 01777,
				 03777, 07777, 0123 };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		int id = xget(IPC_PRIVATE, 1, IPC_CREAT | m[i]);

		if (id < 0) {
			say("create mode %#o: %s", m[i], R(id));
			continue;
		}
		say("create mode %#o: stat mode %#o", m[i],
		    stat_of(id).shm_perm.mode);
		rmseg(id);
	}
	/* Flag bits that are not permissions must not leak into mode. */
	int id = xget(IPC_PRIVATE, 1, IPC_CREAT | SHM_NORESERVE | 0640);

	say("create SHM_NORESERVE|0640: %s", R(id));
	if (id >= 0) {
		say("stat mode %#o", stat_of(id).shm_perm.mode);
		rmseg(id);
	}
}

static void
sizes(void)
{
	const size_t g = (size_t)1 << 30;
	const struct {
		const char *label;
		size_t size;
		int flg;
	} s[] = {
		{ "1", 1, 0 },
		{ "page-1", 4095, 0 },
		{ "page", 4096, 0 },
		{ "page+1", 4097, 0 },
		{ "1M+3", (1 << 20) + 3, 0 },
		{ "1G", g, 0 },
		{ "1G, SHM_NORESERVE", g, SHM_NORESERVE },
		{ "1T", g << 10, 0 },
		{ "1T, SHM_NORESERVE", g << 10, SHM_NORESERVE },
		{ "1P, SHM_NORESERVE", g << 20, SHM_NORESERVE },
		{ "2^62, SHM_NORESERVE", (size_t)1 << 62, SHM_NORESERVE },
		{ "2^63, SHM_NORESERVE", (size_t)1 << 63, SHM_NORESERVE },
		{ "SIZE_MAX-2^24, SHM_NORESERVE", SIZE_MAX - (1 << 24),
		  SHM_NORESERVE },
		{ "SIZE_MAX-2^24+1, SHM_NORESERVE", SIZE_MAX - (1 << 24) + 1,
		  SHM_NORESERVE },
		{ "SIZE_MAX-4095", SIZE_MAX - 4095, SHM_NORESERVE },
		{ "SIZE_MAX", SIZE_MAX, 0 },
		{ "SIZE_MAX, SHM_NORESERVE", SIZE_MAX, SHM_NORESERVE },
		{ "0", 0, 0 },
		{ "0, SHM_NORESERVE", 0, SHM_NORESERVE },
		{ "2M, SHM_HUGETLB", 2 << 20, SHM_HUGETLB },
		{ "1, SHM_HUGETLB", 1, SHM_HUGETLB },
		{ "0, SHM_HUGETLB", 0, SHM_HUGETLB },
		{ "2M, SHM_HUGETLB|SHM_NORESERVE", 2 << 20,
		  SHM_HUGETLB | SHM_NORESERVE },
		{ "2M, SHM_HUGETLB|SHM_HUGE_2MB", 2 << 20,
		  SHM_HUGETLB | SHM_HUGE_2MB },
		{ "2M, SHM_HUGETLB|SHM_HUGE_1GB", 2 << 20,
		  SHM_HUGETLB | SHM_HUGE_1GB },
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		int id = xget(IPC_PRIVATE, s[i].size,
			      IPC_CREAT | 0600 | s[i].flg);

		if (id < 0) {
			say("size %s: %s", s[i].label, R(id));
			continue;
		}
		struct shmid_ds ds = stat_of(id);

		say("size %s: ok, segsz %s", s[i].label,
		    ds.shm_segsz == s[i].size ? "as asked" : "differs");
		rmseg(id);
	}
	/* A nonexistent key without IPC_CREAT: ENOENT wins over size. */
	say("shmget(new key, 0, 0): %s", R(xget(conf_key(2), 0, 0)));
	say("shmget(new key, SIZE_MAX, 0): %s",
	    R(xget(conf_key(2), SIZE_MAX, 0)));
	say("shmget(new key, 0, IPC_CREAT): %s",
	    R(xget(conf_key(2), 0, IPC_CREAT | 0600)));
	say("shmget(new key, SIZE_MAX, IPC_CREAT|IPC_EXCL): %s",
	    R(xget(conf_key(2), SIZE_MAX, IPC_CREAT | IPC_EXCL | 0600)));
}

/* Whether a segment's size is usable: attach and touch its last byte. */
static void
usable(void)
{
	int id = mkseg(IPC_PRIVATE, page + 1, 0600);
	char *p = shmat(id, NULL, 0);

	if (p == (void *)-1)
		die("shmat");
	p[page] = 1;
	/* The rest of the last page is mapped too. */
	p[2 * page - 1] = 1;
	say("page+1 segment: last page usable");
	if (shmdt(p) != 0)
		die("shmdt");
	rmseg(id);
}

static void
negative_keys(void)
{
	key_t k = conf_negkey(3);
	int id, again;

	id = get("negative key, 1, IPC_CREAT|0600", k, 1, IPC_CREAT | 0600);
	if (id < 0)
		return;
	again = get("negative key, 1, 0", k, 1, 0);
	say("same id: %s", yesno(again == id));
	say("stat key is the negative key: %s",
	    yesno(stat_of(id).shm_perm.__key == k));
	get("negative key, 1, IPC_CREAT|IPC_EXCL", k, 1,
	    IPC_CREAT | IPC_EXCL | 0600);
	/* The positive twin is another key. */
	get("positive twin, 1, 0", conf_key(3), 1, 0);
	get("key -1, 1, 0", (key_t)-1, 1, 0);
	rmseg(id);
	get("negative key after removal, 1, 0", k, 1, 0);
}

/* A key removed while attached becomes private: the key is free again. */
static void
reuse_while_attached(void)
{
	key_t k = conf_key(4);
	int id = mkseg(k, 100, 0600), again;
	void *p = shmat(id, NULL, 0);

	if (p == (void *)-1)
		die("shmat");
	rmseg(id);
	get("key of a removed attached segment, 1, 0", k, 1, 0);
	again = get("same key, 1, IPC_CREAT|IPC_EXCL|0600", k, 1,
		    IPC_CREAT | IPC_EXCL | 0600);
	say("new id differs: %s", yesno(again >= 0 && again != id));
	if (again >= 0)
		rmseg(again);
	if (shmdt(p) != 0)
		die("shmdt");
}

/* As nobody: the size's EINVAL comes before EACCES, EEXIST before both. */
static void
error_order(void)
{
	key_t k = conf_key(5);
	int id = mkseg(k, 100, 0600);
	pid_t pid = xfork();

	if (pid == 0) {
		become_nobody();
		/* The mode bits of shmflg are the access asked for. */
		say("nobody: shmget(key of 0600 root segment, 100, 0): %s",
		    R(shmget(k, 100, 0)));
		say("nobody: shmget(same, 100, 0400): %s",
		    R(shmget(k, 100, 0400)));
		say("nobody: shmget(same, 0, 0200): %s",
		    R(shmget(k, 0, 0200)));
		say("nobody: shmget(same, 100, 0001): %s",
		    R(shmget(k, 100, 0001)));
		say("nobody: shmget(same, 200, 0600): %s",
		    R(shmget(k, 200, 0600)));
		say("nobody: shmget(same, 200, IPC_CREAT|IPC_EXCL|0600): %s",
		    R(shmget(k, 200, IPC_CREAT | IPC_EXCL | 0600)));
		say("nobody: shmget(same, 100, IPC_CREAT|IPC_EXCL|0600): %s",
		    R(shmget(k, 100, IPC_CREAT | IPC_EXCL | 0600)));
		say("nobody: shmget(same, 100, IPC_CREAT|0600): %s",
		    R(shmget(k, 100, IPC_CREAT | 0600)));
		say("nobody: shmget(same, 100, IPC_CREAT): %s",
		    R(shmget(k, 100, IPC_CREAT)));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	rmseg(id);
}

/* The SHM_HUGETLB cases a caller without privileges runs. */
static void
hugetlb_cases(const char *who)
{
	static const struct {
		const char *label;
		size_t size;
		int flg;
	} c[] = {
		{ "1, SHM_HUGETLB", 1, SHM_HUGETLB },
		{ "2M, SHM_HUGETLB", 2 << 20, SHM_HUGETLB },
		{ "0, SHM_HUGETLB", 0, SHM_HUGETLB },
		{ "2M, SHM_HUGETLB|SHM_NORESERVE", 2 << 20,
		  SHM_HUGETLB | SHM_NORESERVE },
		{ "4M+1, SHM_HUGETLB|SHM_NORESERVE", (4 << 20) + 1,
		  SHM_HUGETLB | SHM_NORESERVE },
		{ "2M, SHM_HUGETLB|SHM_HUGE_2MB|SHM_NORESERVE", 2 << 20,
		  SHM_HUGETLB | SHM_HUGE_2MB | SHM_NORESERVE },
		{ "2M, SHM_HUGETLB|SHM_HUGE_1GB", 2 << 20,
		  SHM_HUGETLB | SHM_HUGE_1GB },
		{ "2M, SHM_HUGETLB|SHM_HUGE_1GB|SHM_NORESERVE", 2 << 20,
		  SHM_HUGETLB | SHM_HUGE_1GB | SHM_NORESERVE },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int id = shmget(IPC_PRIVATE, c[i].size,
				IPC_CREAT | 0600 | c[i].flg);

		say("%s: size %s: %s", who, c[i].label, R(id));
		if (id >= 0 && shmctl(id, IPC_RMID, NULL) != 0)
			die("IPC_RMID");
	}
}

/* vm.hugetlb_shm_group: the group Linux lets make huge page segments. */
static gid_t
hugetlb_group(void)
{
	FILE *f = fopen("/proc/sys/vm/hugetlb_shm_group", "re");
	unsigned long g = 0;

	if (f) {
		if (fscanf(f, "%lu", &g) != 1)
			g = 0;
		fclose(f);
	}
	return (gid_t)g;
}

/* Keeps only CAP_IPC_LOCK, effective (the rest of the set stays
 * permitted after setresuid thanks to PR_SET_KEEPCAPS). */
static void
only_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective =
		d[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted =
			CAP_TO_MASK(CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d) != 0)
		die("capset");
}

/*
 * SHM_HUGETLB as other users, in forked children of root: Linux's
 * can_do_hugetlb_shm() lets CAP_IPC_LOCK or a member of
 * vm.hugetlb_shm_group through; everyone else gets EPERM whatever their
 * RLIMIT_MEMLOCK (the old mlock-limit fallback only warns since Linux
 * 5.17), with SHM_NORESERVE or without.  The page size is checked first
 * (EINVAL), the pool after (ENOMEM).
 */
static void
hugetlb_as_others(void)
{
	static const struct {
		const char *who;
		int in_group, cap, memlock_zero;
	} callers[] = {
		{ "nobody, memlock 0", 0, 0, 1 },
		{ "nobody, memlock at its hard limit", 0, 0, 0 },
		{ "member of hugetlb_shm_group, memlock 0", 1, 0, 1 },
		{ "nobody with CAP_IPC_LOCK, memlock 0", 0, 1, 1 },
	};

	if (geteuid() != 0) {
		say("SHM_HUGETLB as other users: skipped (needs root)");
		return;
	}
	for (size_t i = 0; i < sizeof(callers) / sizeof(callers[0]); i++) {
		pid_t pid = xfork();

		if (pid == 0) {
			gid_t g = hugetlb_group();
			struct rlimit rl;

			/* Root may lack CAP_SYS_RESOURCE (a container): the
			 * hard limit is the most there is to give. */
			if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
				die("getrlimit");
			rl.rlim_cur = callers[i].memlock_zero ? 0 : rl.rlim_max;
			if (callers[i].memlock_zero)
				rl.rlim_max = 0;
			if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
				die("setrlimit");
			if (callers[i].cap &&
			    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
				die("PR_SET_KEEPCAPS");
			/* The group is a supplementary one: Linux's
			 * in_group_p looks at those too. */
			if (setgroups(callers[i].in_group ? 1 : 0, &g) != 0 ||
			    setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
			    setresuid(NOBODY, NOBODY, NOBODY) != 0)
				die("cannot become nobody");
			if (callers[i].cap)
				only_cap_ipc_lock();
			hugetlb_cases(callers[i].who);
			_exit(0);
		}
		say("child: %s", wstatus(xwait(pid)));
	}
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	private_segments();
	keyed_segments();
	modes();
	sizes();
	usable();
	negative_keys();
	reuse_while_attached();
	error_order();
	hugetlb_as_others();
	return 0;
}
