/*
 * spawn.c - start a per-user daemon when none answers.
 *
 * Starters serialise on a lock file beside the socket, so that two
 * processes racing to start a daemon get one: the second finds the first
 * one's daemon answering once it holds the lock.  The daemon is started
 * with posix_spawn (no fork handlers run, safe in threaded programs),
 * detaches itself, and writes one byte on a pipe once it accepts clients.
 */
#define _GNU_SOURCE
#include "client.h"
#include "../common/paths.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000

extern char **environ;

/* ushmd beside us: $USHM_DAEMON, else ../bin/ushmd from the directory of
 * the library (or program) this code is in, else the install path, else
 * $PATH.  Returns 1 when path must be searched in $PATH. */
static int daemon_path(char *path, size_t len)
{
	const char *env = getenv("USHM_DAEMON");
	Dl_info info;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return 0;
	}
	if (dladdr((void *)daemon_path, &info) && info.dli_fname) {
		char self[4096];

		snprintf(self, sizeof(self), "%s", info.dli_fname);
		snprintf(path, len, "%s/../bin/ushmd", dirname(self));
		if (access(path, X_OK) == 0)
			return 0;
	}
#ifdef USHM_BINDIR
	snprintf(path, len, "%s/ushmd", USHM_BINDIR);
	if (access(path, X_OK) == 0)
		return 0;
#endif
	snprintf(path, len, "ushmd");
	return 1;
}

/* The daemon must not inherit the preload shim: it is the kernel, not a
 * client. */
static char **daemon_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n]) /* NULL after clearenv() */
		n++;
	env = malloc((n + 1) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
}

/* Runs ushmd and waits for its ready byte.  0 or -errno. */
static int spawn_daemon(const char *socket_path)
{
	char path[4096], state[256], readyfd[] = "3";
	posix_spawn_file_actions_t fa;
	int p[2], wfd, err, search;
	char **env;
	pid_t pid;

	err = ushm__state_dir(state, sizeof(state));
	if (err < 0)
		return err;
	search = daemon_path(path, sizeof(path));
	char *argv[] = { "ushmd", "--daemonize", "--socket",
			 (char *)socket_path, "--state", state, "--ready-fd",
			 readyfd, NULL };
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Above the low fds, so that the dup2 onto 3 below always makes
	 * a copy without CLOEXEC. */
	wfd = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
	close(p[1]);
	if (wfd < 0) {
		err = -errno;
		close(p[0]);
		return err;
	}
	env = daemon_env();
	err = env ? posix_spawn_file_actions_init(&fa) : ENOMEM;
	if (err == 0) {
		err = posix_spawn_file_actions_adddup2(&fa, wfd, 3);
		if (err == 0)
			err = (search ? posix_spawnp : posix_spawn)(
				&pid, path, &fa, NULL, argv, env);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(env);
	close(wfd);
	if (err == 0) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		char c;
		int n;

		do
			n = poll(&pfd, 1, READY_TIMEOUT_MS);
		while (n < 0 && errno == EINTR);
		err = (n == 1 && read(p[0], &c, 1) == 1) ? 0 : ECONNREFUSED;
		/* The first process exits as soon as it has forked the
		 * daemon; reap it (ECHILD if SIGCHLD is ignored). */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(p[0]);
	if (err)
		fprintf(stderr,
			"ushm: could not start the daemon %s for %s (%s); "
			"start it with 'ushmd' or set USHM_DAEMON\n",
			path, socket_path, strerror(err));
	return -err;
}

int ushm__autostart(const char *socket_path)
{
	const char *v = getenv("USHM_AUTOSTART");
	char dir[4096], lock[4200];
	int fd, lfd, err;

	if (v && strcmp(v, "0") == 0)
		return -ECONNREFUSED;
	snprintf(dir, sizeof(dir), "%s", socket_path);
	err = ushm__mkdir_private(dirname(dir));
	if (err < 0)
		return err;
	snprintf(lock, sizeof(lock), "%s.start", socket_path);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return -errno;
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
		err = spawn_daemon(socket_path);
	}
	close(lfd); /* releases the lock */
	return err;
}
