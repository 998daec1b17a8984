/*
 * dt.c - shmdt(2): which addresses detach, and what a detach leaves.
 */
#include "conf.h"

#include <stdint.h>
#include <sys/mman.h>

static size_t page;

static char *
at(int id, int flg)
{
	char *p = shmat(id, NULL, flg);

	if (p == (void *)-1)
		die("shmat");
	return p;
}

/* Reads p in a child: is it still mapped? */
static void
try_read(const char *p)
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
		say("child: read %d", *(volatile const char *)p);
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
}

static void
addresses(void)
{
	int id = mkseg(IPC_PRIVATE, 2 * page, 0600);
	char *p = at(id, 0);
	char local = 0;
	void *anon;

	p[0] = 7;
	say("shmdt(NULL): %s", R(shmdt(NULL)));
	say("shmdt((void *)-1): %s", R(shmdt((void *)-1)));
	say("shmdt(unaligned, inside): %s", R(shmdt(p + 1)));
	say("shmdt(second page, inside): %s", R(shmdt(p + page)));
	say("shmdt(last byte): %s", R(shmdt(p + 2 * page - 1)));
	say("shmdt(stack address): %s", R(shmdt(&local)));
	anon = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap");
	say("shmdt(anonymous mapping): %s", R(shmdt(anon)));
	if (munmap(anon, page) != 0)
		die("munmap");
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(attachment): %s", R(shmdt(p)));
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(same again): %s", R(shmdt(p)));
	try_read(p);
	rmseg(id);
}

/* Two attachments of one segment: each detach takes one. */
static void
twice(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = at(id, 0), *q = at(id, SHM_RDONLY);

	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(first): %s", R(shmdt(p)));
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(second): %s", R(shmdt(q)));
	say("nattch %lu", (unsigned long)nattch(id));
	rmseg(id);
}

/* Detaching the last attachment of a removed segment destroys it. */
static void
destroyed(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = at(id, 0);
	struct shmid_ds ds;

	rmseg(id);
	say("after IPC_RMID: IPC_STAT %s", R(shmctl(id, IPC_STAT, &ds)));
	say("shmdt(last attachment of a removed segment): %s",
	    R(shmdt(p)));
	say("then IPC_STAT: %s", R(shmctl(id, IPC_STAT, &ds)));
	say("then shmdt again: %s", R(shmdt(p)));
}

/*
 * An attachment split into pieces by mprotect or munmap: Linux counts
 * every piece in nattch, and shmdt of the start address removes them
 * all, even when the first page itself is no longer mapped.
 */
static void
fragments(void)
{
	int id = mkseg(IPC_PRIVATE, 3 * page, 0600);
	char *p = at(id, 0);

	say("nattch %lu", (unsigned long)nattch(id));
	say("mprotect(middle page, PROT_READ): %s",
	    R(mprotect(p + page, page, PROT_READ)));
	say("nattch after split %lu", (unsigned long)nattch(id));
	say("shmdt(start): %s", R(shmdt(p)));
	say("nattch %lu", (unsigned long)nattch(id));
	try_read(p + 2 * page);

	p = at(id, 0);
	say("munmap(first page): %s", R(munmap(p, page)));
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(start, now unmapped): %s", R(shmdt(p)));
	say("nattch %lu", (unsigned long)nattch(id));
	try_read(p + page);

	p = at(id, 0);
	say("munmap(last page): %s", R(munmap(p + 2 * page, page)));
	say("nattch %lu", (unsigned long)nattch(id));
	say("munmap(rest): %s", R(munmap(p, 2 * page)));
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(start, all unmapped): %s", R(shmdt(p)));
	rmseg(id);
}

