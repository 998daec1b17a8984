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

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Changes to mappings: an attachment's pieces are counted as Linux
 * counts them (pieces.c). */
static int shim_munmap(void *addr, size_t len)
{
	return ushm_munmap(addr, len);
}

static int shim_mprotect(void *addr, size_t len, int prot)
{
	return ushm_mprotect(addr, len, prot);
}

static int shim_madvise(void *addr, size_t len, int advice)
{
	return ushm_madvise(addr, len, advice);
}

static void *shim_mremap(void *old, size_t old_len, size_t new_len,
			 int flags, ...)
{
	void *new_addr = NULL;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return ushm_mremap(old, old_len, new_len, flags, new_addr);
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	return ushm_mmap(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
	return shim_munmap(addr, len);
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	return shim_mprotect(addr, len, prot);
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	return shim_madvise(addr, len, advice);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...)
{
	void *new_addr = NULL;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return ushm_mremap(old, old_len, new_len, flags, new_addr);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

/* The same as mmap where off_t is 64 bits (every target of the shim's
 * seccomp and DEEPBIND support). */
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
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
	{ "munmap", (void *)shim_munmap },
	{ "mprotect", (void *)shim_mprotect },
	{ "madvise", (void *)shim_madvise },
	{ "mremap", (void *)shim_mremap },
	{ "mmap", (void *)shim_mmap },
	{ "mmap64", (void *)shim_mmap },
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
