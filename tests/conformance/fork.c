/*
 * fork.c - attachments across fork, exit, exec and death by a signal:
 * shm_nattch, shm_lpid and the times must be right as soon as fork or
 * waitpid returns.
 */
#include "conf.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

static size_t page;

static char *
at(int id)
{
	char *p = shmat(id, NULL, 0);

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

/* A child that waits for the parent's word (or EOF), then exits. */
static pid_t
fork_waiting(int fd[2])
{
	xpipe(fd);
	pid_t pid = xfork();

	if (pid == 0) {
		close(fd[1]);
		xread1(fd[0]);
		_exit(0);
	}
	close(fd[0]);
	return pid;
}

static void
exit_detaches(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), fd[2];
	char *p = at(id);
	struct shmid_ds ds;
	pid_t pid;

	p[0] = 1;
	say("before fork: nattch %lu", (unsigned long)nattch(id));
	pid = fork_waiting(fd);
	ds = stat_of(id);
	say("right after fork: nattch %lu", (unsigned long)ds.shm_nattch);
	/* The fork happens in the parent's context. */
	say("right after fork: lpid == getpid(): %s",
	    yesno(ds.shm_lpid == getpid()));
	xwrite1(fd[1]);
	close(fd[1]);
	say("child: %s", wstatus(xwait(pid)));
	ds = stat_of(id);
	say("after waitpid: nattch %lu", (unsigned long)ds.shm_nattch);
	say("after waitpid: lpid == child pid: %s",
	    yesno(ds.shm_lpid == pid));
	say("after waitpid: dtime %s", ds.shm_dtime ? "set" : "0");

	/* Two attachments in the parent: the child inherits both. */
	char *q = at(id);

	pid = fork_waiting(fd);
	say("two attachments, after fork: nattch %lu",
	    (unsigned long)nattch(id));
	close(fd[1]);
	say("child: %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	dt(q);
	dt(p);
	rmseg(id);
}

/*
 * Two children end in turn, the later-forked first, and the parent reaps
 * both before it asks: lpid is the one that ended last.  Many times,
 * each child living well under a millisecond, each pair forked after a
 * quiet moment (2 ms: not a wait for anything, the scenario's pace).
 */
static void
exits_in_turn(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), fa[2], fb[2], wrong = 0;
	char *p = at(id);

	for (int i = 0; i < 50; i++) {
		struct timespec quiet = { 0, 2000000 };
		pid_t a, b;
		struct shmid_ds ds;

		nanosleep(&quiet, NULL);
		a = fork_waiting(fa);
		b = fork_waiting(fb);

		close(fb[1]);
		xwait(b);
		close(fa[1]);
		xwait(a);
		ds = stat_of(id);
		wrong += ds.shm_nattch != 1 || ds.shm_lpid != a;
	}
	say("two children ending in turn, 50 times: nattch or lpid wrong "
	    "in %d", wrong);
	dt(p);
	rmseg(id);
}

static void
killed(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), fd[2];
	char *p = at(id);
	pid_t pid;

	pid = fork_waiting(fd);
	say("after fork: nattch %lu", (unsigned long)nattch(id));
	if (kill(pid, SIGKILL) != 0)
		die("kill");
	say("child: %s", wstatus(xwait(pid)));
	struct shmid_ds ds = stat_of(id);

	say("after SIGKILL and waitpid: nattch %lu, lpid == child pid: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));
	close(fd[1]);
	dt(p);
	rmseg(id);
}

