/*
 * ushm_rm.c - "ushm rm": remove segments, with ipcrm's flags.
 *
 * How failures compare with ipcrm (util-linux 2.38), which prints one
 * line per failure and exits 1 for all of them:
 *
 *   situation                 ipcrm                          ushm rm
 *   -m ID, no such id         "invalid id (ID)", 1           EINVAL, 1
 *   -M KEY, no such key       "invalid key (KEY)", 1         ENOENT, 1
 *   not owner nor creator     "permission denied for id      EPERM, 3
 *                              (ID)" (for -M too), 1
 *   -M 0 (IPC_PRIVATE)        "illegal key (0)", 1           usage, 2
 *   ID or KEY not a number    "failed to parse argument", 1  usage, 2
 *   unknown option, stray     usage hint, 1                  usage, 2
 *   argument
 *   other errors (daemon      -                              4
 *   unreachable, ...)
 *   no flag at all            silently exits 0               usage, 2
 *
 * Our messages read "ushm: rm -m 42: no such segment (EINVAL)".  With
 * several failures the exit status is the highest of their codes.
 * Unlike ipcrm, which acts on each flag as it parses it, we check the
 * whole command line first, so a typo removes nothing.  As with ipcrm,
 * IDs are decimal and KEYs are read like C constants (0x hex, leading-0
 * octal, else decimal, may be negative); KEYs beyond 32 bits are refused
 * where ipcrm would quietly truncate them.  -M never matches a segment
 * already removed (SHM_DEST): shmget(2) would not find it either.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_ID = 256, OPT_KEY, OPT_ALL, OPT_HELP };

static const char usage_text[] =
"Usage: ushm [--kernel] rm [-m ID]... [-M KEY]... [-a]\n"
"\n"
"Remove shared memory segments (IPC_RMID), with ipcrm's flags; several\n"
"may be given.  A segment still attached goes once the last process\n"
"detaches it.\n"
"\n"
"Options:\n"
"  -m, --shmem-id ID    remove the segment whose shmid is ID\n"
"  -M, --shmem-key KEY  remove the segment whose key is KEY (0x... hex,\n"
"                       0... octal, or decimal)\n"
"  -a, --all[=shm]      remove every segment\n"
"  -h, --help           show this help and exit\n"
"\n"
"Nothing is removed when the command line has an error.  Exit status:\n"
"0 all removed, 1 no such segment, 2 usage error, 3 permission denied,\n"
"4 any other error; with several failures, the highest.\n";

/* One -m or -M, as given and as parsed. */
struct target {
	int by_key;
	const char *flag;	/* "-m" or "-M", for messages */
	const char *arg;	/* as the user wrote it */
	int id;
	key_t key;
};

struct plan {
	struct target *targets;
	size_t n;
	int all;
};

/* Parses the command line into p; returns -1 after a usage message. */
static int parse(struct cli *cli, int argc, char **argv, struct plan *p,
		 int *status)
{
	static const struct option longopts[] = {
		{ "shmem-id", required_argument, NULL, OPT_ID },
		{ "shmem-key", required_argument, NULL, OPT_KEY },
		{ "all", optional_argument, NULL, OPT_ALL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct target *t;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:m:M:ah", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
		case OPT_ID:
			t = &p->targets[p->n++];
			t->by_key = 0;
			t->flag = "-m";
			t->arg = optarg;
			if (parse_id(optarg, &t->id) < 0) {
				*status = cli_usage_error(cli,
					"-m %s: not a decimal id", optarg);
				return -1;
			}
			break;
		case 'M':
		case OPT_KEY:
			t = &p->targets[p->n++];
			t->by_key = 1;
			t->flag = "-M";
			t->arg = optarg;
			if (parse_key(optarg, &t->key) < 0) {
				*status = cli_usage_error(cli,
					"-M %s: not a 32-bit key", optarg);
				return -1;
			}
			if (t->key == IPC_PRIVATE) {
				*status = cli_usage_error(cli,
					"-M %s: IPC_PRIVATE names no single "
					"segment, use -m", optarg);
				return -1;
			}
			break;
		case 'a':
		case OPT_ALL:
			/* ipcrm's --all=msg|sem mean other IPC kinds. */
			if (optarg && strcmp(optarg, "shm") != 0) {
				*status = cli_usage_error(cli,
					"--all=%s: only shm segments exist "
					"here", optarg);
				return -1;
			}
			p->all = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			*status = cli_finish_output(cli, EXIT_OK);
			return -1;
		default:
			*status = cli_bad_option(cli, c, argv, longopts);
			return -1;
		}
	}
	if (optind < argc) {
		*status = cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
		return -1;
	}
	if (p->n == 0 && !p->all) {
		*status = cli_usage_error(cli, "nothing to remove: give -m, "
					  "-M or -a");
		return -1;
	}
	return 0;
}

