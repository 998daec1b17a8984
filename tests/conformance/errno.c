/*
 * errno.c - what the calls leave in errno.  Linux's leave it as it was
 * when they succeed (so does glibc's wrapper), and a program may lean on
 * that (errno = 0; call; if (errno) ...), which POSIX does not promise
 * but Linux keeps.  A call that fails sets it.  Each call below runs with
 * errno set to a value no call returns, and prints what errno is after.
 */
#include "conf.h"

#include <sys/mman.h>

/* No error code has this number. */
#define MARK 4242

static size_t page;

/* Prints the call's result and whether errno is still MARK. */
#define CHECK(label, call)                                                  \
	do {                                                                \
		long r_;                                                    \
		errno = MARK;                                               \
		r_ = (long)(call);                                          \
		say("%s: %s, errno %s", label, res(r_, errno),              \
		    errno == MARK ? "untouched" : ename(errno));            \
	} while (0)

#define CHECKP(label, call)                                                 \
	do {                                                                \
		const void *p_;                                             \
		errno = MARK;                                               \
		p_ = (call);                                                \
		say("%s: %s, errno %s", label, resp(p_, errno),             \
		    errno == MARK ? "untouched" : ename(errno));            \
	} while (0)

int
main(void)
{
	struct shmid_ds ds;
	struct shminfo si;
	struct shm_info sinfo;
	key_t key;
	int id, id2;
	char *p;

	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	key = conf_key(1);

	errno = MARK;
	id = shmget(key, 4 * page, IPC_CREAT | IPC_EXCL | 0600);
	say("shmget create: %s, errno %s", res(id, errno),
	    errno == MARK ? "untouched" : ename(errno));
	if (id < 0)
		die("shmget");
	track(id);
	CHECK("shmget lookup", shmget(key, 0, 0));
	CHECK("shmget lookup, IPC_CREAT", shmget(key, page, IPC_CREAT | 0600));
	CHECK("shmget lookup, IPC_EXCL", shmget(key, page, IPC_CREAT | IPC_EXCL));
	CHECK("shmget missing key", shmget(conf_key(2), page, 0600));
	CHECK("IPC_STAT", shmctl(id, IPC_STAT, &ds));
	CHECK("IPC_SET", shmctl(id, IPC_SET, &ds));
	CHECK("IPC_INFO", shmctl(0, IPC_INFO, (struct shmid_ds *)(void *)&si));
	CHECK("SHM_INFO", shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&sinfo));
	CHECK("SHM_LOCK", shmctl(id, SHM_LOCK, NULL));
	CHECK("SHM_UNLOCK", shmctl(id, SHM_UNLOCK, NULL));
	CHECK("IPC_STAT, bad id", shmctl(-1, IPC_STAT, &ds));
	CHECKP("shmat", p = shmat(id, NULL, 0));
	if (p == (void *)-1)
		die("shmat");
	CHECKP("shmat again, read-only", shmat(id, NULL, SHM_RDONLY));
	CHECK("IPC_STAT, attached", shmctl(id, IPC_STAT, &ds));
	/* The mappings of an attachment changed by the program. */
	CHECK("mprotect of a middle page", mprotect(p + page, page, PROT_READ));
	CHECK("madvise of a middle page, MADV_DONTDUMP",
	      madvise(p + 2 * page, page, MADV_DONTDUMP));
	CHECK("munmap of the last page", munmap(p + 3 * page, page));
	CHECK("shmdt", shmdt(p));
	CHECK("shmdt, nothing there", shmdt(p));
	CHECKP("shmat, bad id", shmat(-1, NULL, 0));
	/* A child's first calls, on the connection made for it in fork. */
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	pid_t pid = xfork();
	if (pid == 0) {
		CHECK("child: IPC_STAT", shmctl(id, IPC_STAT, &ds));
		CHECK("child: mprotect of a middle page",
		      mprotect(p + page, page, PROT_READ));
		CHECK("child: shmdt", shmdt(p));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	CHECK("shmdt", shmdt(p));
	errno = MARK;
	id2 = shmget(IPC_PRIVATE, page, IPC_CREAT | 0600);
	say("shmget IPC_PRIVATE: %s, errno %s", res(id2, errno),
	    errno == MARK ? "untouched" : ename(errno));
	if (id2 >= 0) {
		track(id2);
		CHECK("IPC_RMID", shmctl(id2, IPC_RMID, NULL));
	}
	CHECK("IPC_RMID", shmctl(id, IPC_RMID, NULL));
	CHECK("IPC_RMID, removed", shmctl(id, IPC_RMID, NULL));
	return 0;
}
