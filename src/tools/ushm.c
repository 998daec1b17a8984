/*
 * ushm.c - the ushm command: global options, then one subcommand.
 *
 *   ushm [--kernel] ls|ipcs      list segments exactly as ipcs -m does
 *   ushm [--kernel] rm FLAGS     remove segments, flags as ipcrm's
 *   ushm [--kernel] stat|mk|cat|write|top   one segment; make, read,
 *                                write one; watch them all
 *   ushm daemon start|stop|restart|status    the per-user daemon
 */
#include "ushm_cli.h"

#include <getopt.h>
#include <string.h>

enum { OPT_KERNEL = 256, OPT_HELP, OPT_VERSION };

static const char usage_text[] =
"Usage: ushm [--kernel] COMMAND [ARGS...]\n"
"\n"
"Administer the System V shared memory segments that ushmd keeps.\n"
"\n"
"Commands:\n"
"  ls, ipcs        list the segments in the format of ipcs -m\n"
"  rm              remove segments (-m ID, -M KEY, -a, as ipcrm)\n"
"  mk              create a segment (-M SIZE, -p MODE, as ipcmk)\n"
"  stat ID         one segment in full, with the processes holding it\n"
"  cat ID          a segment's bytes (--hex: as hexdump -C)\n"
"  write ID        standard input into a segment\n"
"  top             a live view of the segments and their holders\n"
"  daemon start    start the per-user daemon (stop, restart, status)\n"
"\n"
"Options:\n"
"  --kernel        operate on the kernel's own SysV segments, for\n"
"                  comparison (all but daemon)\n"
"  -h, --help      show this help and exit\n"
"  -V, --version   show the version (of the library it runs on) and exit\n"
"\n"
"The daemon is the one $USHM_SOCKET names, else the system daemon\n"
"(/run/ushm/ushmd.sock: always for root, for others when it answers),\n"
"else the per-user one.\n"
"Run 'ushm COMMAND --help' for the options of a command.\n"
"\n"
"Exit status: 0 success, 1 no such segment or no daemon, 2 usage error,\n"
"3 permission denied, 4 any other error.\n";

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	int kernel_ok;		/* meaningful with --kernel */
};

static const struct command commands[] = {
	{ "ls", cmd_ls, 1 },
	{ "ipcs", cmd_ls, 1 },
	{ "rm", cmd_rm, 1 },
	{ "daemon", cmd_daemon, 0 },
	{ "stat", cmd_stat, 1 },
	{ "mk", cmd_mk, 1 },
	{ "cat", cmd_cat, 1 },
	{ "write", cmd_write, 1 },
	{ "top", cmd_top, 1 },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kernel", no_argument, NULL, OPT_KERNEL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = {
		.be = &backend_ushm,
		.cmd = NULL,
		.out = stdout,
		.err = stderr,
	};
	const struct command *cmd;
	int c;

	opterr = 0;
	/* '+': the first non-option is the subcommand; what follows is its. */
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			cli.be = &backend_kernel;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli.out);
			return cli_finish_output(&cli, EXIT_OK);
		case 'V':
		case OPT_VERSION:
			fprintf(cli.out, "ushm %s\n", ushm_version());
			return cli_finish_output(&cli, EXIT_OK);
		default:
			return cli_bad_option(&cli, c, argv, longopts);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&cli, "no command given");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return cli_usage_error(&cli, "unknown command '%s'",
				       argv[optind]);
	cli.cmd = argv[optind];
	if (cli.be == &backend_kernel && !cmd->kernel_ok)
		return cli_usage_error(&cli, "--kernel does not apply to %s",
				       cmd->name);
	return cmd->run(&cli, argc - optind, argv + optind);
}
