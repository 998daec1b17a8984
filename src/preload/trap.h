/*
 * trap.h - what the seccomp filter of `ushm-run --trap` and the shim's
 * SIGSYS handler agree on.
 */
#ifndef USHM_TRAP_H
#define USHM_TRAP_H

#include <linux/audit.h>

/* Set in the environment by ushm-run --trap: the shim installs its
 * SIGSYS handler at load. */
#define USHM_TRAP_ENV "USHM_TRAP"

/* The architecture the filter serves; every other one's shm calls trap
 * too, and the handler refuses them loudly. */
#if defined(__x86_64__)
#define USHM_TRAP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define USHM_TRAP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Installs the SIGSYS handler (preload only). */
void ushm__trap_install(void);

#endif /* USHM_TRAP_H */
