/*
 * mixed.c - one process, both entry points: ushm_get/ushm_at through
 * libushm.so, then shmdt/shmctl by their SysV names (the shim's under
 * ushm-run), and the other way round.  With one library per process
 * there is one attachment table: every call finds the other's
 * attachment and nattch is 0 after the detach.
 *
 * Prints one line per step; exits 0 when every step went as on Linux.
 */
#include "ushm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>

static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : strerror(errno));
	failed |= !ok;
}

static unsigned long nattch(int id)
{
	struct shmid_ds ds;

	if (ushm_ctl(id, IPC_STAT, &ds) != 0)
		return (unsigned long)-1;
	return (unsigned long)ds.shm_nattch;
}

int main(void)
{
	int id = ushm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	void *p;

	check("ushm_get", id >= 0);
	if (id < 0)
		return 1;
	p = ushm_at(id, NULL, 0);
	check("ushm_at", p != (void *)-1);
	check("shmdt of ushm_at's attachment", shmdt(p) == 0);
	check("nattch 0 after it", nattch(id) == 0);

	p = shmat(id, NULL, 0);
	check("shmat", p != (void *)-1);
	check("nattch 1 by ushm_ctl", nattch(id) == 1);
	check("ushm_dt of shmat's attachment", ushm_dt(p) == 0);
	check("nattch 0 again", nattch(id) == 0);
	check("shmctl IPC_RMID of ushm_get's segment",
	      shmctl(id, IPC_RMID, NULL) == 0);
	return failed;
}
