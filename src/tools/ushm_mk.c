/*
 * ushm_mk.c - "ushm mk": create a segment with ipcmk's flags and print
 * its id as ipcmk does ("Shared memory id: N").
 */
#include "ushm_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { OPT_HELP = 256, OPT_SIZE, OPT_MODE };

static const char usage_text[] =
"Usage: ushm mk -M SIZE [-p MODE]\n"
"\n"
"Create a shared memory segment under a random key and print its id,\n"
"as ipcmk does.\n"
"\n"
"Options:\n"
"  -M, --shmem SIZE     size in bytes; K, M, G, T, P, E (or KiB, MiB...)\n"
"                       multiply by powers of 1024, KB, MB... of 1000\n"
"  -p, --mode MODE      permissions in octal (default 0644)\n"
"  -h, --help           show this help and exit\n";

/* Keys to try before giving up: a collision is one in four billion. */
#define KEY_TRIES 16

/* "4096", "4K", "4KiB", "4KB": bytes in *out.  0, or -1 if malformed. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	const char *u;
	char *end;
	unsigned long long v;
	uint64_t mult = 1, base = 1024;
	int exp;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno)
		return -1;
	if (*end) {
		u = strchr(units, end[0]);
		if (!u || !end[0])
			return -1;
		exp = (int)(u - units) + 1;
		if (strcmp(end + 1, "B") == 0)
			base = 1000;
		else if (end[1] && strcmp(end + 1, "iB") != 0)
			return -1;
		while (exp--)
			mult *= base;
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_mode(const char *s, int *mode)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (end == s || *end || errno || v < 0 || v > 0777)
		return -1;
	*mode = (int)v;
	return 0;
}

static int create(struct cli *cli, uint64_t size, int mode)
{
	char ename[32];
	uint32_t key;
	int id = -1, err = EEXIST;

	if (size > SIZE_MAX) {
		cli_error(cli, "-M %ju: too large (EINVAL)", (uintmax_t)size);
		return EXIT_FAILED;
	}
	for (int i = 0; i < KEY_TRIES && id < 0 && err == EEXIST; i++) {
		if (getrandom(&key, sizeof(key), 0) != sizeof(key)) {
			err = errno;
			break;
		}
		if ((key_t)key == IPC_PRIVATE)
			continue;
		id = cli->be->get((key_t)key, (size_t)size,
				  IPC_CREAT | IPC_EXCL | mode);
		err = id < 0 ? errno : 0;
	}
	if (id < 0) {
		cli_error(cli, "cannot create a segment of %ju bytes: %s (%s)",
			  (uintmax_t)size, strerror(err),
			  errno_name(err, ename, sizeof(ename)));
		return exit_for_errno(err) == EXIT_DENIED ? EXIT_DENIED
							   : EXIT_ERROR;
	}
	fprintf(cli->out, "Shared memory id: %d\n", id);
	return cli_finish_output(cli, EXIT_OK);
}

int cmd_mk(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "shmem", required_argument, NULL, OPT_SIZE },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 0;
	int c, mode = 0644, have_size = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:hM:p:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		case 'M':
		case OPT_SIZE:
			if (parse_size(optarg, &size) < 0)
				return cli_usage_error(cli, "-M: '%s' is not "
						       "a size", optarg);
			have_size = 1;
			break;
		case 'p':
		case OPT_MODE:
			if (parse_mode(optarg, &mode) < 0)
				return cli_usage_error(cli, "-p: '%s' is not "
						       "an octal mode", optarg);
			break;
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	if (!have_size)
		return cli_usage_error(cli, "no size given (-M SIZE)");
	return create(cli, size, mode);
}