/* A child that attaches on its own and dies by a signal. */
static void
child_attach(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), tell[2], go[2];
	pid_t pid;

	xpipe(tell);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		char *c = shmat(id, NULL, 0), *d = shmat(id, NULL, 0);

		if (c == (void *)-1 || d == (void *)-1)
			_exit(97);
		c[0] = 42;
		xwrite1(tell[1]);
		xread1(go[0]);
		/* Die by a signal with both attachments. */
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		_exit(96);
	}
	close(tell[1]);
	close(go[0]);
	xread1(tell[0]);
	say("child attached twice: nattch %lu", (unsigned long)nattch(id));
	char *p = at(id);

	say("child's data visible: %s", yesno(p[0] == 42));
	xwrite1(go[1]);
	say("child: %s", wstatus(xwait(pid)));
	struct shmid_ds ds = stat_of(id);

	say("after waitpid: nattch %lu, lpid == child pid: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));
	close(tell[0]);
	close(go[1]);
	dt(p);
	rmseg(id);
}

/* A child that detaches explicitly, then lives on. */
/*
 * A child whose first act on its inheritance is not a call to ask
 * something: it detaches its only attachment, or one of two, or
 * reshapes one (a split is an attach on Linux, a piece cut out a
 * detach).  Its first connection to the daemon of its own is made then,
 * and must count what it held before the change, then the change (a
 * change counted twice, or not at all, before).  The parent looks while
 * the child lives, and after waitpid.  Each made by fork, then by _Fork,
 * which runs no fork handlers (a child the library learns of at its
 * first act, whose mappings the daemon checks then).
 */
static void
child_acts_first(void)
{
	static const char *const what[] = {
		"shmdt of its only attachment",
		"shmdt of one of two attachments",
		"mprotect of a middle page",
		"munmap of a middle page",
		"mprotect of a middle page, then shmdt of the other",
	};

	for (int k = 0; k < 10; k++) {
		int w = k % 5, raw = k >= 5;
		int id = mkseg(IPC_PRIVATE, (w ? 4 : 1) * page, 0600);
		char *p = at(id), *q = w ? at(id) : NULL;
		int tell[2], go[2];
		pid_t pid;

		xpipe(tell);
		xpipe(go);
		fflush(NULL);
		pid = raw ? _Fork() : xfork();
		if (pid < 0)
			die("_Fork");
		if (pid == 0) {
			int r = 0;

			if (w <= 1)
				r = shmdt(p);
			else if (w == 3)
				r = munmap(p + page, page);
			else
				r = mprotect(p + page, page, PROT_READ);
			if (w == 4 && r == 0)
				r = shmdt(q);
			xwrite1(tell[1]);
			xread1(go[0]);
			_exit(r == 0 ? 0 : 1);
		}
		close(tell[1]);
		close(go[0]);
		xread1(tell[0]);
		struct shmid_ds ds = stat_of(id);

		say("%s child's first act, %s: nattch %lu, "
		    "lpid == child pid: %s",
		    raw ? "a _Fork" : "a fork", what[w],
		    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));
		say("parent's attachment still works: %s",
		    yesno((p[0] = 5) == 5));
		xwrite1(go[1]);
		say("child: %s", wstatus(xwait(pid)));
		say("after waitpid: nattch %lu", (unsigned long)nattch(id));
		close(tell[0]);
		close(go[1]);
		dt(p);
		if (q)
			dt(q);
		rmseg(id);
	}
}

/*
 * The parent detaches at once after fork (the child keeps its copy) and
 * removes the segment: it lives on while the child maps it.  Twenty
 * times, the first once in full: the daemon takes the child's
 * registration late (gathered), and the parent's detach must not be
 * counted before it.
 */
