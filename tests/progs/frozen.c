/*
 * frozen - a plain System V program whose daemon is stopped under it
 * (SIGSTOP), for tests/frozen.t.  It knows nothing of ushm: on its own
 * it exercises the kernel (DAEMON 0: nothing to stop), under ushm-run a
 * daemon it stops and continues itself (it runs as the daemon's user).
 *
 *   frozen fork DAEMON N   attach a segment, stop the daemon, then N
 *                          times fork a child that exits, execs
 *                          /bin/true or is killed at once, and wait for
 *                          it; print whether every fork and wait
 *                          returned in time; continue the daemon, print
 *                          nattch and whether lpid is the last child's
 *   frozen timeout DAEMON  (USHM_TIMEOUT=1) attach, stop the daemon, then
 *                          attach again as before (which needs no
 *                          daemon: whether it returned at once), then
 *                          shmat read-only (a first: the daemon must
 *                          answer it) and IPC_STAT while a 100 ms
 *                          timer's handler runs: print how each failed
 *                          and whether in about a second; fork a child
 *                          whose IPC_STAT must give up the same way (its
 *                          connection, made inside fork, gets its bound
 *                          at its first use); continue the daemon, print
 *                          nattch (the attach that timed out must not
 *                          count)
 *   frozen detach DAEMON   attach, stop the daemon, fork a child that
 *                          detaches (shmdt does not wait for the daemon)
 *                          and lives on; IPC_STAT, the daemon continued
 *                          only once the request waits behind the
 *                          child's detach: print nattch and whether lpid
 *                          is the child's (as Linux: its shmdt returned)
 *   frozen grandchild DAEMON  attach, stop the daemon, fork a child that
 *                          forks a grandchild and exits; reap the child,
 *                          continue the daemon: print nattch (the
 *                          grandchild's inheritance counts, though the
 *                          daemon learns of it only after the child is
 *                          gone); let the grandchild exit, print nattch
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Longest a fork, exec or exit may take with the daemon stopped: far
 * above what any of them costs, far below "until the daemon runs". */
#define FORK_BOUND_S 1.0

static void die(const char *what)
{
	fprintf(stderr, "frozen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *yesno(int b)
{
	return b ? "yes" : "no";
}

/* The state letter in DIR/stat ('T' stopped), '?' when unreadable. */
static char state_of_path(const char *dir)
{
	char path[128], buf[512], *rp, st = '?';
	FILE *f;

	snprintf(path, sizeof(path), "%s/stat", dir);
	f = fopen(path, "re");
	if (!f)
		return st;
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
		st = rp[2];
	fclose(f);
	return st;
}

/* The state letter of process pid. */
static char state_of(pid_t pid)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%ld", (long)pid);
	return state_of_path(dir);
}

/* SIGSTOP or SIGCONT to the daemon, and wait (5 s at most) until it is
 * stopped or running: it is not our child, so /proc is all there is. */
static void signal_daemon(pid_t daemon, int sig)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };

	if (daemon <= 0)
		return;
	if (kill(daemon, sig) != 0)
		die("kill daemon");
	for (int i = 0; i < 1000; i++) {
		char st = state_of(daemon);

		if ((sig == SIGSTOP) == (st == 'T' || st == 't'))
			return;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "frozen: the daemon did not %s\n",
		sig == SIGSTOP ? "stop" : "continue");
	exit(2);
}

static int mkseg(void **p)
{
	struct shmid_ds ds;
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

	if (id < 0)
		die("shmget");
	*p = shmat(id, NULL, 0);
	if (*p == (void *)-1)
		die("shmat");
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	return id;
}

