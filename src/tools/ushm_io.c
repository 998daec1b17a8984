/*
 * ushm_io.c - "ushm cat ID" and "ushm write ID": a segment's bytes to
 * stdout (raw, or as hexdump -C with --hex), and stdin into a segment.
 * Both attach the segment like any program would, so permissions and
 * the segment's times follow the SysV rules.
 */
#include "ushm_cli.h"
#include "ushm_dump.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

enum { OPT_HELP = 256, OPT_HEX };

static const char cat_usage[] =
"Usage: ushm cat [--hex] ID\n"
"\n"
"Write the bytes of segment ID to standard output: all of them, raw,\n"
"or as hexdump -C shows them with --hex.  Attaches the segment read-only\n"
"(read permission needed).\n"
"\n"
"Options:\n"
"  -x, --hex       hexadecimal and ASCII, as hexdump -C\n"
"  -h, --help      show this help and exit\n";

static const char write_usage[] =
"Usage: ushm write ID < DATA\n"
"\n"
"Copy standard input into segment ID, from its first byte; the bytes\n"
"after the input keep their contents.  Input longer than the segment is\n"
"an error (what fits is written).  Write permission needed.\n"
"\n"
"Options:\n"
"  -h, --help      show this help and exit\n";

/* The id argument, after the options: ID alone. */
static int one_id(struct cli *cli, int argc, char **argv, int *id)
{
	if (optind >= argc)
		return cli_usage_error(cli, "no segment id given");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind + 1]);
	if (parse_id(argv[optind], id) < 0 || *id < 0)
		return cli_usage_error(cli, "'%s' is not a segment id",
				       argv[optind]);
	return EXIT_OK;
}

/* Attaches id; its size in *size.  NULL after a message. */
static void *attach(struct cli *cli, int id, int rdonly, size_t *size,
		    int *status)
{
	struct shmid_ds ds;
	char ename[32];
	void *p;
	int err;

	p = cli->be->at(id, NULL, rdonly ? SHM_RDONLY : 0);
	if (p == (void *)-1) {
		err = errno;
		if (err == EINVAL || err == EIDRM)
			cli_error(cli, "%d: no such segment (%s)", id,
				  errno_name(err, ename, sizeof(ename)));
		else
			cli_error(cli, "%d: cannot attach: %s (%s)", id,
				  strerror(err),
				  errno_name(err, ename, sizeof(ename)));
		*status = exit_for_errno(err);
		return NULL;
	}
	/* Attaching needed read permission (shmat asks read, or read and
	 * write), so IPC_STAT fails only if the segment just went. */
	if (cli->be->ctl(id, IPC_STAT, &ds) < 0) {
		err = errno;
		cli_error(cli, "%d: cannot read its size: %s (%s)", id,
			  strerror(err), errno_name(err, ename, sizeof(ename)));
		*status = exit_for_errno(err);
		(void)cli->be->dt(p);
		return NULL;
	}
	*size = ds.shm_segsz;
	return p;
}

static int detach(struct cli *cli, void *p, int status)
{
	char ename[32];

	if (cli->be->dt(p) < 0) {
		cli_error(cli, "cannot detach: %s (%s)", strerror(errno),
			  errno_name(errno, ename, sizeof(ename)));
		if (status == EXIT_OK)
			status = EXIT_ERROR;
	}
	return status;
}

static int cat(struct cli *cli, int id, int hex)
{
	size_t size = 0;
	int status = EXIT_OK;
	void *p = attach(cli, id, 1, &size, &status);

	if (!p)
		return status;
	if (hex)
		hexdump(cli->out, p, size);
	else if (fwrite(p, 1, size, cli->out) != size)
		status = EXIT_ERROR;
	status = cli_finish_output(cli, status);
	return detach(cli, p, status);
}

static int write_in(struct cli *cli, int id)
{
	size_t size = 0, done = 0;
	int status = EXIT_OK;
	unsigned char *p = attach(cli, id, 0, &size, &status);
	char extra;
	ssize_t n;

	if (!p)
		return status;
	while (done < size) {
		n = read(STDIN_FILENO, p + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error(cli, "cannot read standard input: %s",
				  strerror(errno));
			return detach(cli, p, EXIT_ERROR);
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done == size) {
		do
			n = read(STDIN_FILENO, &extra, 1);
		while (n < 0 && errno == EINTR);
		if (n != 0) {
			cli_error(cli, "%d: the input is longer than the "
				  "segment (%zu bytes; those were written)",
				  id, size);
			status = EXIT_ERROR;
		}
	}
	return detach(cli, p, status);
}

int cmd_cat(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "hex", no_argument, NULL, OPT_HEX },
		{ NULL, 0, NULL, 0 },
	};
	int c, hex = 0, id = -1, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":hx", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(cat_usage, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		case 'x':
		case OPT_HEX:
			hex = 1;
			break;
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	status = one_id(cli, argc, argv, &id);
	return status == EXIT_OK ? cat(cli, id, hex) : status;
}

int cmd_write(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, id = -1, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(write_usage, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	status = one_id(cli, argc, argv, &id);
	return status == EXIT_OK ? write_in(cli, id) : status;
}
