/*
 * run_trap.h - the seccomp filter of `ushm-run --trap`.
 */
#ifndef USHM_RUN_TRAP_H
#define USHM_RUN_TRAP_H

/* Installs the filter on this process (inherited across exec and fork).
 * 0, or -errno (-ENOSYS: no filter for this architecture). */
int run_trap_install(void);

#endif /* USHM_RUN_TRAP_H */
