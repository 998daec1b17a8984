/*
 * lifetime.c - segments outlive their creators and attachments; their
 * contents are zero on creation and persist until removal.
 */
#include "conf.h"

#include <stdint.h>

static size_t page;

static char *
at(int id, int flg)
{
	char *p = shmat(id, NULL, flg);

	if (p == (void *)-1)
		die("shmat");
	return p;
}

static void
dt(void *p)
{
	if (shmdt(p) != 0)
		die("shmdt");
}

static int
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A child creates a keyed segment, writes to it and exits. */
static void
outlives_creator(int by_signal)
{
	key_t k = conf_key(by_signal ? 2 : 1);
	pid_t pid = xfork();

	if (pid == 0) {
		int id = shmget(k, 3 * page, IPC_CREAT | IPC_EXCL | 0600);
		char *p;

		if (id < 0)
			_exit(1);
		p = shmat(id, NULL, 0);
		if (p == (void *)-1)
			_exit(1);
		strcpy(p, "left by the child");
		strcpy(p + 2 * page, "last page");
		if (by_signal)
			raise(SIGKILL); /* still attached */
		if (shmdt(p) != 0)
			_exit(1);
		_exit(0);
	}
	say("creator: %s", wstatus(xwait(pid)));
	int id = xget(k, 0, 0);

	say("shmget(key, 0, 0) after the creator's exit: %s", R(id));
	if (id < 0)
		return;
	struct shmid_ds ds = stat_of(id);

	say("nattch %lu, cpid == child: %s, lpid == child: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_cpid == pid),
	    yesno(ds.shm_lpid == pid));
	say("atime %s, dtime %s, segsz %zu", ds.shm_atime ? "set" : "0",
	    ds.shm_dtime ? "set" : "0", ds.shm_segsz);
	char *p = at(id, SHM_RDONLY);

	say("data: \"%s\", \"%s\"", p, p + 2 * page);
	dt(p);
	rmseg(id);
}

static void
persists(void)
{
	int id = mkseg(IPC_PRIVATE, 2 * page + 10, 0600);
	char *p = at(id, 0), *q;

	say("new segment zero-filled (whole last page too): %s",
	    yesno(all_zero(p, 3 * page)));
	memset(p, 0x5a, 2 * page + 10);
	/* Past the size, inside the last page. */
	p[2 * page + 100] = 0x33;
	p[3 * page - 1] = 0x44;
	dt(p);
	say("after detach: nattch %lu", (unsigned long)nattch(id));
	q = at(id, 0);
	int same = 1;

	for (size_t i = 0; i < 2 * page + 10; i++)
		if ((unsigned char)q[i] != 0x5a)
			same = 0;
	say("re-attached: contents kept: %s", yesno(same));
	say("bytes past the size in the last page kept: %s, %s",
	    yesno(q[2 * page + 100] == 0x33), yesno(q[3 * page - 1] == 0x44));
	say("byte right after the size: %d", q[2 * page + 10]);
	dt(q);
	rmseg(id);
}

/* A key removed and created again is a new, zero-filled segment. */
static void
recreated(void)
{
	key_t k = conf_key(3);
	int id = mkseg(k, page, 0600);
	char *p = at(id, 0);

	memset(p, 0xff, page);
	dt(p);
	rmseg(id);
	int id2 = mkseg(k, page, IPC_EXCL | 0600);

	p = at(id2, 0);
	say("re-created key: new id: %s, zero-filled: %s",
	    yesno(id2 != id), yesno(all_zero(p, page)));
	dt(p);
	rmseg(id2);
}

/*
 * Removed while attached: the data stays usable by the attached until the
 * last detach, in other processes too.
 */
static void
removed_but_attached(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), tell[2], go[2];
	char *p = at(id, 0);
	pid_t pid;

	xpipe(tell);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		xread1(go[0]);
		say("child reads after removal: \"%s\"", p);
		strcpy(p, "from the child");
		xwrite1(tell[1]);
		_exit(0);
	}
	close(go[0]);
	close(tell[1]);
	strcpy(p, "from the parent");
	rmseg(id);
	xwrite1(go[1]);
	xread1(tell[0]);
	say("parent reads: \"%s\"", p);
	say("child: %s", wstatus(xwait(pid)));
	dt(p);
	say("IPC_STAT after the last detach: %s",
	    R(shmctl(id, IPC_STAT, &(struct shmid_ds){ 0 })));
	close(go[1]);
	close(tell[0]);
}

/* Two processes, one segment: writes are visible without any call. */
static void
shared(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), tell[2], go[2];
	volatile char *p = at(id, 0);
	pid_t pid;

	xpipe(tell);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		char *c = shmat(id, NULL, 0);

		if (c == (void *)-1)
			_exit(1);
		xread1(go[0]);
		c[1] = (char)(c[0] + 1);
		xwrite1(tell[1]);
		_exit(0);
	}
	close(go[0]);
	close(tell[1]);
	p[0] = 41;
	xwrite1(go[1]);
	xread1(tell[0]);
	say("child's own attachment wrote %d", p[1]);
	say("child: %s", wstatus(xwait(pid)));
	close(go[1]);
	close(tell[0]);
	dt((void *)p);
	rmseg(id);
}

/*
 * The classic hand-over: the parent passes a private segment's id on the
 * command line of a program it executes (this one, in "child" mode).
 */
static int
exec_child(const char *arg)
{
	int id = atoi(arg);
	char *p = shmat(id, NULL, 0);

	if (p == (void *)-1) {
		printf("exec'd child: shmat(id from argv): %s\n",
		       ename(errno));
		return 1;
	}
	printf("exec'd child: reads \"%s\"\n", p);
	strcpy(p, "answer from the exec'd child");
	fflush(stdout);
	return shmdt(p) == 0 ? 0 : 1;
}

static void
hand_over(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = at(id, 0), arg[32];
	pid_t pid;

	strcpy(p, "question from the parent");
	snprintf(arg, sizeof(arg), "%d", id);
	pid = xfork();
	if (pid == 0) {
		execl("/proc/self/exe", "lifetime", "child", arg,
		      (char *)NULL);
		_exit(127);
	}
	say("exec'd child: %s", wstatus(xwait(pid)));
	say("parent reads \"%s\"", p);
	say("nattch %lu", (unsigned long)nattch(id));
	dt(p);
	rmseg(id);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return exec_child(argv[2]);
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	outlives_creator(0);
	outlives_creator(1);
	persists();
	recreated();
	removed_but_attached();
	shared();
	hand_over();
	return 0;
}
