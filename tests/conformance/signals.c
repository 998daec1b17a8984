/*
 * signals.c - the kernel's shm calls create no children or threads,
 * touch no signal disposition or mask, and are never interrupted: a
 * signal handler without SA_RESTART firing all the time changes nothing.
 */
#include "conf.h"

#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

static volatile sig_atomic_t ticks, chld, handled, forked;
static int handler_seg;
/* A handler's child that returns into the program (resumed_child), and
 * how many such children ended badly; the second thread's stop. */
static volatile sig_atomic_t in_resumed_child, resumed_bad, loop_stop;
static volatile sig_atomic_t children_return;
/* The program forks too, each round (program_loop), and the handler
 * forks only while the program is inside its own fork. */
static volatile sig_atomic_t program_forks, in_program_fork;
/* The program changes its effective gid every round (as root), so that
 * each of its calls connects anew; how many times the handler forks. */
static volatile sig_atomic_t reconnects, round_now, round_forked;
static int handler_forks;

static void
on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void
on_chld(int sig)
{
	(void)sig;
	chld++;
}

static int
threads_now(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("fopen(/proc/self/status)");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static const char *
disposition(int sig)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, &sa) != 0)
		die("sigaction");
	if (sa.sa_handler == SIG_DFL)
		return "default";
	if (sa.sa_handler == SIG_IGN)
		return "ignored";
	return "handled";
}

/* The very first calls of the process, and what they leave behind. */
static void
side_effects(void)
{
	sigset_t before, after;
	struct sigaction sa;
	int st;

	if (sigprocmask(SIG_SETMASK, NULL, &before) != 0)
		die("sigprocmask");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		die("sigaction");
	say("first calls of the process: %s", yesno(conf_round_trip()));
	say("waitpid(-1, WNOHANG): %s", R(waitpid(-1, &st, WNOHANG)));
	say("threads: %d", threads_now());
	say("SIGCHLD received: %d", chld);
	if (sigprocmask(SIG_SETMASK, NULL, &after) != 0)
		die("sigprocmask");
	int same = 1;

	for (int s = 1; s < NSIG; s++)
		if (sigismember(&before, s) != sigismember(&after, s))
			same = 0;
	say("signal mask unchanged: %s", yesno(same));
	say("SIGPIPE %s, SIGCHLD %s, SIGSEGV %s, SIGBUS %s, SIGUSR1 %s, "
	    "SIGTERM %s", disposition(SIGPIPE), disposition(SIGCHLD),
	    disposition(SIGSEGV), disposition(SIGBUS), disposition(SIGUSR1),
	    disposition(SIGTERM));
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		die("sigaction");
}

/* Calls with every signal blocked. */
static void
blocked(void)
{
	sigset_t all, old;

	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old) != 0)
		die("sigprocmask");
	say("every signal blocked: calls work: %s", yesno(conf_round_trip()));
	if (sigprocmask(SIG_SETMASK, &old, NULL) != 0)
		die("sigprocmask");
}

/* A timer interrupting all the time, handler without SA_RESTART. */
static void
interrupted(void)
{
	struct sigaction sa;
	struct sigevent ev;
	struct itimerspec its;
	timer_t timer;
	int failures = 0, rounds = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction");
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0)
		die("timer_create");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 20000;
	its.it_interval.tv_nsec = 20000;
	if (timer_settime(timer, 0, &its, NULL) != 0)
		die("timer_settime");
	/* Until enough signals have landed (or many rounds). */
	while ((ticks < 200 || rounds < 200) && rounds < 20000) {
		failures += !conf_round_trip();
		rounds++;
	}
	memset(&its, 0, sizeof(its));
	if (timer_settime(timer, 0, &its, NULL) != 0)
		die("timer_settime");
	timer_delete(timer);
	say("calls under a 20us interval timer: failures %d", failures);
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction");
}

/* A handler that makes the calls itself: a shmat, an IPC_STAT and a
 * shmdt.  (Not async-signal-safe in POSIX; Linux's are system calls.) */
