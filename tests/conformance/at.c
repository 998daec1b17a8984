/*
 * at.c - shmat(2): addresses, rounding, remapping, overlaps, protection
 * and which ids are accepted.
 */
#include "conf.h"

#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>

static size_t page;

/* The permission column of /proc/self/maps for the mapping at p. */
static const char *
prot_of(const void *p)
{
	static char perms[8];
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		die("fopen(/proc/self/maps)");
	strcpy(perms, "none");
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char pr[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, pr) != 3)
			continue;
		if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
			strcpy(perms, pr);
			break;
		}
	}
	fclose(f);
	return perms;
}

/*
 * An address range that nothing maps: reserve it with mmap, release it.
 * Nothing in this single-threaded program maps memory in between.
 */
static char *
free_range(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (munmap(p, len) != 0)
		die("munmap");
	return p;
}

static void
dt(void *p)
{
	if (shmdt(p) != 0)
		die("shmdt");
}

static void
addresses(int id)
{
	char *p, *q, *free;
	int e;

	p = shmat(id, NULL, 0);
	e = errno;
	say("shmat(NULL, 0): %s", resp(p, e));
	if (p == (void *)-1)
		return;
	say("page aligned: %s", yesno((uintptr_t)p % page == 0));
	say("SHMLBA is the page size: %s", yesno((size_t)SHMLBA == page));
	dt(p);

	/* The same address again, now free. */
	q = shmat(id, p, 0);
	e = errno;
	say("shmat(free aligned address, 0): %s", resp(q, e));
	say("at that address: %s", yesno(q == p));
	if (q != (void *)-1)
		dt(q);

	free = free_range(4 * page);
	q = shmat(id, free + 1, 0);
	e = errno;
	say("shmat(unaligned, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, free + page + 1, SHM_RND);
	e = errno;
	say("shmat(aligned + 1, SHM_RND): %s", resp(q, e));
	say("rounded down: %s", yesno(q == free + page));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, free + 2 * page - 1, SHM_RND);
	e = errno;
	say("shmat(aligned + page - 1, SHM_RND): %s", resp(q, e));
	say("rounded down: %s", yesno(q == free + page));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, free + 2 * page, SHM_RND);
	e = errno;
	say("shmat(aligned, SHM_RND): %s", resp(q, e));
	say("unchanged: %s", yesno(q == free + 2 * page));
	if (q != (void *)-1)
		dt(q);

	/*
	 * Below the first page SHM_RND rounds to 0, and Linux maps there
	 * (MAP_FIXED at 0: allowed for root, which may go below
	 * mmap_min_addr) rather than treating 0 as "anywhere".
	 */
	q = shmat(id, (void *)1, SHM_RND);
	e = errno;
	say("shmat(1, SHM_RND): %s", resp(q, e));
	if (q != (void *)-1) {
		say("at address 0: %s", yesno(q == NULL));
		dt(q);
	}
	q = shmat(id, (void *)(page - 1), SHM_RND);
	e = errno;
	say("shmat(page - 1, SHM_RND): %s", resp(q, e));
	if (q != (void *)-1) {
		say("at address 0: %s", yesno(q == NULL));
		dt(q);
	}
	q = shmat(id, (void *)page, 0);
	e = errno;
	say("shmat(page, 0): %s", resp(q, e));
	if (q != (void *)-1) {
		say("at that address: %s", yesno(q == (void *)page));
		dt(q);
	}
	q = shmat(id, (void *)1, SHM_RND | SHM_REMAP);
	e = errno;
	say("shmat(1, SHM_RND|SHM_REMAP): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, (void *)1, 0);
	e = errno;
	say("shmat(1, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, NULL, SHM_RND);
	e = errno;
	say("shmat(NULL, SHM_RND): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);

	/* Beyond the user address space of x86-64. */
	q = shmat(id, (void *)((uintptr_t)1 << 47), 0);
	e = errno;
	say("shmat(2^47, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, (void *)((uintptr_t)1 << 47) - page, 0);
	e = errno;
	say("shmat(2^47 - page, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(id, (void *)-page, 0);
	e = errno;
	say("shmat(-page, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
}

/* SHM_REMAP and overlapping attachments. */
static void
remap(void)
{
	int a = mkseg(IPC_PRIVATE, 2 * page, 0600);
	int b = mkseg(IPC_PRIVATE, page, 0600);
	char *p, *q, *anon;
	int e;

	q = shmat(b, NULL, SHM_REMAP);
	e = errno;
	say("shmat(NULL, SHM_REMAP): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);

	p = shmat(a, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	p[0] = 'a';
	p[page] = 'A';
	/* b over the second page of a. */
	q = shmat(b, p + page, 0);
	e = errno;
	say("shmat(inside an attachment, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(b, p, 0);
	e = errno;
	say("shmat(start of an attachment, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	/* a's two pages over the page before a: overlaps a's first page. */
	q = shmat(a, p - page, 0);
	e = errno;
	say("shmat(overlapping the start, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);

	q = shmat(b, p + page, SHM_REMAP);
	e = errno;
	say("shmat(inside an attachment, SHM_REMAP): %s", resp(q, e));
	if (q != (void *)-1) {
		say("at that address: %s", yesno(q == p + page));
		q[0] = 'b';
		say("first page still a's: %s", yesno(p[0] == 'a'));
		say("nattch a %lu, b %lu", (unsigned long)nattch(a),
		    (unsigned long)nattch(b));
		say("shmdt(start of a): %s", R(shmdt(p)));
		say("nattch a %lu, b %lu", (unsigned long)nattch(a),
		    (unsigned long)nattch(b));
		say("shmdt(b): %s", R(shmdt(q)));
		say("nattch a %lu, b %lu", (unsigned long)nattch(a),
		    (unsigned long)nattch(b));
	} else {
		dt(p);
	}

	/* Over a whole attachment: the old one is gone. */
	p = shmat(a, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	q = shmat(b, p, SHM_REMAP);
	e = errno;
	say("shmat(over a whole attachment, SHM_REMAP): %s", resp(q, e));
	if (q != (void *)-1) {
		say("nattch a %lu, b %lu", (unsigned long)nattch(a),
		    (unsigned long)nattch(b));
		say("b's data there: %s", yesno(q[0] == 'b'));
		say("shmdt(b): %s", R(shmdt(q)));
		/* a's second page is still mapped after b's one page. */
		say("shmdt(a's second page): %s", R(shmdt(p + page)));
		say("nattch a %lu, b %lu", (unsigned long)nattch(a),
		    (unsigned long)nattch(b));
	}
	/* Whatever is left of a there goes with munmap. */
	if (munmap(p, 2 * page) != 0)
		die("munmap");
	say("nattch a after munmap %lu", (unsigned long)nattch(a));

	/* A segment remapped over its own attachment: still one. */
	p = shmat(a, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	q = shmat(a, p, SHM_REMAP);
	e = errno;
	say("shmat(over its own attachment, SHM_REMAP): %s", resp(q, e));
	say("nattch a %lu", (unsigned long)nattch(a));
	say("shmdt: %s", R(shmdt(p)));
	say("nattch a %lu", (unsigned long)nattch(a));
	say("shmdt again: %s", R(shmdt(p)));

	/* Over memory that is not a segment. */
	anon = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap");
	q = shmat(b, anon, 0);
	e = errno;
	say("shmat(over anonymous memory, 0): %s", resp(q, e));
	if (q != (void *)-1)
		dt(q);
	q = shmat(b, anon, SHM_REMAP);
	e = errno;
	say("shmat(over anonymous memory, SHM_REMAP): %s", resp(q, e));
	if (q != (void *)-1) {
		say("b's data there: %s", yesno(q[0] == 'b'));
		dt(q);
	} else if (munmap(anon, page) != 0) {
		die("munmap");
	}
	rmseg(a);
	rmseg(b);
}

/* Writes through p in a child; reports whether it faulted. */
static void
try_write(char *p)
{
	pid_t pid = xfork();

	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = conf_segv_handler;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSEGV, &sa, NULL) != 0 ||
		    sigaction(SIGBUS, &sa, NULL) != 0)
			_exit(98);
		*(volatile char *)p = 'w';
		say("child: write went through");
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
}

static void
protections(int id)
{
	char *p, *w;
	int e;

	w = shmat(id, NULL, 0);
	if (w == (void *)-1)
		die("shmat");
	w[0] = 'x';
	say("prot of shmat(0): %s", prot_of(w));

	p = shmat(id, NULL, SHM_RDONLY);
	e = errno;
	say("shmat(SHM_RDONLY): %s", resp(p, e));
	if (p != (void *)-1) {
		say("prot: %s", prot_of(p));
		say("reads the data: %s", yesno(p[0] == 'x'));
		try_write(p);
		say("data unchanged: %s", yesno(w[0] == 'x'));
		/* mprotect can't grant more than the attachment has. */
		say("mprotect(RW) of the read-only attachment: %s",
		    R(mprotect(p, page, PROT_READ | PROT_WRITE)));
		dt(p);
	}
	p = shmat(id, NULL, SHM_EXEC);
	e = errno;
	say("shmat(SHM_EXEC): %s", resp(p, e));
	if (p != (void *)-1) {
		say("prot: %s", prot_of(p));
		dt(p);
	}
	p = shmat(id, NULL, SHM_EXEC | SHM_RDONLY);
	e = errno;
	say("shmat(SHM_EXEC|SHM_RDONLY): %s", resp(p, e));
	if (p != (void *)-1) {
		say("prot: %s", prot_of(p));
		try_write(p);
		dt(p);
	}
	/* What mprotect may do with an ordinary attachment. */
	say("mprotect(read-only) of a rw attachment: %s",
	    R(mprotect(w, page, PROT_READ)));
	say("mprotect(back to rw): %s",
	    R(mprotect(w, page, PROT_READ | PROT_WRITE)));
	say("mprotect(rwx) of a rw attachment: %s",
	    R(mprotect(w, page, PROT_READ | PROT_WRITE | PROT_EXEC)));
	say("prot: %s", prot_of(w));
	say("mprotect(back to rw): %s",
	    R(mprotect(w, page, PROT_READ | PROT_WRITE)));
	say("nattch after the mprotects %lu", (unsigned long)nattch(id));

	/* A writable attachment sees the other's writes at once. */
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	say("two attachments, different addresses: %s", yesno(p != w));
	p[1] = 'y';
	say("write through one, read through the other: %s",
	    yesno(w[1] == 'y'));
	try_write(p);
	say("child's write visible: %s", yesno(w[0] == 'w'));
	/* Flag bits shmat does not know. */
	char *u = shmat(id, NULL, 0x40000000);

	e = errno;
	say("shmat(NULL, unknown flag 0x40000000): %s", resp(u, e));
	if (u != (void *)-1)
		dt(u);
	dt(p);
	dt(w);
}

static void
ids(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	void *p;
	int e;

	p = shmat(-1, NULL, 0);
	e = errno;
	say("shmat(-1): %s", resp(p, e));
	p = shmat(INT_MIN, NULL, 0);
	e = errno;
	say("shmat(INT_MIN): %s", resp(p, e));
	p = shmat(INT_MAX, NULL, 0);
	e = errno;
	say("shmat(INT_MAX): %s", resp(p, e));

	/* Removed while attached: the id still attaches. */
	void *a = shmat(id, NULL, 0);

	if (a == (void *)-1)
		die("shmat");
	rmseg(id);
	p = shmat(id, NULL, 0);
	e = errno;
	say("shmat(id of a removed, attached segment): %s", resp(p, e));
	if (p != (void *)-1) {
		say("nattch %lu", (unsigned long)nattch(id));
		say("mode has SHM_DEST: %s",
		    yesno(stat_of(id).shm_perm.mode & SHM_DEST));
		dt(p);
	}
	say("shmctl(IPC_RMID) again: %s", R(shmctl(id, IPC_RMID, NULL)));
	dt(a);
	/* Gone with the last detach: the id is stale. */
	p = shmat(id, NULL, 0);
	e = errno;
	say("shmat(stale id): %s", resp(p, e));

	/* Removed without attachments: gone at once. */
	id = mkseg(IPC_PRIVATE, page, 0600);
	rmseg(id);
	p = shmat(id, NULL, 0);
	e = errno;
	say("shmat(id removed while unattached): %s", resp(p, e));
	p = shmat(id, NULL, SHM_RDONLY);
	e = errno;
	say("shmat(same, SHM_RDONLY): %s", resp(p, e));
}

/* A size-1 segment maps one page; attaching past it is unrelated. */
static void
small(void)
{
	int id = mkseg(IPC_PRIVATE, 1, 0600);
	char *p = shmat(id, free_range(2 * page), 0);

	if (p == (void *)-1)
		die("shmat");
	p[page - 1] = 1;
	say("size 1: whole page usable, zero-filled rest: %s",
	    yesno(p[page - 2] == 0));
	/* Attach the segment twice, adjacent: they don't overlap. */
	char *q = shmat(id, p + page, 0);
	int e = errno;

	say("shmat(right after a size-1 attachment): %s", resp(q, e));
	if (q != (void *)-1) {
		say("same data: %s", yesno(q[page - 1] == 1));
		dt(q);
	}
	dt(p);
	rmseg(id);
}

int
main(void)
{
	int id;

	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	id = mkseg(IPC_PRIVATE, page, 0600);
	addresses(id);
	protections(id);
	rmseg(id);
	remap();
	ids();
	small();
	return 0;
}
