/*
 * ushm_top.c - "ushm top": a live view of the segments, their sizes and
 * holders, and how fast they are attached and detached.  On a terminal
 * it redraws in place; piped, each refresh is a block of plain lines.
 *
 * Activity comes from comparing two snapshots: nattch going up or down, and
 * a new shm_atime or shm_dtime (an attach and a detach within one
 * interval leave nattch alone but move the times).
 */
#define _GNU_SOURCE
#include "ushm_cli.h"
#include "ushm_fmt.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_HELP = 256, OPT_ONCE, OPT_COUNT, OPT_DELAY };

static const char usage_text[] =
"Usage: ushm top [-d SECONDS] [-n COUNT | --once]\n"
"\n"
"Show the segments live: id, key, owner, size, nattch, the pids holding\n"
"each, and attach/detach activity since the last refresh (and per second\n"
"in the title).  On a terminal\n"
"the screen is redrawn in place; otherwise each refresh is printed as a\n"
"block of lines followed by a blank line.\n"
"\n"
"Options:\n"
"  -d, --delay SECONDS  time between refreshes (default 1; may be 0.2)\n"
"  -n, --count COUNT    stop after COUNT refreshes (default: never)\n"
"  --once               one refresh, as -n 1\n"
"  -h, --help           show this help and exit\n";

struct top_opts {
	long delay_ms;
	long count;	/* 0: forever */
	int tty;
};

/* What the last refresh saw of a segment, to compute the changes. */
static const struct seg *find(const struct seg_table *t, int shmid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->segs[i].shmid == shmid)
			return &t->segs[i];
	return NULL;
}

/* "+2/-1": attaches and detaches seen since prev (at least one each
 * when only the times moved), also added to *atts and *dets. */
static void activity(const struct seg *s, const struct seg *prev,
		     char *buf, size_t len, long *atts, long *dets)
{
	long att = 0, det = 0;
	long d;

	if (!prev) {
		snprintf(buf, len, "new");
		return;
	}
	d = (long)s->ds.shm_nattch - (long)prev->ds.shm_nattch;
	if (d > 0)
		att = d;
	else
		det = -d;
	if (att == 0 && s->ds.shm_atime != prev->ds.shm_atime)
		att = 1;
	if (det == 0 && s->ds.shm_dtime != prev->ds.shm_dtime)
		det = 1;
	snprintf(buf, len, "+%ld/-%ld", att, det);
	*atts += att;
	*dets += det;
}

/* The distinct pids holding s, as "123,456", cut to fit. */
static void holder_pids(const struct backend *be, int shmid, char *buf,
			size_t len)
{
	struct ushm_holder *h;
	size_t used = 0;
	int n = fetch_holders(be, shmid, &h);

	snprintf(buf, len, n < 0 ? "?" : "-");
	for (int i = 0; i < n && used < len; i++) {
		if (i > 0 && h[i].pid == h[i - 1].pid)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%d",
					 used ? "," : "", (int)h[i].pid);
	}
	if (n >= 0)
		free(h);
}

/*
 * One refresh.  The segment lines go to a memory stream first, so that
 * the title can carry the rates they add up to; secs is the time since
 * prev (0 on the first refresh, which has no rates).
 */
