/*
 * procmaps.c - one line of /proc/PID/maps: "start-end perms off maj:min
 * inode path".
 */
#include "procmaps.h"

#include <string.h>

int ushm__vma_next(FILE *f, struct ushm__vma *v)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		int ok = sscanf(line, "%llx-%llx %*4s %llx %x:%x %lu", &start,
				&end, &off, &v->maj, &v->min, &v->ino) == 6;

		/* A line longer than the buffer: skip its remainder. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
		if (ok) {
			v->start = start;
			v->end = end;
			v->off = off;
			return 1;
		}
	}
	return 0;
}