static void
on_tick_calls(int sig)
{
	int e = errno;
	void *p = shmat(handler_seg, NULL, 0);
	struct shmid_ds ds;

	(void)sig;
	if (p != (void *)-1) {
		(void)shmctl(handler_seg, IPC_STAT, &ds);
		(void)shmdt(p);
	}
	handled++;
	errno = e;
}

/* The timer of the tests below, which a handler may stop. */
static timer_t handler_timer;

/* An attachment its holder marked MADV_DONTFORK: a child does not
 * have it. */
static void *unforked_at;

/* A handler's child that returned into the program ends here, after a
 * few calls of its own: its status says whether any failed.  It has no
 * copy of the attachment marked MADV_DONTFORK: shmdt of it is EINVAL. */
static void
resumed_child_end(int failures)
{
	for (int i = 0; i < 3; i++) {
		void *p = shmat(handler_seg, NULL, 0);

		failures += p == (void *)-1 || shmdt(p) != 0;
	}
	if (unforked_at && (shmdt(unforked_at) != -1 || errno != EINVAL))
		failures++;
	_exit(failures != 0);
}

/* The program's loop: shmat, an IPC_SET that changes nothing (a call
 * that always waits for the daemon's answer, and may be made twice),
 * shmdt; counting failures, until stopped. */
static int
program_loop(volatile sig_atomic_t *count, int want)
{
	int failures = 0, rounds = 0;

	while (*count < want && rounds < 20000 && !loop_stop) {
		void *p;
		struct shmid_ds ds;

		if (reconnects) {
			/* Only a call that connects (not root: nothing
			 * changes, and it does not). */
			(void)!setegid((gid_t)(rounds & 1));
			failures += shmctl(handler_seg, IPC_STAT, &ds) != 0 ||
				    shmctl(handler_seg, IPC_SET, &ds) != 0;
			rounds++;
			round_now = rounds;
			if (in_resumed_child)
				resumed_child_end(failures);
			continue;
		}
		p = shmat(handler_seg, NULL, 0);

		failures += p == (void *)-1 ||
			    shmctl(handler_seg, IPC_STAT, &ds) != 0 ||
			    shmctl(handler_seg, IPC_SET, &ds) != 0 ||
			    shmdt(p) != 0;
		if (program_forks) {
			pid_t c, w = -1;

			in_program_fork = 1;
			c = fork();
			in_program_fork = 0;
			if (c == 0)
				_exit(0);
			/* (A handler's child that returned into this fork,
			 * or into this wait, has its parent's child: not one
			 * it may wait for.) */
			if (c > 0 && !in_resumed_child)
				w = waitpid(c, NULL, 0);
			if (!in_resumed_child)
				failures += c < 0 || w != c;
		}
		rounds++;
		if (in_resumed_child)
			resumed_child_end(failures);
	}
	return failures;
}

static volatile sig_atomic_t *other_count;
static int other_want, other_failures;

static void *
other_thread(void *arg)
{
	sigset_t usr1;

	(void)arg;
	other_failures = program_loop(other_count, other_want);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	(void)pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (in_resumed_child) /* (forked between the loop and the mask) */
		resumed_child_end(0);
	return NULL;
}

/*
 * A child runs the program's loop (shmat, shmdt) under a timer whose
 * handler fires every interval_ns, until *count reaches want (or 20,000
 * rounds), and says how it went ("WHAT: the program's failures N, DID:
 * yes").  With two_threads, a second thread runs the loop too: the
 * handler then often interrupts a thread that waits for the library
 * while the other is in it.  The parent waits for the child at most 30 s
 * (a hang is a finding, not a stalled suite), then shows nattch.
 */
