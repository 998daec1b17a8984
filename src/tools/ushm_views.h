/*
 * ushm_views.h - the views of "ushm ls", one per ipcs -m flag, and the
 * JSON listing.  Each writes to cli->out and returns an exit status.
 */
#ifndef USHM_VIEWS_H
#define USHM_VIEWS_H

#include "ushm_cli.h"
#include "ushm_fmt.h"

/* How sizes are shown: ipcs's default, --bytes or --human. */
enum unit { UNIT_DEFAULT, UNIT_BYTES, UNIT_HUMAN };

int view_table(struct cli *cli, const struct seg_table *t,
	       struct namebuf *nb, enum unit unit);
int view_times(struct cli *cli, const struct seg_table *t,
	       struct namebuf *nb);
int view_pids(struct cli *cli, const struct seg_table *t,
	      struct namebuf *nb);
int view_creators(struct cli *cli, const struct seg_table *t,
		  struct namebuf *nb);
/* One segment in detail (ipcs -m -i ID). */
void view_one(struct cli *cli, const struct seg *seg, enum unit unit);
/* -l and -u read the backend's IPC_INFO and SHM_INFO themselves. */
int view_limits(struct cli *cli, enum unit unit);
int view_summary(struct cli *cli);
/* One JSON object per segment, in an array; holders where known. */
int view_json(struct cli *cli, const struct seg_table *t);

/* "cannot WHAT: strerror (ENAME)" on stderr; the status it deserves. */
int report_errno(const struct cli *cli, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* USHM_VIEWS_H */
