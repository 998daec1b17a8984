/*
 * ushm_stat.c - "ushm stat ID|-M KEY": everything about one segment,
 * including what the kernel never tells: which processes hold it
 * attached, how many times each, and at which addresses.
 */
#include "ushm_cli.h"
#include "ushm_fmt.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_HELP = 256, OPT_KEY };

static const char usage_text[] =
"Usage: ushm [--kernel] stat ID\n"
"       ushm [--kernel] stat -M KEY\n"
"\n"
"Show everything about one segment: its shmid_ds (key, size, mode,\n"
"owner, creator, pids, times, nattch) and its holders: each process\n"
"that has it attached, how many times, and the address range of each\n"
"of its mappings.  Needs read permission on the segment, as IPC_STAT.\n"
"With --kernel, a kernel segment: everything but the holders.\n"
"\n"
"Options:\n"
"  -M, --shmem-key KEY  the segment with this key (decimal, 0x hex or\n"
"                       0 octal), instead of an id\n"
"  -h, --help           show this help and exit\n";

static void put_ids(FILE *out, struct namebuf *nb, const char *what,
		    uid_t uid, gid_t gid)
{
	char u[256], g[256];

	user_or_uid(nb, uid, u, sizeof(u));
	group_or_gid(nb, gid, g, sizeof(g));
	fprintf(out, "%-10s %s (uid %u), group %s (gid %u)\n", what, u,
		(unsigned int)uid, g, (unsigned int)gid);
}

static void put_mode(FILE *out, unsigned int mode)
{
	static const char rwx[] = "rwxrwxrwx";
	char bits[10];

	for (int i = 0; i < 9; i++)
		bits[i] = mode & (0400u >> i) ? rwx[i] : '-';
	bits[9] = '\0';
	fprintf(out, "%-10s %04o (%s)\n", "perms:", mode & 0777, bits);
	fprintf(out, "%-10s %s%s%s\n", "status:",
		mode & SHM_DEST ? "dest" : "",
		(mode & SHM_DEST) && (mode & SHM_LOCKED) ? " " : "",
		mode & SHM_LOCKED ? "locked" :
		(mode & SHM_DEST) ? "" : "-");
}

static void put_ds(FILE *out, struct namebuf *nb, int id,
		   const struct shmid_ds *ds)
{
	const struct ipc_perm *p = &ds->shm_perm;
	char size[32], t[64];

	fmt_human(ds->shm_segsz, size, sizeof(size));
	fprintf(out, "%-10s %d\n", "shmid:", id);
	fprintf(out, "%-10s 0x%08x\n", "key:", (unsigned int)p->__key);
	fprintf(out, "%-10s %ju (%s)\n", "size:", (uintmax_t)ds->shm_segsz,
		size);
	put_mode(out, p->mode);
	put_ids(out, nb, "owner:", p->uid, p->gid);
	put_ids(out, nb, "creator:", p->cuid, p->cgid);
	fprintf(out, "%-10s %d\n", "cpid:", (int)ds->shm_cpid);
	fprintf(out, "%-10s %d\n", "lpid:", (int)ds->shm_lpid);
	fprintf(out, "%-10s %ju\n", "nattch:", (uintmax_t)ds->shm_nattch);
	fmt_time_long(ds->shm_atime, t, sizeof(t));
	fprintf(out, "%-10s %s\n", "attached:", t);
	fmt_time_long(ds->shm_dtime, t, sizeof(t));
	fprintf(out, "%-10s %s\n", "detached:", t);
	fmt_time_long(ds->shm_ctime, t, sizeof(t));
	fprintf(out, "%-10s %s\n", "changed:", t);
}

