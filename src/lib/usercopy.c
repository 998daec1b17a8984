/*
 * usercopy.c - copies to or from the caller's buffer as the kernel's
 * copy_to_user and copy_from_user do: a buffer the process cannot write
 * (or read) gives EFAULT instead of a crash.
 *
 * Out to the caller: probed by getresuid, else getrandom
 * (user_writable); where that cannot tell, process_vm_writev on
 * ourselves, which also writes the accessible part of a buffer that ends
 * in a page the caller cannot write, as the kernel does.  In from the
 * caller (IPC_SET, rare): process_vm_readv.
 *
 * No shortcut for a buffer on the stack: a program may make a page of
 * its own stack read-only (mprotect), and the kernel then fails with
 * EFAULT where a plain copy would crash.  Only the kernel can tell.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* getrandom's flag for bytes that need no entropy and never block
 * (Linux 5.6; glibc's headers name it from 2.36). */
#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

/*
 * Is dst writable for len bytes, as the kernel's copy_to_user sees it?
 * getrandom(2) writes its bytes with copy_to_user into the calling
 * thread's memory, exactly as IPC_STAT writes the caller's buffer: it
 * fails with EFAULT where the kernel's IPC_STAT would, and costs one
 * system call, with no pid to name (no getpid, nothing cached across
 * fork, vfork or clone) and no ptrace-style access check, which a
 * sandbox may refuse.  The bytes it leaves are overwritten by the
 * caller.  1 writable; 0 not at all (EFAULT, nothing written); -1 when
 * it cannot tell (a part written, or getrandom unavailable or refused:
 * an older kernel, a seccomp filter): the caller takes the slow path.
 */
static int writable_by_getrandom(void *dst, size_t len)
{
	ssize_t n = getrandom(dst, len, GRND_INSECURE);

	if (n == (ssize_t)len)
		return 1;
	return n < 0 && errno == EFAULT ? 0 : -1;
}

/* getresuid with 32-bit ids: on i386 and 32-bit Arm the plain call is the
 * old one, which stores 16-bit ids (two bytes, not four). */
#ifdef SYS_getresuid32
#define SYS_GETRESUID_32BIT SYS_getresuid32
#else
#define SYS_GETRESUID_32BIT SYS_getresuid
#endif

/*
 * The same question, asked for less: writability goes by whole pages, and
 * a buffer no longer than a page lies in at most two, its first byte's
 * and its last's.  getresuid(2) stores a uid at each of the three places
 * it is given, in order, as the kernel stores to user memory: here the
 * buffer's first four bytes, a word of ours, and its last four bytes.
 * It succeeds only if both pages take a store.  It costs about a quarter
 * of getrandom's 112 bytes, which the kernel makes with ChaCha20 (more
 * than half of an IPC_STAT's time on the benchmark's machine).  When it
 * fails, the answer (nothing written, or the first page only) is
 * getrandom's.
 */
static int user_writable(void *dst, size_t len)
{
	uint32_t scratch;

	_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "32-bit ids");
	/* (The last word's address is worked out as an integer: dst may be
	 * any value at all, (void *)-1 say, where pointer arithmetic would
	 * be undefined.) */
	if (len >= sizeof(uid_t) && len <= 4096 &&
	    syscall(SYS_GETRESUID_32BIT, dst, &scratch,
		    (void *)((uintptr_t)dst + len - sizeof(uid_t))) == 0)
		return 1;
	return writable_by_getrandom(dst, len);
}

int ushm__user_copy(void *dst, const void *src, size_t len, int to_user)
{
	struct iovec local = { to_user ? (void *)src : dst, len };
	struct iovec remote = { to_user ? dst : (void *)src, len };
	ssize_t n;

	if (to_user) {
		int w = user_writable(dst, len);

		if (w == 1) {
			memcpy(dst, src, len);
			return 0;
		}
		if (w == 0)
			return -EFAULT;
	}
	if (to_user)
		n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	else
		n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len) {
		/* Now known to be accessible: copy once more in plain
		 * sight, so that tools like valgrind see the bytes
		 * written (they do not follow process_vm_*). */
		memcpy(dst, src, len);
		return 0;
	}
	if (n < 0 && errno != EFAULT) {
		/* Not permitted here (seccomp, say): copy directly. */
		memcpy(dst, src, len);
		return 0;
	}
	return -EFAULT;
}
