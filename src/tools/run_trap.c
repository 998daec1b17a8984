/*
 * run_trap.c - the seccomp filter of `ushm-run --trap`, written out as
 * classic BPF (no libseccomp: libc is the only dependency).
 *
 * The filter traps (SECCOMP_RET_TRAP) exactly the System V shared memory
 * system calls: shmget, shmat, shmdt, shmctl, and the ipc() multiplexer
 * on architectures that have one; every other call is allowed untouched.
 * The same calls of the other ABIs a process can reach (on x86-64: the
 * i386 ones by int 0x80, with their ipc(), and x32's) trap as well: the
 * shim cannot serve them, so its handler stops the program rather than
 * let them reach the kernel.  TRAP takes precedence over ERRNO and ALLOW
 * whatever the order of filters, so this stacks with a filter that
 * denies the kernel's SysV calls.
 *
 * Installed just before exec; it stays for the program and everything
 * it starts (seccomp filters cannot be removed).  A process without
 * CAP_SYS_ADMIN must first set no_new_privs, which makes setuid and
 * file-capability programs run without their privileges.
 */
#define _GNU_SOURCE
#include "run_trap.h"
#include "../preload/trap.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARCH_OFF offsetof(struct seccomp_data, arch)

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
/* If A == k, go on t instructions after this one, else f (targets are
 * numbered in the comments below). */
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

#ifndef SYS_ipc
#define NATIVE_IPC 0
#else
#define NATIVE_IPC 1
#endif

int run_trap_install(void)
{
#ifdef USHM_TRAP_AUDIT_ARCH
	struct sock_filter f[] = {
		/* 0 */ LOAD(ARCH_OFF),
		/* 1 */ JEQ(USHM_TRAP_AUDIT_ARCH, 0, 8),
		/* 2 */ LOAD(NR_OFF),
#if defined(__x86_64__)
		/* x32 calls carry bit 30: trap theirs too. */
		/* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x40000000u),
#else
		/* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0u),
#endif
		/* 4 */ JEQ(SYS_shmget, 12, 0),
		/* 5 */ JEQ(SYS_shmat, 11, 0),
		/* 6 */ JEQ(SYS_shmdt, 10, 0),
		/* 7 */ JEQ(SYS_shmctl, 9, 0),
#if NATIVE_IPC
		/* 8 */ JEQ(SYS_ipc, 8, 0),
#else
		/* 8 */ JEQ(SYS_shmctl, 8, 0),
#endif
		/* 9: not ours */ RET(SECCOMP_RET_ALLOW),
#if defined(__x86_64__)
		/* 10: another arch: i386's ipc() and shm calls */
		/* 10 */ JEQ(AUDIT_ARCH_I386, 0, 5),
		/* 11 */ LOAD(NR_OFF),
		/* 12 */ JEQ(117, 4, 0),  /* ipc */
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 395, 0, 2),
		/* 14 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 398, 1, 0),
		/* 15 */ RET(SECCOMP_RET_TRAP), /* 395..398: shm* */
		/* 16 */ RET(SECCOMP_RET_ALLOW),
#else
		/* 10 */ RET(SECCOMP_RET_ALLOW),
		/* 11 */ RET(SECCOMP_RET_ALLOW),
		/* 12 */ RET(SECCOMP_RET_ALLOW),
		/* 13 */ RET(SECCOMP_RET_ALLOW),
		/* 14 */ RET(SECCOMP_RET_ALLOW),
		/* 15 */ RET(SECCOMP_RET_ALLOW),
		/* 16 */ RET(SECCOMP_RET_ALLOW),
#endif
		/* 17 */ RET(SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	/* Without CAP_SYS_ADMIN the kernel insists on no_new_privs; root
	 * keeps setuid programs working. */
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
		if (errno != EACCES ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
			    &prog) != 0)
			return -errno;
	}
	return 0;
#else
	return -ENOSYS;
#endif
}