/* An attachment moved by mremap is still one, at its new address. */
static void
moved(void)
{
	int id = mkseg(IPC_PRIVATE, 2 * page, 0600);
	char *p = at(id, 0), *dst, *q;

	p[0] = 9;
	dst = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (dst == MAP_FAILED)
		die("mmap");
	q = mremap(p, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	say("mremap(attachment, elsewhere): %s",
	    q == MAP_FAILED ? "failed" : q == dst ? "moved" : "elsewhere");
	if (q == MAP_FAILED) {
		if (shmdt(p) != 0)
			die("shmdt");
		rmseg(id);
		return;
	}
	say("data moved along: %s", yesno(q[0] == 9));
	say("nattch %lu", (unsigned long)nattch(id));
	say("shmdt(old address): %s", R(shmdt(p)));
	say("shmdt(new address): %s", R(shmdt(q)));
	say("nattch %lu", (unsigned long)nattch(id));
	rmseg(id);
}

#define STEP(label, expr)                                                     \
	do {                                                                  \
		long r_ = (long)(expr);                                       \
		say("%s: %s, nattch %lu", label, r_ == -1 ? "failed" : "ok",  \
		    (unsigned long)nattch(id));                               \
	} while (0)

/*
 * How Linux counts the mappings of one attachment as they change: a
 * split is an attach, a removed piece a detach, a move neither; pieces
 * never merge back; mprotect to the protection a piece has splits
 * nothing.  Each step prints nattch.
 */
static void
reshaped(void)
{
	int id = mkseg(IPC_PRIVATE, 4 * page, 0600);
	char *p = at(id, 0), *d, *q;
	pid_t pid;

	STEP("mprotect(all, same protection)",
	     mprotect(p, 4 * page, PROT_READ | PROT_WRITE));
	STEP("mprotect(second page, PROT_READ)",
	     mprotect(p + page, page, PROT_READ));
	STEP("mprotect(second page, back to read-write)",
	     mprotect(p + page, page, PROT_READ | PROT_WRITE));
	STEP("mprotect(all, read-write again)",
	     mprotect(p, 4 * page, PROT_READ | PROT_WRITE));
	STEP("shmdt(start)", shmdt(p));

	p = at(id, 0);
	STEP("munmap(second page)", munmap(p + page, page));
	STEP("munmap(third page)", munmap(p + 2 * page, page));
	STEP("shmdt(start)", shmdt(p));

	p = at(id, 0);
	STEP("mmap(MAP_FIXED, anonymous, over the second page)",
	     mmap(p + page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
	     MAP_FIXED, -1, 0));
	STEP("shmdt(start)", shmdt(p));

	p = at(id, 0);
	STEP("mremap(all, shrink to 2 pages in place)",
	     mremap(p, 4 * page, 2 * page, 0));
	STEP("mremap(second page, grow in place)",
	     mremap(p + page, page, 2 * page, 0));
	STEP("shmdt(start)", shmdt(p));

	/* A page moved out of the attachment is no longer within reach
	 * of shmdt(start), nor found at its own address: it stays until
	 * it is unmapped. */
	p = at(id, 0);
	d = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (d == MAP_FAILED)
		die("mmap");
	q = mremap(p + page, page, page, MREMAP_MAYMOVE | MREMAP_FIXED,
		   d + 6 * page);
	STEP("mremap(second page, far away)", q);
	STEP("shmdt(moved page)", shmdt(q));
	STEP("shmdt(start)", shmdt(p));
	STEP("shmdt(start again)", shmdt(p));
	STEP("munmap(moved page)", munmap(q, page));
	if (munmap(d, 8 * page) != 0)
		die("munmap");

	/* MREMAP_DONTUNMAP leaves the old range mapped, whole: the new
	 * place is a second mapping of the same pages, counted as one. */
	p = at(id, 0);
	d = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (d == MAP_FAILED)
		die("mmap");
	q = mremap(p, 4 * page, 4 * page,
		   MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
		   d + 4 * page);
	STEP("mremap(all, far away, MREMAP_DONTUNMAP)", q);
	STEP("shmdt(new place)", shmdt(q));
	STEP("shmdt(start)", shmdt(p));
	q = mremap(p = at(id, 0), page, page,
		   MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
		   d + 4 * page);
	STEP("mremap(first page, far away, MREMAP_DONTUNMAP)", q);
	STEP("munmap(new place)", munmap(q, page));
	STEP("shmdt(start)", shmdt(p));
	if (munmap(d, 8 * page) != 0)
		die("munmap");

	/* A split attachment, forked: the child has every piece. */
	p = at(id, 0);
	STEP("mprotect(third page, PROT_READ)",
	     mprotect(p + 2 * page, page, PROT_READ));
	pid = xfork();
	if (pid == 0) {
		say("child: nattch %lu", (unsigned long)nattch(id));
		STEP("child: shmdt(start)", shmdt(p));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	STEP("after the child", 0);

	STEP("shmdt(start)", shmdt(p));

	/* madvise flags split too; MADV_DONTFORK pieces stay out of a
	 * child. */
	p = at(id, 0);
	STEP("madvise(last two pages, MADV_DONTFORK)",
	     madvise(p + 2 * page, 2 * page, MADV_DONTFORK));
	STEP("madvise(last two pages, MADV_DONTFORK again)",
	     madvise(p + 2 * page, 2 * page, MADV_DONTFORK));
	STEP("madvise(all, MADV_WILLNEED)",
	     madvise(p, 4 * page, MADV_WILLNEED));
	pid = xfork();
	if (pid == 0) {
		say("child: nattch %lu", (unsigned long)nattch(id));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	STEP("after the child", 0);
	STEP("madvise(last page, MADV_DOFORK)",
	     madvise(p + 3 * page, page, MADV_DOFORK));
	STEP("shmdt(start)", shmdt(p));

	/* So do the read-ahead hints: random, sequential, and normal
	 * (neither), each a flag of the vma. */
	p = at(id, 0);
	STEP("madvise(second page, MADV_RANDOM)",
	     madvise(p + page, page, MADV_RANDOM));
	STEP("madvise(second page, MADV_RANDOM again)",
	     madvise(p + page, page, MADV_RANDOM));
	STEP("madvise(third page, MADV_SEQUENTIAL)",
	     madvise(p + 2 * page, page, MADV_SEQUENTIAL));
	STEP("madvise(second and third pages, MADV_SEQUENTIAL)",
	     madvise(p + page, 2 * page, MADV_SEQUENTIAL));
	STEP("madvise(all, MADV_NORMAL)", madvise(p, 4 * page, MADV_NORMAL));
	STEP("shmdt(start)", shmdt(p));

	/*
	 * SHM_REMAP over part of a split attachment replaces it.  The
	 * second attachment reaches two pages past the first, so the
	 * first goes at the start of a reservation of six pages: the remap
	 * replaces only what this program mapped.  Without it the remap
	 * and its shmdt took whatever lay above the attachment; under the
	 * sanitizer pass that was at times a chunk of ASan's allocator,
	 * and LeakSanitizer crashed at exit writing to its header.  The
	 * two attachments use the whole reservation, and their shmdts
	 * leave nothing of it; only a failed remap leaves its last two
	 * pages (unmapping more could take what was mapped there since).
	 */
	d = mmap(NULL, 6 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (d == MAP_FAILED)
		die("mmap");
	p = shmat(id, d, SHM_REMAP);
	if (p != d)
		die("shmat(SHM_REMAP over the reservation)");
	STEP("mprotect(third page, PROT_READ)",
	     mprotect(p + 2 * page, page, PROT_READ));
	q = shmat(id, p + 2 * page, SHM_REMAP);
	STEP("shmat(SHM_REMAP at the third page)", q == (void *)-1 ? -1 : 0);
	STEP("shmdt(start)", shmdt(p));
	STEP("shmdt(third page)", shmdt(p + 2 * page));
	if (q == (void *)-1 && munmap(d + 4 * page, 2 * page) != 0)
		die("munmap");
	rmseg(id);
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	addresses();
	twice();
	destroyed();
	fragments();
	moved();
	reshaped();
	return 0;
}
