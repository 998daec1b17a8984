/*
 * ushm_fmt.c - sizes, times and names the way ipcs prints them.
 */
#include "ushm_fmt.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fmt_human(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned exp = 0;
	uint64_t whole, rem, unit, tenth;

	while (exp < 6 && bytes >> (10 * (exp + 1)))
		exp++;
	unit = (uint64_t)1 << (10 * exp);
	whole = bytes >> (10 * exp);
	rem = bytes & (unit - 1);
	/*
	 * One decimal, rounded to nearest (observed: 1075 bytes is "1K",
	 * 1076 is "1.1K", 2047 is "2K"); a carry goes into the whole
	 * part without moving to the next unit ("1024K").  rem * 10 fits:
	 * rem < 2^60.
	 */
	tenth = exp ? (rem * 10 + unit / 2) / unit : 0;
	if (tenth == 10) {
		whole++;
		tenth = 0;
	}
	if (tenth)
		snprintf(buf, len, "%ju.%ju%c", (uintmax_t)whole,
			 (uintmax_t)tenth, units[exp]);
	else
		snprintf(buf, len, "%ju%c", (uintmax_t)whole, units[exp]);
}

/* ctime's fixed-width form without its newline, or "" on failure. */
static void ctime_text(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	if (!localtime_r(&tt, &tm) ||
	    strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		buf[0] = '\0';
	snprintf(out, len, "%s", buf);
}

void fmt_time_short(int64_t t, char *buf, size_t len)
{
	char full[64];

	if (t == 0) {
		snprintf(buf, len, "Not set");
		return;
	}
	ctime_text(t, full, sizeof(full));
	/* Without the weekday and the year: "Nov 23 06:24:34". */
	snprintf(buf, len, "%.15s", strlen(full) > 4 ? full + 4 : full);
}

void fmt_time_long(int64_t t, char *buf, size_t len)
{
	if (t == 0) {
		snprintf(buf, len, "Not set");
		return;
	}
	ctime_text(t, buf, len);
}

int namebuf_init(struct namebuf *nb)
{
	nb->len = 1024;
	nb->buf = malloc(nb->len);
	return nb->buf ? 0 : -1;
}

void namebuf_free(struct namebuf *nb)
{
	free(nb->buf);
	nb->buf = NULL;
	nb->len = 0;
}

static int grow(struct namebuf *nb)
{
	char *g = realloc(nb->buf, nb->len * 2);

	if (!g) {
		errno = ENOMEM;
		return -1;
	}
	nb->buf = g;
	nb->len *= 2;
	return 0;
}

int user_name(struct namebuf *nb, uid_t uid, char *name, size_t len)
{
	struct passwd pw, *res = NULL;
	int r;

	name[0] = '\0';
	while ((r = getpwuid_r(uid, &pw, nb->buf, nb->len, &res)) == ERANGE)
		if (grow(nb) < 0)
			return -1;
	/*
	 * ipcs shows the number whenever no name comes back, errors
	 * included; so do we, rather than fail a listing over one owner.
	 */
	if (r == 0 && res)
		snprintf(name, len, "%s", res->pw_name);
	return 0;
}

int group_name(struct namebuf *nb, gid_t gid, char *name, size_t len)
{
	struct group gr, *res = NULL;
	int r;

	name[0] = '\0';
	while ((r = getgrgid_r(gid, &gr, nb->buf, nb->len, &res)) == ERANGE)
		if (grow(nb) < 0)
			return -1;
	if (r == 0 && res)
		snprintf(name, len, "%s", res->gr_name);
	return 0;
}

void user_or_uid(struct namebuf *nb, uid_t uid, char *buf, size_t len)
{
	if (user_name(nb, uid, buf, len) < 0 || !buf[0])
		snprintf(buf, len, "%u", (unsigned int)uid);
}

void group_or_gid(struct namebuf *nb, gid_t gid, char *buf, size_t len)
{
	if (group_name(nb, gid, buf, len) < 0 || !buf[0])
		snprintf(buf, len, "%u", (unsigned int)gid);
}
