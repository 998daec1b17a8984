/*
 * ushm_ls.c - "ushm ls": the segments, byte for byte as ipcs -m prints
 * them, so that scripts written for ipcs read our output unchanged.
 *
 * The layout, observed on util-linux 2.38 ipcs -m: a blank line, a title
 * line, a header, one line per segment, a blank line.  Each column is
 * left-aligned in 10 characters and followed by one space, and a value
 * that is longer pushes the rest of the line right instead of being cut,
 * except the owner's name, which is cut at 10 characters (a numeric uid,
 * shown when the uid has no passwd entry, is at most 10 digits anyway).
 * The key is 0x and 8 hex digits; perms are the 9 permission bits in
 * octal; status is two 6-character words, "dest" (SHM_DEST) and
 * "locked" (SHM_LOCKED), either blank, with one space between them.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_HELP = 256 };

static const char usage_text[] =
"Usage: ushm [--kernel] ls\n"
"       ushm [--kernel] ipcs\n"
"\n"
"List the shared memory segments in the format of ipcs -m: key, shmid,\n"
"owner (name, or uid when it has none), permissions in octal, size in\n"
"bytes, number of attachments, and status (dest: removed, gone at the\n"
"last detach; locked: SHM_LOCK).\n"
"\n"
"Options:\n"
"  -h, --help      show this help and exit\n";

/* A buffer for getpwuid_r, kept across segments and grown on ERANGE. */
struct pwbuf {
	char *buf;
	size_t len;
};

/*
 * Writes the owner's name into name, or leaves it empty when the uid has
 * no passwd entry.  Returns -1 only when the lookup itself failed.
 */
static int owner_name(struct pwbuf *pb, uid_t uid, char *name, size_t len)
{
	struct passwd pw, *res;
	char *grown;
	int r;

	name[0] = '\0';
	for (;;) {
		r = getpwuid_r(uid, &pw, pb->buf, pb->len, &res);
		if (r != ERANGE)
			break;
		grown = realloc(pb->buf, pb->len * 2);
		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		pb->buf = grown;
		pb->len *= 2;
	}
	/*
	 * ipcs shows the uid whenever no name comes back, errors included;
	 * so do we, rather than fail the whole listing over one owner.
	 */
	if (r == 0 && res)
		snprintf(name, len, "%s", res->pw_name);
	return 0;
}

static void print_header(FILE *out)
{
	fprintf(out, "\n------ Shared Memory Segments --------\n");
	fprintf(out, "%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n",
		"key", "shmid", "owner", "perms", "bytes", "nattch",
		"status");
}

static int print_seg(FILE *out, struct pwbuf *pb, const struct seg *seg)
{
	const struct ipc_perm *perm = &seg->ds.shm_perm;
	char name[256];

	if (owner_name(pb, perm->uid, name, sizeof(name)) < 0)
		return -1;
	fprintf(out, "0x%08x %-10d ", (unsigned int)perm->__key, seg->shmid);
	if (name[0])
		fprintf(out, "%-10.10s ", name);
	else
		fprintf(out, "%-10u ", (unsigned int)perm->uid);
	fprintf(out, "%-10o %-10ju %-10ju %-6s %-6s\n",
		(unsigned int)perm->mode & 0777,
		(uintmax_t)seg->ds.shm_segsz, (uintmax_t)seg->ds.shm_nattch,
		perm->mode & SHM_DEST ? "dest" : "",
		perm->mode & SHM_LOCKED ? "locked" : "");
	return 0;
}

static int list(struct cli *cli)
{
	struct seg_table t;
	struct pwbuf pb;
	char ename[32];
	size_t i;
	int err;

	if (collect_segments(cli->be, &t) < 0) {
		err = errno;
		cli_error(cli, "cannot list the %s segments: %s (%s)",
			  cli->be->name, strerror(err),
			  errno_name(err, ename, sizeof(ename)));
		return exit_for_errno(err) == EXIT_DENIED ? EXIT_DENIED
							   : EXIT_ERROR;
	}
	pb.len = 1024;
	pb.buf = malloc(pb.len);
	if (!pb.buf) {
		free_segments(&t);
		cli_error(cli, "out of memory");
		return EXIT_ERROR;
	}
	print_header(cli->out);
	for (i = 0; i < t.n; i++) {
		if (print_seg(cli->out, &pb, &t.segs[i]) < 0) {
			err = errno;
			free(pb.buf);
			free_segments(&t);
			cli_error(cli, "cannot look up an owner: %s",
				  strerror(err));
			return EXIT_ERROR;
		}
	}
	fputc('\n', cli->out);
	free(pb.buf);
	free_segments(&t);
	return cli_finish_output(cli, EXIT_OK);
}

int cmd_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	return list(cli);
}
