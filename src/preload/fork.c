/*
 * fork.c - the shim's fork: the parent names its child to the daemon.
 *
 * The library's fork handlers give the child a connection of its own
 * with the inherited attachments queued on it, and the child announces
 * itself on it (HELLO) as soon as it runs.  A child killed before it
 * runs a single instruction never does; Linux then sets shm_lpid to the
 * child's pid at its exit, and only the parent knows that pid, once
 * libc's fork returns.  Wrapping fork lets the library tell the daemon
 * (ushm__fork, without waiting for it).
 */
#define _GNU_SOURCE
#include "../lib/client.h"

#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef pid_t (*fork_fn)(void);

/* Resolved once, by the constructor, before any thread. */
static fork_fn real_fork;

__attribute__((constructor)) static void fork_setup(void)
{
	real_fork = (fork_fn)dlsym(RTLD_NEXT, "fork");
}

EXPORT pid_t fork(void)
{
	if (!real_fork) {
		errno = ENOSYS;
		return -1;
	}
	return ushm__fork(real_fork);
}
