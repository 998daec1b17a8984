/*
 * ushm_views.c - the views of ipcs -m, reproduced from its output
 * (util-linux 2.38): a blank line, a title between dashes, a header, one
 * line per segment, a blank line.  Columns are left-aligned in 10 (or
 * 20, for times) characters plus one space; a longer value pushes the
 * rest of its line right, except names, which are cut at 10 characters.
 */
#define _GNU_SOURCE
#include "ushm_views.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int report_errno(const struct cli *cli, int err, const char *fmt, ...)
{
	char what[512], ename[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cli_error(cli, "%s: %s (%s)", what, strerror(err),
		  errno_name(err, ename, sizeof(ename)));
	return exit_for_errno(err);
}

/*
 * A name, or the number when there is no name, then sep: a space,
 * except after the last column of -c.  The owner column of the table,
 * -t and -p cuts names at 10 characters; -c shows them whole.
 */
static int put_user_sep(FILE *out, struct namebuf *nb, uid_t uid,
			const char *sep, int cut)
{
	char name[256];

	if (user_name(nb, uid, name, sizeof(name)) < 0)
		return -1;
	if (name[0])
		fprintf(out, "%-10.*s%s", cut ? 10 : (int)sizeof(name), name,
			sep);
	else
		fprintf(out, "%-10u%s", (unsigned int)uid, sep);
	return 0;
}

static int put_user(FILE *out, struct namebuf *nb, uid_t uid)
{
	return put_user_sep(out, nb, uid, " ", 1);
}

static int put_group(FILE *out, struct namebuf *nb, gid_t gid,
		     const char *sep)
{
	char name[256];

	if (group_name(nb, gid, name, sizeof(name)) < 0)
		return -1;
	if (name[0])
		fprintf(out, "%-10s%s", name, sep);
	else
		fprintf(out, "%-10u%s", (unsigned int)gid, sep);
	return 0;
}

static int name_failed(struct cli *cli)
{
	return report_errno(cli, errno, "cannot look up an owner");
}

int view_table(struct cli *cli, const struct seg_table *t,
	       struct namebuf *nb, enum unit unit)
{
	FILE *out = cli->out;
	char size[32];

	fprintf(out, "\n------ Shared Memory Segments --------\n");
	fprintf(out, "%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n",
		"key", "shmid", "owner", "perms",
		unit == UNIT_HUMAN ? "size" : "bytes", "nattch", "status");
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];
		const struct ipc_perm *p = &s->ds.shm_perm;

		fprintf(out, "0x%08x %-10d ", (unsigned int)p->__key,
			s->shmid);
		if (put_user(out, nb, p->uid) < 0)
			return name_failed(cli);
		fprintf(out, "%-10o ", (unsigned int)p->mode & 0777);
		/* --human right-aligns the size in 6 and pads to 11. */
		if (unit == UNIT_HUMAN) {
			fmt_human(s->ds.shm_segsz, size, sizeof(size));
			fprintf(out, "%6s     ", size);
		} else {
			fprintf(out, "%-10ju ", (uintmax_t)s->ds.shm_segsz);
		}
		fprintf(out, "%-10ju %-6s %-6s\n",
			(uintmax_t)s->ds.shm_nattch,
			p->mode & SHM_DEST ? "dest" : "",
			p->mode & SHM_LOCKED ? "locked" : "");
	}
	fputc('\n', out);
	return EXIT_OK;
}

int view_times(struct cli *cli, const struct seg_table *t,
	       struct namebuf *nb)
{
	FILE *out = cli->out;
	char a[64], d[64], c[64];

	fprintf(out, "\n------ Shared Memory Attach/Detach/Change Times "
		"--------\n");
	fprintf(out, "%-10s %-10s %-20s %-20s %-20s\n", "shmid", "owner",
		"attached", "detached", "changed");
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];

		fprintf(out, "%-10d ", s->shmid);
		if (put_user(out, nb, s->ds.shm_perm.uid) < 0)
			return name_failed(cli);
		fmt_time_short(s->ds.shm_atime, a, sizeof(a));
		fmt_time_short(s->ds.shm_dtime, d, sizeof(d));
		fmt_time_short(s->ds.shm_ctime, c, sizeof(c));
		fprintf(out, "%-20s %-20s %-20s\n", a, d, c);
	}
	fputc('\n', out);
	return EXIT_OK;
}

int view_pids(struct cli *cli, const struct seg_table *t,
	      struct namebuf *nb)
{
	FILE *out = cli->out;

	fprintf(out, "\n------ Shared Memory Creator/Last-op PIDs "
		"--------\n");
	fprintf(out, "%-10s %-10s %-10s %-10s\n", "shmid", "owner", "cpid",
		"lpid");
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];

		fprintf(out, "%-10d ", s->shmid);
		if (put_user(out, nb, s->ds.shm_perm.uid) < 0)
			return name_failed(cli);
		fprintf(out, "%-10d %-10d\n", (int)s->ds.shm_cpid,
			(int)s->ds.shm_lpid);
	}
	fputc('\n', out);
	return EXIT_OK;
}

int view_creators(struct cli *cli, const struct seg_table *t,
		  struct namebuf *nb)
{
	FILE *out = cli->out;

