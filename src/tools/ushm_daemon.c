/*
 * ushm_daemon.c - "ushm daemon start|stop|restart|status": talk to the
 * daemon about itself.  Only start and restart ever start one.
 */
#define _GNU_SOURCE
#include "ushm_cli.h"
#include "../common/procfs.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ushm.h>

enum { OPT_HELP = 256 };

/* How long "stop" waits for the daemon to be gone, and how often it looks. */
#define STOP_WAIT_MS	10000
#define STOP_POLL_MS	20

static const char usage_text[] =
"Usage: ushm daemon start|stop|restart|status\n"
"\n"
"start   start the daemon unless one runs, and print its pid\n"
"        (the daemon is the one the library would autostart: $USHM_DAEMON,\n"
"        else ushmd beside the library, else in PATH)\n"
"restart stop the daemon if one runs, then start one; segments survive\n"
"status  print what the daemon says about itself, one 'name: value' per\n"
"        line (pid, proto_version, segments, connections, open_fds,\n"
"        orphans, started in seconds since the epoch, socket_path,\n"
"        state_dir), then the requests it served since it started, one\n"
"        'served_KIND: count' line each (shmget, shmat, shmat_undo,\n"
"        shmdt, shmctl, registered, hello, forked, status, stop,\n"
"        holders, table, shmat_kept); exit 1 when no daemon runs\n"
"stop    ask the daemon to exit and wait until it has; its segments and\n"
"        their contents are kept, and the next daemon recovers them\n"
"\n"
"The daemon is the one $USHM_SOCKET names, else the system daemon\n"
"(/run/ushm/ushmd.sock: always for root, for others when it answers),\n"
"else the per-user one.\n"
"\n"
"Options:\n"
"  -h, --help      show this help and exit\n";

static int not_running(int err)
{
	return err == ECONNREFUSED || err == ENOENT;
}

/* "no daemon is running (socket PATH)", naming the socket if we can. */
static int report_none(const struct cli *cli)
{
	char path[4096];

	if (ushm_socket_path(path, sizeof(path)) == 0)
		cli_error(cli, "no daemon is running (socket %s)", path);
	else
		cli_error(cli, "no daemon is running");
	return EXIT_FAILED;
}

static int report(const struct cli *cli, const char *what, int err)
{
	char ename[32];

	if (not_running(err))
		return report_none(cli);
	if (err == EPROTO)
		cli_error(cli, "%s: the daemon speaks another protocol "
			  "version (EPROTO)", what);
	else
		cli_error(cli, "%s: %s (%s)", what, strerror(err),
			  errno_name(err, ename, sizeof(ename)));
	return exit_for_errno(err) == EXIT_DENIED ? EXIT_DENIED : EXIT_ERROR;
}

