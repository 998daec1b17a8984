/*
 * spawn.c - start a per-user daemon when none answers.
 *
 * Starters serialise on a lock file beside the socket, so that two
 * processes racing to start a daemon get one: the second finds the first
 * one's daemon answering once it holds the lock.  The daemon detaches
 * itself and writes one byte on a pipe once it accepts clients.
 *
 * The kernel's shm calls make no child, so ours must not show one: the
 * program would get a SIGCHLD, or reap it in its own wait().  A child
 * that execs always signals its parent when it exits (Linux resets its
 * exit signal), so the daemon is started by a grandchild: a clone()
 * child with no exit signal, which only __WCLONE waits see, starts it
 * and exits at once, leaving it to init.  Both share our memory until
 * they exec or exit (like vfork; like posix_spawn, no fork handlers run,
 * so this is safe in threaded programs).
 */
#define _GNU_SOURCE
#include "client.h"
#include "../common/paths.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000

/* The clone children below run on a stack of ours that AddressSanitizer
 * knows nothing of (CLONE_VM, yet no thread): its bookkeeping before a
 * no-return call (_exit) would take the distance to the real stack for
 * its size and warn.  They only make system calls, nothing to check. */
#define NO_ASAN __attribute__((no_sanitize_address))

extern char **environ;

/* ushmd beside us: $USHM_DAEMON, else ../bin/ushmd from the directory of
 * the library (or program) this code is in, else the install path, else
 * $PATH.  Returns 1 when path must be searched in $PATH, -1 when there
 * is nothing a privileged process may run.
 *
 * A privileged process (setuid, setgid, capabilities) runs only what its
 * own installation put beside it: the environment (USHM_DAEMON, PATH) is
 * the unprivileged caller's to choose, and the daemon runs with the
 * privileges. */
/* In a privileged process: is path a program only root (or the
 * effective user) can have put there, in a directory only they write? */
static int installed(const char *path)
{
	char dir[4096];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? dirname(dir) : path;

		if (stat(p, &st) < 0 || (st.st_mode & 022) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()))
			return 0;
	}
	return 1;
}

/* May this process run path as its daemon? */
static int runnable(const char *path)
{
	if (access(path, X_OK) != 0)
		return 0;
	return !ushm__privileged() || (path[0] == '/' && installed(path));
}

static int daemon_path(char *path, size_t len)
{
	const char *env = ushm__env("USHM_DAEMON");
	Dl_info info;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return 0;
	}
	if (dladdr((void *)daemon_path, &info) && info.dli_fname) {
		char self[4096];

		snprintf(self, sizeof(self), "%s", info.dli_fname);
		snprintf(path, len, "%s/../bin/ushmd", dirname(self));
		if (runnable(path))
			return 0;
	}
#ifdef USHM_BINDIR
	snprintf(path, len, "%s/ushmd", USHM_BINDIR);
	if (runnable(path))
		return 0;
#endif
	snprintf(path, len, "ushmd");
	return ushm__privileged() ? -1 : 1;
}

/* The daemon must not inherit the preload shim: it is the kernel, not a
 * client.  A privileged process passes nothing of its caller's
 * environment on to a daemon that runs with its privileges. */
static char **daemon_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (!ushm__privileged() && environ && environ[n])
		n++; /* environ is NULL after clearenv() */
	env = malloc((n + 1) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
}

struct child_args {
	char *stack;   /* the grandchild's */
	const char *path;
	char **argv;
	char **envp;
	int search;
	int readyfd;
	int drop_real; /* privileged: become the effective ids wholly */
	const char *search_path; /* $PATH, for a search */
	sigset_t mask; /* the caller's, restored before exec */
};

/*
 * execve by system call: the shim's execve (exec.c) would put LD_PRELOAD
 * back into the daemon's environment.  A search walks a->search_path
 * (PATH, read before the clone) with the name on our stack.
 */
static NO_ASAN void exec_direct(const struct child_args *a)
{
	const char *p = a->search_path;
	char full[4096];

	if (!a->search) {
		syscall(SYS_execve, a->path, a->argv, a->envp);
		return;
	}
	while (p && *p) {
		size_t n = strcspn(p, ":");

		if (n + strlen(a->path) + 2 <= sizeof(full)) {
			memcpy(full, p, n);
			full[n] = '/';
			strcpy(full + n + 1, a->path);
			syscall(SYS_execve, n ? full : a->path, a->argv,
				a->envp);
		}
		p += n + (p[n] == ':');
	}
}

