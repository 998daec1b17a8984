/*
 * ushm_json.c - "ushm ls --json": every shmid_ds field of each segment,
 * and who holds it, for programs rather than people.  An array with one
 * object per segment, each on a line of its own.
 */
#include "ushm_views.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static void put_holders(FILE *out, const struct ushm_holder *h, int n)
{
	fputs("[", out);
	for (int i = 0; i < n; i++)
		fprintf(out, "%s{\"pid\":%d,\"count\":%u,\"start\":%ju,"
			"\"end\":%ju}", i ? "," : "", (int)h[i].pid,
			h[i].count, (uintmax_t)h[i].start,
			(uintmax_t)h[i].end);
	fputs("]", out);
}

static int put_segment(struct cli *cli, const struct seg *s, int last)
{
	const struct ipc_perm *p = &s->ds.shm_perm;
	struct ushm_holder *h;
	FILE *out = cli->out;
	int n;

	fprintf(out, "{\"shmid\":%d,\"key\":%d,\"uid\":%u,\"gid\":%u,"
		"\"cuid\":%u,\"cgid\":%u,\"mode\":%u,\"perms\":\"%03o\","
		"\"dest\":%s,\"locked\":%s,\"segsz\":%ju,\"atime\":%jd,"
		"\"dtime\":%jd,\"ctime\":%jd,\"cpid\":%d,\"lpid\":%d,"
		"\"nattch\":%ju,\"holders\":",
		s->shmid, (int)p->__key, (unsigned int)p->uid,
		(unsigned int)p->gid, (unsigned int)p->cuid,
		(unsigned int)p->cgid, (unsigned int)p->mode,
		(unsigned int)p->mode & 0777,
		p->mode & SHM_DEST ? "true" : "false",
		p->mode & SHM_LOCKED ? "true" : "false",
		(uintmax_t)s->ds.shm_segsz, (intmax_t)s->ds.shm_atime,
		(intmax_t)s->ds.shm_dtime, (intmax_t)s->ds.shm_ctime,
		(int)s->ds.shm_cpid, (int)s->ds.shm_lpid,
		(uintmax_t)s->ds.shm_nattch);
	n = fetch_holders(cli->be, s->shmid, &h);
	if (n >= 0) {
		put_holders(out, h, n);
		free(h);
	} else if (errno == ENOTSUP || errno == EACCES || errno == EPERM ||
		   errno == EINVAL || errno == EIDRM) {
		/* Unknown to us (the kernel; a segment we may not read,
		 * or gone since the listing): say so, not "nobody". */
		fputs("null", out);
	} else {
		fputs("null}\n", out);
		return report_errno(cli, errno, "cannot list the holders "
				    "of %d", s->shmid);
	}
	fprintf(out, "}%s\n", last ? "" : ",");
	return EXIT_OK;
}

int view_json(struct cli *cli, const struct seg_table *t)
{
	int status;

	fputs("[\n", cli->out);
	for (size_t i = 0; i < t->n; i++) {
		status = put_segment(cli, &t->segs[i], i + 1 == t->n);
		if (status != EXIT_OK)
			return status;
	}
	fputs("]\n", cli->out);
	return EXIT_OK;
}
