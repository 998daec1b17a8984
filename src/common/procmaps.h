/*
 * procmaps.h - reading /proc/PID/maps, one mapping at a time.  The daemon
 * counts its clients' mappings of segment files; the library finds its
 * own for shmdt.
 */
#ifndef USHM_PROCMAPS_H
#define USHM_PROCMAPS_H

#include <stdint.h>
#include <stdio.h>

struct ushm__vma {
	uint64_t start, end; /* [start, end) */
	uint64_t off;        /* offset in the file */
	unsigned maj, min;   /* the file's device */
	unsigned long ino;   /* its inode; 0: not a file */
};

/* Reads the next mapping from f (a maps file) into *v.  Returns 1, or 0
 * at the end.  Lines it cannot parse are passed over. */
int ushm__vma_next(FILE *f, struct ushm__vma *v);

#endif