static void
under_handler(void (*handler)(int), long interval_ns,
	      volatile sig_atomic_t *count, int want, int two_threads,
	      const char *what, const char *did)
{
	int done[2];
	pid_t pid;

	handler_seg = mkseg(IPC_PRIVATE, 4096, 0600);
	xpipe(done);
	pid = xfork();
	if (pid == 0) {
		struct sigaction sa;
		struct sigevent ev;
		struct itimerspec its;
		pthread_t other;
		int failures;

		/* A group of its own, with the handler's children: all of
		 * them are killed if it does not end. */
		(void)setpgid(0, 0);
		close(done[0]);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = handler;
		sa.sa_flags = SA_RESTART;
		memset(&ev, 0, sizeof(ev));
		ev.sigev_notify = SIGEV_SIGNAL;
		ev.sigev_signo = SIGUSR1;
		memset(&its, 0, sizeof(its));
		its.it_value.tv_nsec = interval_ns;
		its.it_interval.tv_nsec = interval_ns;
		other_count = count;
		other_want = want;
		unforked_at = shmat(handler_seg, NULL, 0);
		if (unforked_at == (void *)-1 ||
		    madvise(unforked_at, 4096, MADV_DONTFORK) != 0)
			_exit(3);
		if (sigaction(SIGUSR1, &sa, NULL) != 0 ||
		    timer_create(CLOCK_MONOTONIC, &ev, &handler_timer) != 0 ||
		    (two_threads &&
		     pthread_create(&other, NULL, other_thread, NULL) != 0) ||
		    timer_settime(handler_timer, 0, &its, NULL) != 0)
			_exit(3);
		failures = program_loop(count, want);
		/* No handler here from now on: a child returning into what
		 * follows would wait for a thread it does not have. */
		{
			sigset_t usr1;

			sigemptyset(&usr1);
			sigaddset(&usr1, SIGUSR1);
			(void)pthread_sigmask(SIG_BLOCK, &usr1, NULL);
		}
		if (in_resumed_child)
			resumed_child_end(failures);
		if (reconnects)
			(void)!setegid(0);
		loop_stop = 1;
		memset(&its, 0, sizeof(its));
		(void)timer_settime(handler_timer, 0, &its, NULL);
		if (two_threads && pthread_join(other, NULL) != 0)
			_exit(3);
		say("%s: the program's failures %d, %s: %s", what,
		    failures + other_failures, did, yesno(*count > 0));
		if (children_return)
			say("%s: children that failed: %d", what,
			    (int)resumed_bad);
		xwrite1(done[1]);
		_exit(0);
	}
	(void)setpgid(pid, pid); /* (whichever of the two runs first) */
	close(done[1]);
	struct pollfd pfd = { done[0], POLLIN, 0 };

	if (poll(&pfd, 1, 30000 * conf_time_scale()) != 1) {
		say("%s: no end in 30 s", what);
		kill(-pid, SIGKILL);
	}
	say("child: %s", wstatus(xwait(pid)));
	say("after it: nattch %lu", (unsigned long)nattch(handler_seg));
	close(done[0]);
	rmseg(handler_seg);
}

/*
 * The timer, whose handler makes calls of its own while the program is
 * in the middle of one: on Linux they are served.  The library may
 * refuse them (it cannot serve a call in the middle of another in the
 * same thread), but never waits for ever, and the program's calls and
 * the counts stay right.
 */
static void
calls_in_handler(void)
{
	under_handler(on_tick_calls, 200000, &handled, 200, 0,
		      "calls interrupted by a handler that calls too",
		      "handler ran");
}

#define HANDLER_FORKS 100

/* A handler that forks, as a crash reporter does to run a debugger: the
 * child ends at once (or, with children_return, returns into the
 * program: see fork_in_handler_resumed), and the handler waits for it.
 * (fork is async-signal-safe in POSIX.)  It stops the timer after the
 * last: a fork may take longer than the interval (a sanitizer's), and
 * the next signal would then come before the program runs again. */
