/*
 * rawsys.h - the few system calls a forked child makes before fork()
 * returns to it, made without libc.
 *
 * A child's page tables hold none of its parent's file pages: the first
 * call of each libc function in the child faults in a window of libc's
 * code, and fstat(), which glibc makes an fstatat() of "", one of its
 * data too.  A fork server's child pays those faults at every fork, 2 to
 * 4 us each on a virtual machine.  The fork protocol's child side (and
 * what it shares with the parent: the connection's checks, its sends)
 * calls the kernel directly instead; libushm's own code is one window.
 *
 * Each returns what the kernel does: a result, or -errno.  errno is left
 * alone (it is thread-local data: one more page written).  These are
 * not cancellation points, as shmget and its kin are not.  The inline
 * form is x86_64's (the one this is measured and tested on); elsewhere
 * libc's syscall() and fstat() serve.
 */
#ifndef USHM_RAWSYS_H
#define USHM_RAWSYS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long ushm__rawsys(long n, long a, long b, long c)
{
#if defined(__x86_64__)
	long r;

	__asm__ __volatile__("syscall"
			     : "=a"(r)
			     : "a"(n), "D"(a), "S"(b), "d"(c)
			     : "rcx", "r11", "memory");
	return r;
#else
	long r = syscall(n, a, b, c);

	return r < 0 ? -errno : r;
#endif
}

static inline int ushm__raw_getpid(void)
{
	return (int)ushm__rawsys(SYS_getpid, 0, 0, 0);
}

static inline int ushm__raw_close(int fd)
{
	return (int)ushm__rawsys(SYS_close, fd, 0, 0);
}

static inline int ushm__raw_fcntl(int fd, int cmd, long arg)
{
	return (int)ushm__rawsys(SYS_fcntl, fd, cmd, arg);
}

static inline long ushm__raw_sendmsg(int fd, const struct msghdr *mh,
				     int flags)
{
	return ushm__rawsys(SYS_sendmsg, fd, (long)mh, flags);
}

/* The kernel's struct stat is the C library's on x86_64; elsewhere
 * libc's fstat. */
static inline int ushm__raw_fstat(int fd, struct stat *st)
{
#if defined(__x86_64__)
	return (int)ushm__rawsys(SYS_fstat, fd, (long)st, 0);
#else
	return fstat(fd, st) < 0 ? -errno : 0;
#endif
}

#endif
