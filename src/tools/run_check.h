/*
 * run_check.h - ushm-run's look at a program before it runs it.
 */
#ifndef USHM_RUN_CHECK_H
#define USHM_RUN_CHECK_H

#include <stddef.h>

/* Finds name as execvp would (PATH unless it has a '/') into out.
 * 0 or -errno (-ENOENT). */
int run_find_program(const char *name, char *out, size_t len);

/* Can the shim reach the program at path (a dynamically linked ELF of
 * our class and machine, or a script whose interpreter is one)?  0, or
 * -1 with the reason and what to do in why. */
int run_check_program(const char *path, char *why, size_t len);

#endif /* USHM_RUN_CHECK_H */