static int worse(int a, int b)
{
	return a > b ? a : b;
}

/* Reports why removing what "what" names failed; returns the status. */
static int failed(const struct cli *cli, const char *what, int err)
{
	char ename[32];
	const char *why;

	switch (err) {
	case EINVAL:
	case EIDRM:
	case ENOENT:
		why = "no such segment";
		break;
	case EPERM:
	case EACCES:
		why = "permission denied";
		break;
	default:
		why = strerror(err);
		break;
	}
	cli_error(cli, "%s: %s (%s)", what, why,
		  errno_name(err, ename, sizeof(ename)));
	return exit_for_errno(err);
}

static int remove_id(const struct cli *cli, const char *what, int id)
{
	if (cli->be->ctl(id, IPC_RMID, NULL) < 0)
		return failed(cli, what, errno);
	return EXIT_OK;
}

/*
 * The id of the live segment with key t->key: the one shmget(key, 0, 0)
 * would return.  Scanning (rather than calling shmget) finds it whatever
 * its permissions, as ipcrm does.
 */
static int remove_key(const struct cli *cli, const char *what,
		      const struct target *t)
{
	struct seg_table tab;
	size_t i;
	int id = -1;

	if (collect_segments(cli->be, &tab) < 0)
		return failed(cli, what, errno);
	for (i = 0; i < tab.n; i++) {
		if (tab.segs[i].ds.shm_perm.__key == t->key &&
		    !(tab.segs[i].ds.shm_perm.mode & SHM_DEST)) {
			id = tab.segs[i].shmid;
			break;
		}
	}
	free_segments(&tab);
	if (id < 0)
		return failed(cli, what, ENOENT);
	return remove_id(cli, what, id);
}

static int remove_all(const struct cli *cli)
{
	struct seg_table tab;
	char what[64];
	size_t i;
	int status = EXIT_OK;

	if (collect_segments(cli->be, &tab) < 0)
		return failed(cli, "rm -a", errno);
	for (i = 0; i < tab.n; i++) {
		snprintf(what, sizeof(what), "rm -a: shmid %d",
			 tab.segs[i].shmid);
		status = worse(status, remove_id(cli, what,
						 tab.segs[i].shmid));
	}
	free_segments(&tab);
	return status;
}

static int run(const struct cli *cli, const struct plan *p)
{
	const struct target *t;
	char what[256];
	size_t i;
	int status = EXIT_OK;

	for (i = 0; i < p->n; i++) {
		t = &p->targets[i];
		snprintf(what, sizeof(what), "rm %s %s", t->flag, t->arg);
		if (t->by_key)
			status = worse(status, remove_key(cli, what, t));
		else
			status = worse(status, remove_id(cli, what, t->id));
	}
	if (p->all)
		status = worse(status, remove_all(cli));
	return status;
}

int cmd_rm(struct cli *cli, int argc, char **argv)
{
	struct plan p = { NULL, 0, 0 };
	struct cli named = *cli;
	int status = EXIT_OK;

	/* At most one target per word of the command line. */
	p.targets = calloc((size_t)argc, sizeof(*p.targets));
	if (!p.targets) {
		cli_error(cli, "out of memory");
		return EXIT_ERROR;
	}
	if (parse(cli, argc, argv, &p, &status) == 0) {
		/* The messages name the flag themselves: "ushm: rm -m 4". */
		named.cmd = NULL;
		status = run(&named, &p);
	}
	free(p.targets);
	return status;
}
