/*
 * deeplib.c - a shared library that uses System V shared memory, for
 * deepbind.c to load with RTLD_DEEPBIND: its shmget & co. bind to libc's
 * unless the shim corrects them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>

/* Creates (keyed), attaches, writes, stats, detaches; removes unless
 * keep.  Writes a line per call to out. */
int deep_roundtrip(key_t key, int keep, FILE *out)
{
	struct shmid_ds ds;
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	char *p;

	fprintf(out, "deep shmget: %s\n", id < 0 ? strerrorname_np(errno) : "ok");
	if (id < 0)
		return -1;
	p = shmat(id, NULL, 0);
	fprintf(out, "deep shmat: %s\n",
		p == (void *)-1 ? strerrorname_np(errno) : "ok");
	if (p == (void *)-1)
		return -1;
	strcpy(p, "deep");
	fprintf(out, "deep IPC_STAT: %s\n",
		shmctl(id, IPC_STAT, &ds) == 0 ? "ok" : strerrorname_np(errno));
	fprintf(out, "deep nattch %lu\n", (unsigned long)ds.shm_nattch);
	fprintf(out, "deep shmdt: %s\n",
		shmdt(p) == 0 ? "ok" : strerrorname_np(errno));
	fprintf(out, "deep shmdt again: %s\n",
		shmdt(p) == 0 ? "ok" : strerrorname_np(errno));
	if (!keep)
		fprintf(out, "deep IPC_RMID: %s\n",
			shmctl(id, IPC_RMID, NULL) == 0 ?
				"ok" :
				strerrorname_np(errno));
	return 0;
}

/* Defined by the program too: RTLD_DEEPBIND makes the library use its
 * own. */
const char *deep_name(void)
{
	return "library";
}

const char *deep_whoami(void)
{
	return deep_name();
}
