/*
 * preload.c - libushm-preload.so: shmget, shmat, shmdt and shmctl for
 * programs that do not know about ushm.  Loaded with LD_PRELOAD (see
 * ushm-run), these definitions come before libc's, so the program's
 * System V calls reach ushmd instead of the kernel.
 *
 * preload.map exports exactly these four names with no version node: a
 * versioned definition would lose to glibc's shmget@GLIBC_2.2.5, which is
 * what programs are linked against.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "trap.h"

#include <stdlib.h>
#include <string.h>

/* Built with -fvisibility=hidden like the rest of the library. */
#define EXPORT __attribute__((visibility("default")))

EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	return ushm_get(key, size, shmflg);
}

EXPORT void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	return ushm_at(shmid, shmaddr, shmflg);
}

EXPORT int shmdt(const void *shmaddr)
{
	return ushm_dt(shmaddr);
}

EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	return ushm_ctl(shmid, cmd, buf);
}

/* Under `ushm-run --trap`, the seccomp filter turns the SysV system
 * calls into SIGSYS: serve them from the first instruction on. */
__attribute__((constructor)) static void preload_init(void)
{
	const char *trap = getenv(USHM_TRAP_ENV);

	if (trap && strcmp(trap, "1") == 0)
		ushm__trap_install();
}
