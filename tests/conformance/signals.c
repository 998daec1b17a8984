/*
 * signals.c - the kernel's shm calls create no children or threads,
 * touch no signal disposition or mask, and are never interrupted: a
 * signal handler without SA_RESTART firing all the time changes nothing.
 */
#include "conf.h"

#include <time.h>

static volatile sig_atomic_t ticks, chld;

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

int
main(void)
{
	/* Nothing before the first shm call but what conf_init needs. */
	conf_init();
	side_effects();
	blocked();
	interrupted();
	return 0;
}
