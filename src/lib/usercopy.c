/*
 * usercopy.c - copies to or from the caller's buffer as the kernel's
 * copy_to_user and copy_from_user do: a buffer the process cannot write
 * (or read) gives EFAULT instead of a crash.
 *
 * Out to the caller, in order of cost:
 *  - A buffer in the live part of the main thread's stack (between this
 *    call's own frame and the stack's top) is mapped and writable: no
 *    system call.  That is where IPC_STAT's buffer usually is.
 *  - Elsewhere, probed by getrandom (user_writable).
 *  - Where that cannot tell, process_vm_writev on ourselves, which also
 *    writes the accessible part of a buffer that ends in a page the
 *    caller cannot write, as the kernel does.
 * In from the caller (IPC_SET, rare): process_vm_readv.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

/* The initial stack pointer of the main thread (glibc's dynamic linker
 * and static start code set it; absent elsewhere, hence weak): every
 * byte between a frame of the main thread and it is mapped stack.  Its
 * name is glibc's, reserved for it: we only read it. */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
extern void *__libc_stack_end __attribute__((weak));

/* How far below the main stack's top a frame may be and still be taken
 * for one of the main thread's own.  The kernel keeps at least 128 MiB
 * below the stack's top free of anything mmap places (mmap_base), so
 * a thread's stack, a coroutine's or a signal stack is never this close
 * (bar MAP_FIXED); a main thread deeper than this takes the probe. */
#define MAIN_STACK_SPAN ((uintptr_t)8 << 20)

/*
 * Is [dst, dst + len) in the live part of the main thread's stack, above
 * a frame of this call?  Then it is mapped and writable: the stack's
 * pages above the stack pointer are all there.  Not for other threads:
 * learning where their stacks end costs more than the probe
 * (pthread_getattr_np allocates); not where stacks grow up.
 */
static int on_live_main_stack(const void *dst, size_t len)
{
#if defined(__hppa__)
	(void)dst;
	(void)len;
	return 0;
#else
	/* volatile: a real address in this frame, not one the compiler
	 * could move elsewhere (sanitizers' fake stacks are elsewhere, and
	 * then the check fails safely). */
	volatile char here = 0;
	uintptr_t top = (uintptr_t)&__libc_stack_end ?
				(uintptr_t)__libc_stack_end : 0;
	uintptr_t low = (uintptr_t)&here, p = (uintptr_t)dst;

	return top != 0 && low < top && top - low <= MAIN_STACK_SPAN &&
	       p > low && len <= top - p;
#endif
}

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
static int user_writable(void *dst, size_t len)
{
	ssize_t n;

	if (on_live_main_stack(dst, len))
		return 1;
	n = getrandom(dst, len, GRND_INSECURE);
	if (n == (ssize_t)len)
		return 1;
	return n < 0 && errno == EFAULT ? 0 : -1;
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