static int forks(pid_t daemon, int n)
{
	double slowest_fork = 0, slowest_wait = 0;
	struct shmid_ds ds;
	pid_t pid = 0;
	void *p;
	int id = mkseg(&p);

	signal_daemon(daemon, SIGSTOP);
	for (int i = 0; i < n; i++) {
		double t0 = now(), t1;
		int st;

		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (i % 3 == 0)
				execl("/bin/true", "true", (char *)NULL);
			if (i % 3 == 2)
				for (;;)
					pause();
			_exit(0);
		}
		t1 = now();
		if (t1 - t0 > slowest_fork)
			slowest_fork = t1 - t0;
		if (i % 3 == 2 && kill(pid, SIGKILL) != 0)
			die("kill child");
		if (waitpid(pid, &st, 0) != pid)
			die("waitpid");
		if (now() - t1 > slowest_wait)
			slowest_wait = now() - t1;
	}
	fprintf(stderr, "# slowest fork %.1f ms, slowest exit or exec and "
		"wait %.1f ms\n", slowest_fork * 1e3, slowest_wait * 1e3);
	printf("%d forks, each returned in time: %s\n", n,
	       yesno(slowest_fork < FORK_BOUND_S));
	printf("exits, execs and kills, each reaped in time: %s\n",
	       yesno(slowest_wait < FORK_BOUND_S));
	signal_daemon(daemon, SIGCONT);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("after the children: nattch %lu, lpid == last child: %s\n",
	       (unsigned long)ds.shm_nattch, yesno(ds.shm_lpid == pid));
	if (shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
		die("cleanup");
	return 0;
}

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

/* How a call failed, and whether in about the bound (1 s). */
static void report(const char *what, int failed, int err, double t)
{
	printf("%s with the daemon stopped: %s, after about 1 s: %s\n", what,
	       failed ? strerror(err) : "succeeded", yesno(t > 0.9 && t < 3));
	fprintf(stderr, "# %s: %.2f s\n", what, t);
}

static int timeouts(pid_t daemon)
{
	struct itimerval every = { { 0, 100000 }, { 0, 100000 } }, off;
	struct sigaction sa;
	struct shmid_ds ds;
	void *p, *q, *r;
	int id = mkseg(&p), err, st;
	pid_t pid;
	double t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick; /* no SA_RESTART: the harder case */
	memset(&off, 0, sizeof(off));
	if (sigaction(SIGALRM, &sa, NULL) != 0 ||
	    setitimer(ITIMER_REAL, &every, NULL) != 0)
		die("timer");
	signal_daemon(daemon, SIGSTOP);
	t0 = now();
	q = shmat(id, NULL, 0);
	printf("shmat as before with the daemon stopped: %s at once: %s\n",
	       q == (void *)-1 ? strerror(errno) : "succeeded",
	       yesno(now() - t0 < 0.5));
	t0 = now();
	r = shmat(id, NULL, SHM_RDONLY);
	err = errno;
	report("shmat", r == (void *)-1, err, now() - t0);
	t0 = now();
	err = shmctl(id, IPC_STAT, &ds) == 0 ? 0 : errno;
	report("IPC_STAT", err != 0, err, now() - t0);
	if (setitimer(ITIMER_REAL, &off, NULL) != 0)
		die("timer");
	printf("the timer's handler ran while they waited: %s\n",
	       yesno(ticks >= 5));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		t0 = now();
		err = shmctl(id, IPC_STAT, &ds) == 0 ? 0 : errno;
		report("a child's IPC_STAT", err != 0, err, now() - t0);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("child");
	signal_daemon(daemon, SIGCONT);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("daemon continued: nattch %lu\n", (unsigned long)ds.shm_nattch);
	if (shmdt(p) != 0 || (q != (void *)-1 && shmdt(q) != 0) ||
	    (r != (void *)-1 && shmdt(r) != 0) ||
	    shmctl(id, IPC_RMID, NULL) != 0)
		die("cleanup");
	return 0;
}

/* What the waker needs: whom to continue, and whose request to wait for. */
struct waker {
	pid_t daemon;
	pid_t tid;		/* the thread that asks */
	volatile int asking;	/* it is about to */
};

/* The state letter of this process's thread tid, '?' when unreadable. */
static char task_state(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld", (long)tid);
	return state_of_path(path);
}

/* Continues the daemon once the asking thread sleeps (S) in its call:
 * its request is then queued for the stopped daemon. */
