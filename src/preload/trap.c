/*
 * trap.c - the shim's half of `ushm-run --trap`: a SIGSYS handler that
 * serves the System V shared memory system calls the seccomp filter
 * (src/tools/run_trap.c) traps, so that programs which bypass libc's
 * shmget & co. (syscall(SYS_shmget, ...), a runtime with its own system
 * call stubs) land in ushm too.
 *
 * The filter traps the calls instead of running them; the kernel then
 * delivers SIGSYS (si_code SYS_SECCOMP) at the system call instruction,
 * with the number and the architecture in the siginfo and the arguments
 * in the saved registers.  The handler serves the call with the library
 * and puts the result where the system call's result would be (-errno
 * on failure, as the kernel returns it), then returns: the program
 * continues after the instruction as if the kernel had answered.
 *
 * The signal is synchronous: it arrives exactly where the program made
 * the system call, never in the middle of the library or of malloc, so
 * the handler may use them.  A call it cannot serve (another ABI's, such
 * as int 0x80 from a 64-bit process or x32) is never let through to the
 * kernel: the handler says so on stderr and aborts the program.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "trap.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#define REG_ARG(uc, i)                                                        \
	((uc)->uc_mcontext.gregs[(const int[]){ REG_RDI, REG_RSI, REG_RDX,   \
						REG_R10, REG_R8,              \
						REG_R9 }[i]])
#define REG_RET(uc) ((uc)->uc_mcontext.gregs[REG_RAX])
#define X32_BIT 0x40000000
#elif defined(__aarch64__)
#define REG_ARG(uc, i) ((uc)->uc_mcontext.regs[i])
#define REG_RET(uc) ((uc)->uc_mcontext.regs[0])
#define X32_BIT 0
#else
#define NO_TRAP 1
#endif

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/* Writes s to stderr as far as it goes (async-signal-safe). */
static void say(const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return; /* nowhere to say it: abort() all the same */
		s += n;
		len -= (size_t)n;
	}
}

/* Writes msg to stderr and aborts: never let the call reach the kernel. */
static void __attribute__((noreturn)) cannot_serve(const char *msg)
{
	say("ushm-run --trap: ");
	say(msg);
	say("; aborting rather than let it reach the kernel\n");
	abort();
}

#ifndef NO_TRAP
/* The result of a call the library served: the value, or -errno. */
static long result(long v, int failed)
{
	return failed ? -(long)errno : v;
}

static long serve(long nr, const long *a)
{
	void *p;
	int r;

	switch (nr) {
	case SYS_shmget:
		r = ushm_get((key_t)a[0], (size_t)a[1], (int)a[2]);
		return result(r, r < 0);
	case SYS_shmat:
		p = ushm_at((int)a[0], (const void *)a[1], (int)a[2]);
		return result((long)p, p == (void *)-1);
	case SYS_shmdt:
		r = ushm_dt((const void *)a[0]);
		return result(r, r < 0);
	case SYS_shmctl:
		r = ushm_ctl((int)a[0], (int)a[1], (struct shmid_ds *)a[2]);
		return result(r, r < 0);
	}
	cannot_serve("a trapped system call that is not shmget, shmat, "
		     "shmdt or shmctl");
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int saved = errno;
	long a[6];

	(void)sig;
	if (si->si_code != SYS_SECCOMP)
		cannot_serve("SIGSYS that is not a seccomp trap");
	if (si->si_arch != USHM_TRAP_AUDIT_ARCH ||
	    (X32_BIT && (si->si_syscall & X32_BIT)))
		cannot_serve("a System V shared memory call of another ABI "
			     "(32-bit int 0x80, x32) cannot be served");
	for (int i = 0; i < 6; i++)
		a[i] = (long)REG_ARG(uc, i);
	REG_RET(uc) = serve(si->si_syscall, a);
	errno = saved;
}

void ushm__trap_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		cannot_serve("cannot install the SIGSYS handler");
}
#else
void ushm__trap_install(void)
{
	cannot_serve("--trap is not supported on this architecture");
}
#endif