static int draw(struct cli *cli, const struct seg_table *t,
		const struct seg_table *prev, struct namebuf *nb,
		const struct top_opts *o, double secs)
{
	FILE *out = cli->out, *lines;
	uint64_t bytes = 0, nattch = 0;
	char now[64], size[32], owner[64], act[32], pids[64];
	char *body = NULL;
	size_t body_len = 0;
	long atts = 0, dets = 0;

	lines = open_memstream(&body, &body_len);
	if (!lines)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];

		bytes += s->ds.shm_segsz;
		nattch += s->ds.shm_nattch;
		fmt_human(s->ds.shm_segsz, size, sizeof(size));
		user_or_uid(nb, s->ds.shm_perm.uid, owner, sizeof(owner));
		activity(s, prev ? find(prev, s->shmid) : NULL, act,
			 sizeof(act), &atts, &dets);
		holder_pids(cli->be, s->shmid, pids, sizeof(pids));
		fprintf(lines, "%-10d 0x%08x %-10.10s %7s %6ju %-9s %s\n",
			s->shmid, (unsigned int)s->ds.shm_perm.__key, owner,
			size, (uintmax_t)s->ds.shm_nattch, prev ? act : "-",
			pids);
	}
	if (fclose(lines) != 0) {
		free(body);
		return -1;
	}
	fmt_time_long(time(NULL), now, sizeof(now));
	fmt_human(bytes, size, sizeof(size));
	/* Home and clear: redraw in place, without scrolling. */
	if (o->tty)
		fputs("\033[H\033[2J", out);
	fprintf(out, "ushm top - %s - %zu segments, %s, %ju attachments",
		now, t->n, size, (uintmax_t)nattch);
	if (prev && secs > 0)
		fprintf(out, ", %.1f attach/s, %.1f detach/s", atts / secs,
			dets / secs);
	fprintf(out, "\n%-10s %-10s %-10s %7s %6s %-9s %s\n", "SHMID", "KEY",
		"OWNER", "SIZE", "NATTCH", "ATT/DET", "HOLDERS");
	fwrite(body, 1, body_len, out);
	free(body);
	if (!o->tty)
		fputc('\n', out);
	return 0;
}

static double now_secs(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; 0 is safe. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* A signal cutting the wait short only refreshes early. */
	(void)nanosleep(&ts, NULL);
}

static int run(struct cli *cli, const struct top_opts *o)
{
	struct seg_table cur, prev = { 0 };
	struct namebuf nb;
	char ename[32];
	int have_prev = 0, err;
	double last = 0, t;

	if (namebuf_init(&nb) < 0) {
		cli_error(cli, "out of memory");
		return EXIT_ERROR;
	}
	for (long i = 0; o->count == 0 || i < o->count; i++) {
		if (i > 0)
			sleep_ms(o->delay_ms);
		if (collect_segments(cli->be, &cur) < 0) {
			err = errno;
			cli_error(cli, "cannot list the segments: %s (%s)",
				  strerror(err),
				  errno_name(err, ename, sizeof(ename)));
			free_segments(&prev);
			namebuf_free(&nb);
			return EXIT_ERROR;
		}
		t = now_secs();
		if (draw(cli, &cur, have_prev ? &prev : NULL, &nb, o,
			 t - last) < 0) {
			cli_error(cli, "out of memory");
			free_segments(&cur);
			free_segments(&prev);
			namebuf_free(&nb);
			return EXIT_ERROR;
		}
		last = t;
		free_segments(&prev);
		prev = cur;
		have_prev = 1;
		if (fflush(cli->out) != 0)
			break;
	}
	free_segments(&prev);
	namebuf_free(&nb);
	return cli_finish_output(cli, EXIT_OK);
}

static int parse_delay(const char *s, long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0) || v > 86400)
		return -1;
	*ms = (long)(v * 1000);
	return 0;
}

int cmd_top(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ NULL, 0, NULL, 0 },
	};
	struct top_opts o = { 1000, 0, isatty(fileno(cli->out)) };
	char *end;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:hn:d:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
		case OPT_HELP:
			fputs(usage_text, cli->out);
			return cli_finish_output(cli, EXIT_OK);
		case OPT_ONCE:
			o.count = 1;
			break;
		case 'n':
		case OPT_COUNT:
			errno = 0;
			o.count = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || o.count < 1)
				return cli_usage_error(cli, "-n: '%s' is not "
						       "a count", optarg);
			break;
		case 'd':
		case OPT_DELAY:
			if (parse_delay(optarg, &o.delay_ms) < 0)
				return cli_usage_error(cli, "-d: '%s' is not "
						       "a delay", optarg);
			break;
		default:
			return cli_bad_option(cli, c, argv, longopts);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	return run(cli, &o);
}
