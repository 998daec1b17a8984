/*
 * ushm_fmt.h - formatting shared by the views: sizes as ipcs --human
 * shows them, times as ipcs shows them, and user and group names.
 */
#ifndef USHM_FMT_H
#define USHM_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* "1B", "4.9K", "2M", "16E": one decimal, dropped when it rounds to 0. */
void fmt_human(uint64_t bytes, char *buf, size_t len);

/* "Nov 23 06:24:34" (ipcs -t), or "Not set" for 0. */
void fmt_time_short(int64_t t, char *buf, size_t len);
/* "Mon Nov 23 06:24:34 2026" (ipcs -i), or "Not set" for 0. */
void fmt_time_long(int64_t t, char *buf, size_t len);

/* A scratch buffer for getpwuid_r/getgrgid_r, grown as needed. */
struct namebuf {
	char *buf;
	size_t len;
};

int namebuf_init(struct namebuf *nb);
void namebuf_free(struct namebuf *nb);

/*
 * The name of uid (gid) in name, or "" when it has none (ipcs then
 * shows the number).  Returns -1 with errno only when out of memory.
 */
int user_name(struct namebuf *nb, uid_t uid, char *name, size_t len);
int group_name(struct namebuf *nb, gid_t gid, char *name, size_t len);

/* The name, or the number when there is none: for one-off messages. */
void user_or_uid(struct namebuf *nb, uid_t uid, char *buf, size_t len);
void group_or_gid(struct namebuf *nb, gid_t gid, char *buf, size_t len);

#endif /* USHM_FMT_H */