/* The counters as "served_KIND: N" lines, in the order of the struct. */
static void print_counters(FILE *out, const struct ushm_daemon_counters *c)
{
	const struct {
		const char *name;
		uint64_t n;
	} v[] = {
		{ "shmget", c->shmget },   { "shmat", c->shmat },
		{ "shmat_undo", c->shmat_undo }, { "shmdt", c->shmdt },
		{ "shmctl", c->shmctl },   { "registered", c->registered },
		{ "hello", c->hello },     { "forked", c->forked },
		{ "status", c->status },   { "stop", c->stop },
		{ "holders", c->holders }, { "table", c->table },
		{ "shmat_kept", c->shmat_kept },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		fprintf(out, "served_%s: %" PRIu64 "\n", v[i].name, v[i].n);
}

static int status(const struct cli *cli)
{
	struct ushm_daemon_info info;
	struct ushm_daemon_counters counters;
	FILE *out = cli->out;

	memset(&info, 0, sizeof(info));
	if (ushm_daemon_status(&info) < 0)
		return report(cli, "cannot get the status", errno);
	memset(&counters, 0, sizeof(counters));
	if (ushm_daemon_counters(&counters) < 0)
		return report(cli, "cannot get the counters", errno);
	/* The fields may not be NUL-terminated if the daemon filled them. */
	fprintf(out, "pid: %jd\n", (intmax_t)info.pid);
	fprintf(out, "proto_version: %" PRIu32 "\n", info.proto_version);
	fprintf(out, "segments: %" PRIu64 "\n", info.segments);
	fprintf(out, "connections: %" PRIu64 "\n", info.connections);
	fprintf(out, "open_fds: %" PRIu64 "\n", info.open_fds);
	fprintf(out, "orphans: %" PRIu64 "\n", info.orphans);
	fprintf(out, "started: %" PRId64 "\n", info.started);
	fprintf(out, "socket_path: %.*s\n", (int)sizeof(info.socket_path),
		info.socket_path);
	fprintf(out, "state_dir: %.*s\n", (int)sizeof(info.state_dir),
		info.state_dir);
	print_counters(out, &counters);
	return cli_finish_output(cli, EXIT_OK);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* An early wake-up only means one more look at the daemon. */
	(void)nanosleep(&ts, NULL);
}

/* Does process pid still run?  A zombie has ended (where nothing reaps
 * it, it stays one); a process we may not signal (EPERM) still runs. */
static int still_runs(pid_t pid)
{
	char state;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	return ushm__proc_stat(pid, &state, NULL) == 0 && state != 'Z' &&
	       state != 'X';
}

/*
 * Asks the daemon to exit, then waits until it no longer answers and its
 * process has ended (a sanitizer build still runs its exit checks after
 * closing the socket), so that a script can rely on it being gone when
 * we return.  A daemon
 * that answers with another pid is a new one that someone's call
 * autostarted: ours is gone all the same.
 */
static int stop(const struct cli *cli)
{
	struct ushm_daemon_info before, now;
	long waited;

	memset(&before, 0, sizeof(before));
	if (ushm_daemon_status(&before) < 0)
		return report(cli, "cannot reach the daemon", errno);
	if (ushm_daemon_stop() < 0)
		return report(cli, "cannot stop the daemon", errno);
	for (waited = 0; waited < STOP_WAIT_MS; waited += STOP_POLL_MS) {
		if (ushm_daemon_status(&now) < 0) {
			int err = errno;

			if (!not_running(err))
				return report(cli, "cannot watch the daemon "
					      "stop", err);
			if (!still_runs(before.pid))
				return EXIT_OK;
			sleep_ms(STOP_POLL_MS);
			continue;
		}
		if (now.pid != before.pid)
			return EXIT_OK;
		sleep_ms(STOP_POLL_MS);
	}
	cli_error(cli, "asked daemon %jd to stop, but it still runs after "
		  "%d s", (intmax_t)before.pid, STOP_WAIT_MS / 1000);
	return EXIT_ERROR;
}

/*
 * Starts a daemon the way a program's first call would: any request
 * autostarts one (USHM_AUTOSTART forced on, since that is what was
 * asked for), and the library already serialises racing starters.
 */
static int start(const struct cli *cli)
{
	struct ushm_daemon_info info;
	struct shminfo lim;

	memset(&info, 0, sizeof(info));
	if (ushm_daemon_status(&info) == 0) {
		fprintf(cli->out, "ushmd already running (pid %jd)\n",
			(intmax_t)info.pid);
		return cli_finish_output(cli, EXIT_OK);
	}
	if (!not_running(errno))
		return report(cli, "cannot reach the daemon", errno);
	if (setenv("USHM_AUTOSTART", "1", 1) < 0)
		return report(cli, "cannot start the daemon", errno);
	if (ushm_ctl(0, IPC_INFO, (struct shmid_ds *)(void *)&lim) < 0 ||
	    ushm_daemon_status(&info) < 0) {
		int err = errno;

		if (not_running(err)) {
			cli_error(cli, "the daemon did not start (see its log, "
				  "or run ushmd --foreground)");
			return EXIT_ERROR;
		}
		return report(cli, "cannot start the daemon", err);
	}
	fprintf(cli->out, "ushmd started (pid %jd)\n", (intmax_t)info.pid);
	return cli_finish_output(cli, EXIT_OK);
}

int cmd_daemon(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cli named = *cli;
	const char *action;
	int c;

	/*
	 * Options may come before or after the action ("daemon --help",
	 * "daemon status --help"), so let getopt permute the words.
	 */
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "no action given: start, stop, "
				       "restart or status");
	action = argv[optind];
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind + 1]);
	if (strcmp(action, "status") == 0) {
		named.cmd = "daemon status";
		return status(&named);
	}
	if (strcmp(action, "stop") == 0) {
		named.cmd = "daemon stop";
		return stop(&named);
	}
	if (strcmp(action, "start") == 0) {
		named.cmd = "daemon start";
		return start(&named);
	}
	if (strcmp(action, "restart") == 0) {
		struct ushm_daemon_info info;
		int status = EXIT_OK;

		named.cmd = "daemon restart";
		if (ushm_daemon_status(&info) == 0)
			status = stop(&named);
		else if (!not_running(errno))
			return report(&named, "cannot reach the daemon",
				      errno);
		return status == EXIT_OK ? start(&named) : status;
	}
	return cli_usage_error(cli, "unknown action '%s'", action);
}