/* One line per mapping; the pid and count only on a holder's first. */
static void put_holders(FILE *out, const struct ushm_holder *h, int n)
{
	fprintf(out, "holders:   %d mapping%s\n", n, n == 1 ? "" : "s");
	if (n == 0)
		return;
	fprintf(out, "  %-10s %-6s %s\n", "PID", "COUNT", "ADDRESS");
	for (int i = 0; i < n; i++) {
		int first = i == 0 || h[i].pid != h[i - 1].pid;

		if (first)
			fprintf(out, "  %-10d %-6u ", (int)h[i].pid,
				h[i].count);
		else
			fprintf(out, "  %-10s %-6s ", "", "");
		if (h[i].start == 0 && h[i].end == 0)
			fprintf(out, "(maps not readable)\n");
		else
			fprintf(out, "0x%jx-0x%jx\n", (uintmax_t)h[i].start,
				(uintmax_t)h[i].end);
	}
}

static int show(struct cli *cli, int id, const char *what)
{
	struct shmid_ds ds;
	struct ushm_holder *h;
	struct namebuf nb;
	char ename[32];
	int n, err;

	memset(&ds, 0, sizeof(ds));
	if (cli->be->ctl(id, IPC_STAT, &ds) < 0) {
		err = errno;
		if (err == EINVAL || err == EIDRM)
			cli_error(cli, "%s: no such segment (%s)", what,
				  errno_name(err, ename, sizeof(ename)));
		else
			cli_error(cli, "%s: %s (%s)", what, strerror(err),
				  errno_name(err, ename, sizeof(ename)));
		return exit_for_errno(err);
	}
	n = fetch_holders(cli->be, id, &h);
	if (n < 0 && errno == ENOTSUP) {
		h = NULL;	/* the kernel: nobody can tell */
	} else if (n < 0) {
		err = errno;
		cli_error(cli, "%s: cannot list the holders: %s (%s)", what,
			  strerror(err), errno_name(err, ename, sizeof(ename)));
		return exit_for_errno(err);
	}
	if (namebuf_init(&nb) < 0) {
		free(h);
		cli_error(cli, "out of memory");
		return EXIT_ERROR;
	}
	put_ds(cli->out, &nb, id, &ds);
	if (n >= 0)
		put_holders(cli->out, h, n);
	else
		fprintf(cli->out, "holders:   unknown (the kernel tells only "
			"nattch and lpid)\n");
	namebuf_free(&nb);
	free(h);
	return cli_finish_output(cli, EXIT_OK);
}

int cmd_stat(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "shmem-key", required_argument, NULL, OPT_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyarg = NULL;
	char what[64], ename[32];
	key_t key;
	int c, id, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":hM:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		case 'M':
		case OPT_KEY:
			keyarg = optarg;
			break;
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (keyarg) {
		if (optind < argc)
			return cli_usage_error(cli, "give an ID or -M KEY, "
					       "not both");
		if (parse_key(keyarg, &key) < 0)
			return cli_usage_error(cli, "-M: '%s' is not a key",
					       keyarg);
		snprintf(what, sizeof(what), "-M %s", keyarg);
		/* IPC_PRIVATE names no segment, as for ipcrm -M. */
		id = key == IPC_PRIVATE ? -1 : cli->be->get(key, 0, 0);
		err = key == IPC_PRIVATE ? EINVAL : errno;
		if (id < 0 && (err == ENOENT || err == EINVAL)) {
			cli_error(cli, "%s: no segment has this key (%s)",
				  what, errno_name(err, ename, sizeof(ename)));
			return EXIT_FAILED;
		}
		if (id < 0) {
			cli_error(cli, "%s: %s (%s)", what, strerror(err),
				  errno_name(err, ename, sizeof(ename)));
			return exit_for_errno(err);
		}
		return show(cli, id, what);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "no segment given (ID or -M KEY)");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind + 1]);
	if (parse_id(argv[optind], &id) < 0 || id < 0)
		return cli_usage_error(cli, "'%s' is not a segment id",
				       argv[optind]);
	snprintf(what, sizeof(what), "%d", id);
	return show(cli, id, what);
}