/*
 * The clone child: runs in our memory with every signal blocked, so
 * before unblocking it resets handlers to the default (a handler of the
 * program must not run here).  Only async-signal-safe calls.
 */
static NO_ASAN int child_main(void *p)
{
	struct child_args *a = p;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;

		if (sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN && old.sa_handler != SIG_DFL)
			sigaction(sig, &dfl, NULL);
	}
	sigprocmask(SIG_SETMASK, &a->mask, NULL);
	if (dup2(a->readyfd, 3) < 0)
		_exit(126);
	/* A setuid program's daemon must not stay the real user's to
	 * signal or trace.  Raw system calls: glibc's wrappers would try to
	 * change every thread of the process whose memory we share. */
	if (a->drop_real &&
	    (syscall(SYS_setresgid, getegid(), getegid(), getegid()) < 0 ||
	     syscall(SYS_setresuid, geteuid(), geteuid(), geteuid()) < 0))
		_exit(126);
	exec_direct(a);
	_exit(127);
}

#define STACK_SIZE (64 * 1024)

/* The child: starts the grandchild (which execs the daemon) and exits
 * without a signal.  Its exit status says whether the clone worked. */
static NO_ASAN int middle_main(void *p)
{
	struct child_args *a = p;

	if (clone(child_main, a->stack + STACK_SIZE,
		  CLONE_VM | CLONE_VFORK | SIGCHLD, a) < 0)
		_exit(1);
	_exit(0);
}

/* Starts path as a grandchild.  0 or -errno. */
static int start_daemon_process(struct child_args *a)
{
	char *stack = malloc(2 * STACK_SIZE);
	sigset_t all;
	pid_t pid;
	int st = 0, err;

	if (!stack)
		return -ENOMEM;
	a->stack = stack + STACK_SIZE;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &a->mask);
	/* Exit signal 0: no SIGCHLD.  CLONE_VFORK: we resume once the
	 * child has exited, and by then the grandchild has exec'd. */
	pid = clone(middle_main, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK, a);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &a->mask, NULL);
	if (pid > 0)
		while (waitpid(pid, &st, __WCLONE) < 0 && errno == EINTR)
			;
	free(stack);
	if (pid < 0)
		return -err;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EAGAIN;
}

/*
 * Where the clone above is refused (valgrind cannot emulate a CLONE_VM
 * child that is no thread), the daemon is started with posix_spawn as
 * our child after all: the program may then see one SIGCHLD.
 */
static int start_daemon_plain(struct child_args *a)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;

	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawn_file_actions_adddup2(&fa, a->readyfd, 3);
	if (err == 0 && a->search)
		err = posix_spawnp(&pid, a->path, &fa, NULL, a->argv, a->envp);
	else if (err == 0)
		err = posix_spawn(&pid, a->path, &fa, NULL, a->argv, a->envp);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	/* It exits as soon as it has forked the daemon (ECHILD if the
	 * program ignores SIGCHLD). */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Waits up to ms for the daemon's ready byte: 0, or ECONNREFUSED. */
static int wait_ready(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char c;
	int n;

	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	return (n == 1 && read(fd, &c, 1) == 1) ? 0 : ECONNREFUSED;
}