	fprintf(out, "\n------ Shared Memory Segment Creators/Owners "
		"--------\n");
	fprintf(out, "%-10s %-10s %-10s %-10s %-10s %-10s\n", "shmid",
		"perms", "cuid", "cgid", "uid", "gid");
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->segs[i];
		const struct ipc_perm *p = &s->ds.shm_perm;

		fprintf(out, "%-10d %-10o ", s->shmid,
			(unsigned int)p->mode & 0777);
		if (put_user_sep(out, nb, p->cuid, " ", 0) < 0 ||
		    put_group(out, nb, p->cgid, " ") < 0 ||
		    put_user_sep(out, nb, p->uid, " ", 0) < 0 ||
		    put_group(out, nb, p->gid, "") < 0)
			return name_failed(cli);
		fputc('\n', out);
	}
	fputc('\n', out);
	return EXIT_OK;
}

void view_one(struct cli *cli, const struct seg *seg, enum unit unit)
{
	const struct ipc_perm *p = &seg->ds.shm_perm;
	FILE *out = cli->out;
	char a[64], d[64], c[64], size[32];

	fmt_time_long(seg->ds.shm_atime, a, sizeof(a));
	fmt_time_long(seg->ds.shm_dtime, d, sizeof(d));
	fmt_time_long(seg->ds.shm_ctime, c, sizeof(c));
	fprintf(out, "\nShared memory Segment shmid=%d\n", seg->shmid);
	fprintf(out, "uid=%u\tgid=%u\tcuid=%u\tcgid=%u\n",
		(unsigned int)p->uid, (unsigned int)p->gid,
		(unsigned int)p->cuid, (unsigned int)p->cgid);
	fprintf(out, "mode=%#o\taccess_perms=%#o\n", (unsigned int)p->mode,
		(unsigned int)p->mode & 0777);
	if (unit == UNIT_HUMAN) {
		fmt_human(seg->ds.shm_segsz, size, sizeof(size));
		fprintf(out, "size=%s", size);
	} else {
		fprintf(out, "bytes=%ju", (uintmax_t)seg->ds.shm_segsz);
	}
	fprintf(out, "\tlpid=%d\tcpid=%d\tnattch=%ju\n",
		(int)seg->ds.shm_lpid, (int)seg->ds.shm_cpid,
		(uintmax_t)seg->ds.shm_nattch);
	fprintf(out, "att_time=%-26s\n", a);
	fprintf(out, "det_time=%-26s\n", d);
	fprintf(out, "change_time=%-26s\n", c);
	fputc('\n', out);
}

/* "NAME = VALUE" in the unit asked for, as ipcs -l prints a size. */
static void limit_line(FILE *out, const char *name, uint64_t bytes,
		       enum unit unit, int kbytes)
{
	char h[32];

	if (unit == UNIT_HUMAN) {
		fmt_human(bytes, h, sizeof(h));
		fprintf(out, "%s = %s\n", name, h);
	} else if (kbytes) {
		fprintf(out, "%s (kbytes) = %ju\n", name,
			(uintmax_t)(bytes / 1024));
	} else {
		fprintf(out, "%s (bytes) = %ju\n", name, (uintmax_t)bytes);
	}
}

/*
 * shmall pages in bytes (or KiB), saturated at the largest multiple of
 * the unit that fits rather than wrapped to a small number, as ipcs does.
 */
static uint64_t total_in(uint64_t shmall, uint64_t unit)
{
	if (shmall != 0 && shmall > UINT64_MAX / unit)
		return UINT64_MAX - UINT64_MAX % unit;
	return shmall * unit;
}

int view_limits(struct cli *cli, enum unit unit)
{
	struct shminfo info;
	FILE *out = cli->out;
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t pg = ps > 0 ? (uint64_t)ps : 4096;

	memset(&info, 0, sizeof(info));
	if (cli->be->ctl(0, IPC_INFO, (struct shmid_ds *)(void *)&info) < 0)
		return report_errno(cli, errno, "cannot read the limits");
	fprintf(out, "\n------ Shared Memory Limits --------\n");
	fprintf(out, "max number of segments = %ju\n",
		(uintmax_t)info.shmmni);
	limit_line(out, "max seg size", info.shmmax, unit,
		   unit == UNIT_DEFAULT);
	if (unit == UNIT_DEFAULT)
		fprintf(out, "max total shared memory (kbytes) = %ju\n",
			(uintmax_t)total_in(info.shmall, pg / 1024));
	else
		limit_line(out, "max total shared memory",
			   total_in(info.shmall, pg), unit, 0);
	limit_line(out, "min seg size", info.shmmin, unit, 0);
	fputc('\n', out);
	return EXIT_OK;
}

int view_summary(struct cli *cli)
{
	struct shm_info info;
	FILE *out = cli->out;

	memset(&info, 0, sizeof(info));
	if (cli->be->ctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info) < 0)
		return report_errno(cli, errno, "cannot read the summary");
	fprintf(out, "\n------ Shared Memory Status --------\n");
	fprintf(out, "segments allocated %d\n", info.used_ids);
	fprintf(out, "pages allocated %ju\n", (uintmax_t)info.shm_tot);
	fprintf(out, "pages resident  %ju\n", (uintmax_t)info.shm_rss);
	fprintf(out, "pages swapped   %ju\n", (uintmax_t)info.shm_swp);
	/* The kernel keeps no swap statistics for SysV memory. */
	fprintf(out, "Swap performance: 0 attempts\t 0 successes\n");
	fputc('\n', out);
	return EXIT_OK;
}
