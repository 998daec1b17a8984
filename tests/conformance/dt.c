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
	return 0;
}