static void *wake_when_asked(void *arg)
{
	struct waker *w = arg;
	struct timespec tick = { 0, 1000 * 1000 };

	for (int i = 0; i < 5000; i++) {
		if (__atomic_load_n(&w->asking, __ATOMIC_ACQUIRE) &&
		    task_state(w->tid) == 'S')
			break;
		nanosleep(&tick, NULL);
	}
	signal_daemon(w->daemon, SIGCONT);
	return NULL;
}

static int detach(pid_t daemon)
{
	struct waker w = { .daemon = daemon, .tid = gettid() };
	int tell[2], go[2], r;
	struct shmid_ds ds;
	pthread_t thread;
	pid_t pid;
	void *p;
	int id = mkseg(&p);
	char c = 0;

	if (pipe(tell) != 0 || pipe(go) != 0)
		die("pipe");
	signal_daemon(daemon, SIGSTOP);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		r = shmdt(p);
		if (write(tell[1], &c, 1) != 1)
			_exit(3);
		(void)!read(go[0], &c, 1);
		_exit(r == 0 ? 0 : 1);
	}
	if (read(tell[0], &c, 1) != 1)
		die("read");
	if (daemon > 0 && (errno = pthread_create(&thread, NULL,
						  wake_when_asked, &w)) != 0)
		die("pthread_create");
	__atomic_store_n(&w.asking, 1, __ATOMIC_RELEASE);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	if (daemon > 0 && (errno = pthread_join(thread, NULL)) != 0)
		die("pthread_join");
	printf("child detached, daemon stopped: nattch %lu, lpid == child: "
	       "%s\n", (unsigned long)ds.shm_nattch,
	       yesno(ds.shm_lpid == pid));
	if (write(go[1], &c, 1) != 1 || waitpid(pid, &r, 0) != pid)
		die("child");
	printf("child: exit %d\n", WIFEXITED(r) ? WEXITSTATUS(r) : -1);
	if (shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
		die("cleanup");
	return 0;
}

static int grandchild(pid_t daemon)
{
	struct shmid_ds ds;
	int tell[2], go[2], r;
	pid_t pid, g;
	void *p;
	int id = mkseg(&p);
	char c = 0;

	/* The orphaned grandchild comes to us, to be waited for. */
	if (pipe(tell) != 0 || pipe(go) != 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		die("pipe, prctl");
	signal_daemon(daemon, SIGSTOP);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		g = fork();
		if (g == 0) {
			/* Until its grandparent says so (or is gone). */
			close(go[1]);
			_exit(read(go[0], &c, 1) < 0);
		}
		_exit(g < 0 || write(tell[1], &g, sizeof(g)) != sizeof(g));
	}
	close(go[0]);
	close(tell[1]);
	if (read(tell[0], &g, sizeof(g)) != sizeof(g) ||
	    waitpid(pid, &r, 0) != pid)
		die("child");
	/* The child is gone, and reaped, before the daemon hears of it. */
	signal_daemon(daemon, SIGCONT);
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("child exit %d, reaped, daemon continued: nattch %lu\n",
	       WIFEXITED(r) ? WEXITSTATUS(r) : -1,
	       (unsigned long)ds.shm_nattch);
	if (write(go[1], &c, 1) != 1 || waitpid(g, &r, 0) != g)
		die("grandchild");
	if (shmctl(id, IPC_STAT, &ds) != 0)
		die("IPC_STAT");
	printf("grandchild exit %d: nattch %lu\n",
	       WIFEXITED(r) ? WEXITSTATUS(r) : -1,
	       (unsigned long)ds.shm_nattch);
	if (shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
		die("cleanup");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fork") == 0)
		return forks((pid_t)atol(argv[2]), atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "timeout") == 0)
		return timeouts((pid_t)atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "detach") == 0)
		return detach((pid_t)atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "grandchild") == 0)
		return grandchild((pid_t)atol(argv[2]));
	fprintf(stderr, "usage: frozen fork DAEMON N | timeout DAEMON | "
		"detach DAEMON | grandchild DAEMON\n");
	return 2;
}
