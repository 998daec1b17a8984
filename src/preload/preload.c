/*
 * preload.c - libushm-preload.so: shmget, shmat, shmdt and shmctl for
 * programs that do not know about ushm.  Loaded with LD_PRELOAD (see
 * ushm-run), these definitions come before libc's, so the program's
 * System V calls reach ushmd instead of the kernel.  The library itself
 * is libushm.so, shared with any part of the program that calls ushm_*.
 *
 * preload.map exports exactly the shim's names with no version node: a
 * versioned definition would lose to glibc's shmget@GLIBC_2.2.5, which is
 * what programs are linked against.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "deepbind.h"
#include "trap.h"

#include <stdlib.h>
#include <string.h>

/* Built with -fvisibility=hidden like the rest of the library. */
#define EXPORT __attribute__((visibility("default")))

/* The bodies are static, so that the DEEPBIND patcher stores their
 * addresses, not whatever the global scope resolves the names to. */
static int shim_shmget(key_t key, size_t size, int shmflg)
{
	return ushm_get(key, size, shmflg);
}

static void *shim_shmat(int shmid, const void *shmaddr, int shmflg)
{
	return ushm_at(shmid, shmaddr, shmflg);
}

static int shim_shmdt(const void *shmaddr)
{
	return ushm_dt(shmaddr);
}

static int shim_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	return ushm_ctl(shmid, cmd, buf);
}

EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	return shim_shmget(key, size, shmflg);
}

EXPORT void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	return shim_shmat(shmid, shmaddr, shmflg);
}

EXPORT int shmdt(const void *shmaddr)
{
	return shim_shmdt(shmaddr);
}

EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	return shim_shmctl(shmid, cmd, buf);
}

extern void *dlopen(const char *file, int mode); /* deepbind.c */

const struct ushm__override ushm__overrides[] = {
	{ "shmget", (void *)shim_shmget },
	{ "shmat", (void *)shim_shmat },
	{ "shmdt", (void *)shim_shmdt },
	{ "shmctl", (void *)shim_shmctl },
	/* A deep-bound library's own dlopen calls must deep-bind through
	 * the shim as well. */
	{ "dlopen", (void *)dlopen },
	{ NULL, NULL },
};

/* Finds libc's dlopen before anything can call ours; under `ushm-run
 * --trap`, the seccomp filter turns the SysV system calls into SIGSYS:
 * serve them from the first instruction on. */
__attribute__((constructor)) static void preload_init(void)
{
	const char *trap = getenv(USHM_TRAP_ENV);

	ushm__deepbind_init();
	if (trap && strcmp(trap, "1") == 0)
		ushm__trap_install();
}