static void
on_tick_fork(int sig)
{
	int e = errno, st;
	pid_t pid;

	(void)sig;
	/* None once the program's loops end: a child returning into what
	 * follows them would end by exit(), not by resumed_child_end. */
	if (loop_stop || forked >= handler_forks ||
	    (program_forks && !in_program_fork))
		return;
	/* One fork a round at most: each lands where the signal found the
	 * program, not where the last left it (the next signal is pending
	 * when a handler that forked returns). */
	if (reconnects && round_forked == round_now + 1)
		return;
	round_forked = round_now + 1;
	pid = fork();
	if (pid == 0 && !children_return)
		_exit(0);
	if (pid == 0) {
		in_resumed_child = 1;
		return;
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid) {
		resumed_bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		if (++forked >= handler_forks) {
			struct itimerspec none;

			memset(&none, 0, sizeof(none));
			(void)timer_settime(handler_timer, 0, &none, NULL);
		}
	}
	errno = e;
}

/* under_handler with on_tick_fork, its counts started afresh: at most
 * max forks, a signal every interval_ns. */
static void
forking_handler(long interval_ns, int max, int two_threads, const char *what)
{
	handler_forks = max;
	forked = 0;
	resumed_bad = 0;
	loop_stop = 0;
	under_handler(on_tick_fork, interval_ns, &forked, max, two_threads,
		      what, "handler forked");
	handler_forks = HANDLER_FORKS;
}

/*
 * The timer, whose handler forks while the program is in the middle of
 * a call: Linux forks.  The library cannot run its fork protocol then
 * (the interrupted call holds its lock) but must not wait for ever; the
 * program's calls and the counts stay right.
 */
static void
fork_in_handler(void)
{
	forking_handler(500000, HANDLER_FORKS, 0,
			"calls interrupted by a handler that forks");
}

/*
 * The same, but the child returns from the handler into the program
 * (into the interrupted call, often), makes a few calls and exits: POSIX
 * lets a single-threaded program's child do that.  Then with a second
 * thread, whose calls hold the library's lock while the handler's thread
 * waits for it: the child must not inherit a lock that a thread it does
 * not have holds.  (Its thread returns into the program: not a thing
 * POSIX lets a multithreaded program's child do, but Linux's calls
 * survive it.)
 */
static void
fork_in_handler_resumed(void)
{
	children_return = 1;
	for (int threads = 1; threads <= 2; threads++)
		forking_handler(500000, HANDLER_FORKS, threads == 2,
				threads == 1 ? "a handler's children that "
					       "return into the program" :
					       "the same, with a second thread");
}

/*
 * The same while the program forks too, each round, and the handler
 * forks only inside the program's fork: a signal that comes while the
 * kernel makes the child is handled as the program's fork returns in the
 * parent, between the library's fork handlers (its lock held, the
 * child's connection prepared).  The handler's child ends at once, then
 * returns into the program's fork (whose child is not its own to wait
 * for).
 */
static void
fork_in_handler_in_fork(void)
{
	program_forks = 1;
	for (int ret = 0; ret <= 1; ret++) {
		children_return = ret;
		forking_handler(500000, HANDLER_FORKS, 0,
				ret ? "a handler's children that return into "
				      "the program's fork" :
				      "a handler that forks inside the "
				      "program's fork");
	}
	program_forks = 0;
	children_return = 0;
}

/*
 * The same while the program changes its effective gid every round (as
 * root; otherwise nothing changes): each of its calls then makes a new
 * connection, and the handler forks in the middle of one, between the
 * socket's making and its connect too.  Then the two processes share a
 * socket that neither has connected yet: the second to connect is told
 * EISCONN, which must not be the call's answer.  3,000 forks, at a
 * signal every 37 us, and nothing but calls that connect: that window
 * is a few system calls wide (before the fix, 5 of 10 runs differed).
 */
static void
fork_in_handler_reconnecting(void)
{
	children_return = 1;
	reconnects = 1;
	round_now = 0;
	round_forked = 0;
	forking_handler(37000, 3000, 0,
			"a handler's children that return while the program "
			"connects anew");
	reconnects = 0;
	children_return = 0;
}

int
main(void)
{
	/* Nothing before the first shm call but what conf_init needs. */
	conf_init();
	side_effects();
	blocked();
	interrupted();
	calls_in_handler();
	fork_in_handler();
	fork_in_handler_resumed();
	fork_in_handler_in_fork();
	fork_in_handler_reconnecting();
	return 0;
}
