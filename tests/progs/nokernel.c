/*
 * nokernel - run a command with the kernel's System V shared memory out
 * of reach: shmget, shmat, shmdt and shmctl (and ipc(2), which carries
 * them on some architectures) fail with ENOSYS, in the command and in
 * everything it starts.
 *
 *   nokernel COMMAND [ARGUMENT]...
 *
 * The tests run the ushm side of a comparison as "nokernel ushm-run
 * PROG": a call that escapes the shim then fails (a difference from the
 * kernel's run, or an error) instead of being served by the kernel and
 * agreeing with it.  libushm and ushmd never make these system calls.
 *
 * A seccomp filter, written by hand (no libseccomp): it checks the audit
 * architecture first, so that a process of another ABI (a 32-bit program
 * on x86_64) cannot reach the calls through numbers the filter does not
 * know: the filter kills such a process instead of letting it through.
 * no_new_privs is set first, as an unprivileged filter requires; it is
 * inherited, so set-user-ID programs run without their privileges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__arm__)
#define NATIVE_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#else
#error "nokernel: add this architecture's AUDIT_ARCH_ value"
#endif

#define ERRNO_RET(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
/* Returns ENOSYS when the call number is nr. */
#define DENY(nr)                                                   \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),           \
	BPF_STMT(BPF_RET | BPF_K, ERRNO_RET(ENOSYS))

static int install_filter(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
#ifdef __NR_shmget
		DENY(__NR_shmget),
		DENY(__NR_shmat),
		DENY(__NR_shmdt),
		DENY(__NR_shmctl),
#endif
#ifdef __NR_ipc
		DENY(__NR_ipc),
#endif
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(code) / sizeof(code[0])),
		.filter = code,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	int err;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: nokernel COMMAND [ARGUMENT]...\n"
			"Run COMMAND with shmget/shmat/shmdt/shmctl (and ipc)"
			" failing with ENOSYS.\n");
		return argc < 2 ? 125 : 0;
	}
	err = install_filter();
	if (err < 0) {
		fprintf(stderr, "nokernel: cannot install the seccomp filter:"
			" %s\n", strerror(-err));
		return 125;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nokernel: %s: %s\n", argv[1], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
