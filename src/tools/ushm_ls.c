/*
 * ushm_ls.c - "ushm ls": the segments, byte for byte as ipcs -m prints
 * them, so that scripts written for ipcs read our output unchanged; and
 * ipcs's other views of them (ushm_views.c), and JSON (ushm_json.c).
 *
 * The default layout, observed on util-linux 2.38 ipcs -m: a blank line,
 * a title line, a header, one line per segment, a blank line.  The key is
 * 0x and 8 hex digits; perms are the 9 permission bits in octal; status
 * is two 6-character words, "dest" (SHM_DEST) and "locked" (SHM_LOCKED),
 * either blank, with one space between them.
 */
#include "ushm_views.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

enum { OPT_HELP = 256, OPT_HUMAN, OPT_BYTES, OPT_JSON, OPT_TIME, OPT_PID,
       OPT_CREATOR, OPT_LIMITS, OPT_SUMMARY, OPT_ID };

static const char usage_text[] =
"Usage: ushm [--kernel] ls [VIEW] [--human|--bytes]\n"
"       ushm [--kernel] ipcs ...\n"
"\n"
"List the shared memory segments in the format of ipcs -m: key, shmid,\n"
"owner (name, or uid when it has none), permissions in octal, size in\n"
"bytes, number of attachments, and status (dest: removed, gone at the\n"
"last detach; locked: SHM_LOCK).\n"
"\n"
"Views (the last one given wins):\n"
"  -t, --time      attach, detach and change times\n"
"  -p, --pid       creator and last-operation pids\n"
"  -c, --creator   creator and owner users and groups\n"
"  -l, --limits    the system-wide limits\n"
"  -u, --summary   segments and pages in use\n"
"  -i, --id ID     one segment in detail\n"
"  --json          every field of every segment, with its holders\n"
"                  (null where they cannot be known, as on --kernel)\n"
"\n"
"Sizes:\n"
"  -b, --bytes     in bytes (the default, except -l's kbytes)\n"
"  --human         in human-readable units (4.9K, 2M)\n"
"\n"
"Options:\n"
"  -h, --help      show this help and exit\n";

enum view { VIEW_TABLE, VIEW_TIMES, VIEW_PIDS, VIEW_CREATORS, VIEW_LIMITS,
	    VIEW_SUMMARY, VIEW_ONE, VIEW_JSON };

struct ls_opts {
	enum view view;
	enum unit unit;
	int id;
};

/* The views that need the segment table (not -l or -u). */
static int list(struct cli *cli, const struct ls_opts *o)
{
	struct seg_table t;
	struct namebuf nb;
	int status = EXIT_OK, err;
	size_t i;

	if (collect_segments(cli->be, &t) < 0) {
		err = errno;
		status = report_errno(cli, err, "cannot list the %s segments",
				      cli->be->name);
		return status == EXIT_FAILED ? EXIT_ERROR : status;
	}
	if (namebuf_init(&nb) < 0) {
		free_segments(&t);
		cli_error(cli, "out of memory");
		return EXIT_ERROR;
	}
	switch (o->view) {
	case VIEW_TIMES:
		status = view_times(cli, &t, &nb);
		break;
	case VIEW_PIDS:
		status = view_pids(cli, &t, &nb);
		break;
	case VIEW_CREATORS:
		status = view_creators(cli, &t, &nb);
		break;
	case VIEW_JSON:
		status = view_json(cli, &t);
		break;
	case VIEW_ONE:
		for (i = 0; i < t.n && t.segs[i].shmid != o->id; i++)
			;
		if (i < t.n)
			view_one(cli, &t.segs[i], o->unit);
		else {
			cli_error(cli, "-i %d: no such segment (EINVAL)",
				  o->id);
			status = EXIT_FAILED;
		}
		break;
	default:
		status = view_table(cli, &t, &nb, o->unit);
		break;
	}
	namebuf_free(&nb);
	free_segments(&t);
	return cli_finish_output(cli, status);
}

int cmd_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "human", no_argument, NULL, OPT_HUMAN },
		{ "bytes", no_argument, NULL, OPT_BYTES },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "time", no_argument, NULL, OPT_TIME },
		{ "pid", no_argument, NULL, OPT_PID },
		{ "creator", no_argument, NULL, OPT_CREATOR },
		{ "limits", no_argument, NULL, OPT_LIMITS },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "id", required_argument, NULL, OPT_ID },
		{ NULL, 0, NULL, 0 },
	};
	struct ls_opts o = { VIEW_TABLE, UNIT_DEFAULT, -1 };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:htpclui:b", longopts, NULL))
	       != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		case OPT_HUMAN:
			o.unit = UNIT_HUMAN;
			break;
		case 'b':
		case OPT_BYTES:
			o.unit = UNIT_BYTES;
			break;
		case OPT_JSON:
			o.view = VIEW_JSON;
			break;
		case 't':
		case OPT_TIME:
			o.view = VIEW_TIMES;
			break;
		case 'p':
		case OPT_PID:
			o.view = VIEW_PIDS;
			break;
		case 'c':
		case OPT_CREATOR:
			o.view = VIEW_CREATORS;
			break;
		case 'l':
		case OPT_LIMITS:
			o.view = VIEW_LIMITS;
			break;
		case 'u':
		case OPT_SUMMARY:
			o.view = VIEW_SUMMARY;
			break;
		case 'i':
		case OPT_ID:
			if (parse_id(optarg, &o.id) < 0 || o.id < 0)
				return cli_usage_error(cli, "-i: '%s' is not "
						       "a segment id", optarg);
			o.view = VIEW_ONE;
			break;
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	if (o.view == VIEW_LIMITS)
		return cli_finish_output(cli, view_limits(cli, o.unit));
	if (o.view == VIEW_SUMMARY)
		return cli_finish_output(cli, view_summary(cli));
	return list(cli, &o);
}