static void
parent_detaches_after_fork(void)
{
	int wrong = 0;

	for (int round = 0; round < 20; round++) {
		int id = mkseg(IPC_PRIVATE, page, 0600), go[2];
		char *p = at(id);
		struct shmid_ds ds;
		unsigned long n1;
		pid_t pid;
		int st1, e1;

		xpipe(go);
		pid = xfork();
		if (pid == 0) {
			xread1(go[0]);
			_exit(p[0] == 7 ? 0 : 1);
		}
		close(go[0]);
		p[0] = 7;
		dt(p);
		n1 = (unsigned long)nattch(id);
		if (shmctl(id, IPC_RMID, NULL) != 0)
			die("IPC_RMID");
		st1 = shmctl(id, IPC_STAT, &ds);
		e1 = errno;
		xwrite1(go[1]);
		close(go[1]);
		if (round == 0) {
			say("parent detached after fork: nattch %lu", n1);
			say("removed while the child maps it: IPC_STAT %s",
			    res(st1, e1));
			say("child: %s", wstatus(xwait(pid)));
			say("after waitpid: IPC_STAT %s",
			    R(shmctl(id, IPC_STAT, &ds)));
			continue;
		}
		if (n1 != 1 || st1 != 0)
			wrong++;
		if (xwait(pid) != 0)
			wrong++;
	}
	say("parent detached after fork, 19 more times: wrong in %d", wrong);
}

/*
 * A grandchild inherits too, and its parent's exit does not detach it.
 * As a subreaper we inherit the orphan and can wait for it.  Once, with
 * what it shows at each step, then many times (g_child, g_grandchild and
 * g_nattch say how the child and the grandchild ended and nattch between
 * their exits; the shm_lpid of *after* says whether it is the
 * grandchild's).
 */
static char g_child[64], g_grandchild[64]; /* (wstatus reuses its buffer) */
static unsigned long g_nattch;

static void
grandchild_once(int id, struct shmid_ds *after)
{
	int tell[2], go[2];
	pid_t pid, g;

	xpipe(tell);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		g = fork();
		if (g < 0)
			_exit(95);
		if (g == 0) {
			xread1(go[0]);
			_exit(0);
		}
		if (write(tell[1], &g, sizeof(g)) != sizeof(g))
			_exit(94);
		_exit(0);
	}
	close(go[0]);
	close(tell[1]);
	if (read(tell[0], &g, sizeof(g)) != sizeof(g))
		die("read");
	snprintf(g_child, sizeof(g_child), "%s", wstatus(xwait(pid)));
	g_nattch = (unsigned long)nattch(id);
	xwrite1(go[1]);
	snprintf(g_grandchild, sizeof(g_grandchild), "%s",
		 wstatus(xwait(g)));
	*after = stat_of(id);
	after->shm_lpid = after->shm_lpid == g; /* 1: the grandchild's */
	close(tell[0]);
	close(go[1]);
}