/* Runs ushmd and waits for its ready byte.  0 or -errno. */
static int spawn_daemon(const char *socket_path, const char *state)
{
	char path[4096], readyfd[] = "3";
	struct child_args a;
	int p[2], wfd, err;
	char *argv[] = { "ushmd", "--daemonize", "--socket",
			 (char *)socket_path, "--state", (char *)state,
			 "--ready-fd", readyfd, NULL };

	memset(&a, 0, sizeof(a));
	a.search = daemon_path(path, sizeof(path));
	if (a.search < 0) {
		ushm__say_once(USHM__SAY_NOT_STARTED,
			       "no daemon answers on %s, and a privileged "
			       "program starts only the ushmd installed with "
			       "it (none found): start the daemon first",
			       socket_path);
		return -ECONNREFUSED;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Above the low fds, so that the dup2 onto 3 always makes a copy
	 * without CLOEXEC. */
	wfd = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
	close(p[1]);
	if (wfd < 0) {
		err = -errno;
		close(p[0]);
		return err;
	}
	a.path = path;
	a.argv = argv;
	a.envp = daemon_env();
	a.readyfd = wfd;
	a.drop_real = ushm__privileged();
	a.search_path = getenv("PATH");
	if (!a.search_path)
		a.search_path = "/usr/local/bin:/usr/bin:/bin";
	err = a.envp ? -start_daemon_process(&a) : ENOMEM;
	if (err == 0) {
		/* Our copy closed, a daemon that fails reads as EOF. */
		close(wfd);
		wfd = -1;
		err = wait_ready(p[0], READY_TIMEOUT_MS);
	} else if (err != ENOMEM && !a.drop_real &&
		   wait_ready(p[0], 1000) != 0) {
		/* The clone path reported failure and no daemon came up
		 * (under valgrind it may start one all the same). */
		err = -start_daemon_plain(&a);
		if (err == 0) {
			close(wfd);
			wfd = -1;
			err = wait_ready(p[0], READY_TIMEOUT_MS);
		}
	} else if (err != ENOMEM && !a.drop_real) {
		err = 0;
	}
	if (wfd >= 0)
		close(wfd);
	free(a.envp);
	close(p[0]);
	if (err)
		ushm__say_once(USHM__SAY_NOT_STARTED,
			       "could not start the daemon %s for %s (%s); see "
			       "%s/ushmd.log, start it with 'ushmd', or set "
			       "USHM_DAEMON", path, socket_path, strerror(err),
			       state);
	return -err;
}

/* Explains why the daemon for socket_path cannot be started here. */
static int cannot_start(const char *socket_path, const char *what,
			const char *path, int err)
{
	if (ushm__is_system_socket(socket_path) && geteuid() != 0)
		ushm__say_once(USHM__SAY_NOT_STARTED,
			       "no daemon answers on %s and only root can "
			       "start the system daemon (%s %s: %s): ask root "
			       "to run 'ushmd' or 'systemctl start "
			       "ushmd.socket'", socket_path, what, path,
			       strerror(-err));
	else
		ushm__say_once(USHM__SAY_NOT_STARTED,
			       "cannot start a daemon for %s: %s %s: %s; fix "
			       "that directory or set USHM_SOCKET (and "
			       "USHM_STATE_DIR) to places you may write",
			       socket_path, what, path, strerror(-err));
	return err;
}

int ushm__autostart(const char *socket_path, const char *state)
{
	const char *v = ushm__env("USHM_AUTOSTART");
	char dir[4096], lock[4200], why[512];
	int fd, lfd, err;

	if (v && strcmp(v, "0") == 0)
		return -ECONNREFUSED;
	snprintf(dir, sizeof(dir), "%s", socket_path);
	err = ushm__mkdir_socket_dir(socket_path);
	if (err < 0)
		return cannot_start(socket_path, "making", dirname(dir), err);
	/* Segments of ours never go where someone else could reach; a
	 * place the user named is theirs to judge. */
	if (!ushm__env("USHM_STATE_DIR") &&
	    ushm__check_dir(state, why, sizeof(why)) < 0) {
		ushm__say_once(USHM__SAY_UNSAFE_DIR, "%s", why);
		return -EACCES;
	}
	snprintf(lock, sizeof(lock), "%s.start", socket_path);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return cannot_start(socket_path, "opening", lock, -errno);
	while (flock(lfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err = -errno;
			close(lfd);
			return err;
		}
	}
	/* Someone may have started one while we waited for the lock. */
	fd = ushm__connect(socket_path);
	if (fd >= 0) {
		close(fd);
		err = 0;
	} else {
		err = spawn_daemon(socket_path, state);
	}
	/* Released by name, not by the close alone: a thread of ours may
	 * have forked meanwhile (the client lock is not held while a
	 * daemon starts), and the child's copy of lfd would keep the lock
	 * of their shared open file until it exits or execs. */
	(void)flock(lfd, LOCK_UN); /* (the close below frees it if not) */
	close(lfd);
	return err;
}