static void
grandchild(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = at(id);
	struct shmid_ds ds;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		die("prctl(PR_SET_CHILD_SUBREAPER)");
	grandchild_once(id, &ds);
	say("child: %s", g_child);
	say("child exited, grandchild alive: nattch %lu", g_nattch);
	say("grandchild: %s", g_grandchild);
	say("grandchild gone: nattch %lu, lpid == grandchild pid: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == 1));
	/* Again and again: the child's exit, its registration of the
	 * grandchild and its parent's naming of it reach ushm in any
	 * order, and each order must end as Linux's one does. */
	int wrong = 0;

	for (int i = 0; i < 200; i++) {
		grandchild_once(id, &ds);
		wrong += g_nattch != 2 || ds.shm_nattch != 1 ||
			 ds.shm_lpid != 1;
	}
	say("200 more grandchildren: nattch or lpid wrong in %d", wrong);
	if (prctl(PR_SET_CHILD_SUBREAPER, 0) != 0)
		die("prctl(PR_SET_CHILD_SUBREAPER)");
	dt(p);
	rmseg(id);
}

static void
exec_detaches(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), cloexec[2], in[2];
	char *p = at(id);
	pid_t pid;

	pid = xfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	say("exec /bin/true: %s", wstatus(xwait(pid)));
	struct shmid_ds ds = stat_of(id);

	say("after waitpid: nattch %lu, lpid == child pid: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));

	/*
	 * The old address space is gone when exec closes the close-on-exec
	 * descriptors, and the program (cat, reading our pipe) still runs.
	 */
	if (pipe2(cloexec, O_CLOEXEC) != 0)
		die("pipe2");
	xpipe(in);
	pid = xfork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		close(cloexec[0]);
		close(in[1]);
		if (null < 0 || dup2(in[0], 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execl("/bin/cat", "cat", (char *)NULL);
		_exit(127);
	}
	close(cloexec[1]);
	close(in[0]);
	say("exec of cat done: %s", yesno(!xread1(cloexec[0])));
	ds = stat_of(id);
	say("cat running: nattch %lu, lpid == child pid: %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));
	close(in[1]);
	say("cat: %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	close(cloexec[0]);
	dt(p);
	rmseg(id);
}

/* A failed exec leaves the process, and its attachments, as they were. */
static void
failed_exec(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), tell[2], go[2];
	char *p = at(id);
	pid_t pid;

	p[0] = 3;
	xpipe(tell);
	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		execl("/nonexistent/program", "program", (char *)NULL);
		/* Still here, still attached. */
		p[0] = 4;
		xwrite1(tell[1]);
		xread1(go[0]);
		_exit(shmdt(p) == 0 ? 0 : 1);
	}
	close(tell[1]);
	close(go[0]);
	xread1(tell[0]);
	say("after the child's failed exec: nattch %lu, its write seen: %s",
	    (unsigned long)nattch(id), yesno(p[0] == 4));
	xwrite1(go[1]);
	say("child (detaches, exits): %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	close(tell[0]);
	close(go[1]);
	dt(p);
	rmseg(id);
}

extern char **environ;

/*
 * vfork and posix_spawn children share our memory until they exec:
 * they never hold attachments of their own.
 */
static void
vfork_spawn(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = at(id);
	char *argv[] = { "true", NULL };
	pid_t pid;
	int r;

	pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	say("vfork + exec /bin/true: %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	if (r != 0)
		die("posix_spawn");
	say("posix_spawn /bin/true: %s", wstatus(xwait(pid)));
	struct shmid_ds ds = stat_of(id);

	say("after waitpid: nattch %lu, lpid == getpid(): %s",
	    (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == getpid()));
	dt(p);
	rmseg(id);
}

/* MADV_DONTFORK keeps an attachment out of the child. */
static void
dontfork(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), fd[2];
	char *p = at(id);
	pid_t pid;

	say("madvise(MADV_DONTFORK): %s",
	    R(madvise(p, page, MADV_DONTFORK)));
	pid = fork_waiting(fd);
	say("MADV_DONTFORK, after fork: nattch %lu",
	    (unsigned long)nattch(id));
	close(fd[1]);
	say("child: %s", wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	/* The child has nothing attached there: its shmdt fails (and must
	 * not count against the parent's attachment). */
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(shmdt(p) == 0 ? 0 : errno);
	say("child's shmdt of what it did not inherit: %s (22: EINVAL)",
	    wstatus(xwait(pid)));
	say("after waitpid: nattch %lu", (unsigned long)nattch(id));
	dt(p);
	rmseg(id);
}

/* A segment removed while attached dies with the last process. */
static void
removed(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600), fd[2];
	char *p = at(id);
	struct shmid_ds ds;
	pid_t pid;

	pid = fork_waiting(fd);
	rmseg(id);
	dt(p);
	say("removed, parent detached: IPC_STAT %s",
	    R(shmctl(id, IPC_STAT, &ds)));
	say("nattch %lu, mode %#o", (unsigned long)ds.shm_nattch,
	    ds.shm_perm.mode);
	close(fd[1]);
	say("child: %s", wstatus(xwait(pid)));
	say("after the child's exit: IPC_STAT %s",
	    R(shmctl(id, IPC_STAT, &ds)));
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	exit_detaches();
	exits_in_turn();
	killed();
	child_attach();
	child_acts_first();
	parent_detaches_after_fork();
	grandchild();
	exec_detaches();
	failed_exec();
	vfork_spawn();
	dontfork();
	removed();
	return 0;
}
