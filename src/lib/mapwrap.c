/*
 * mapwrap.c - ushm_munmap, ushm_mprotect, ushm_madvise, ushm_mremap,
 * ushm_mmap: the
 * system calls, then the attachment pieces brought up to date (see
 * pieces.c).  The shim exports them as munmap & co.; a program linked
 * with libushm calls them itself.
 *
 * Most calls concern no attachment: a process with none takes no lock,
 * and mmap without MAP_FIXED cannot land on one.  The system call is
 * made while the client lock is held, so that a shmat or shmdt in
 * another thread sees the address space and the table agree.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <linux/mman.h> /* MREMAP_DONTUNMAP */
#include <sys/syscall.h>
#include <unistd.h>

static uintptr_t page_up(size_t len)
{
	long ps = sysconf(_SC_PAGESIZE);
	uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;

	return (len + page - 1) & ~(page - 1);
}

/* Does the library follow this call: the process has attachments, and
 * the call is not made by a signal handler inside one of ours (see
 * ushm__client_reentered)? */
static int followed(void)
{
	return ushm__table_any(ushm__client_table()) &&
	       !ushm__client_reentered();
}

/* A mapping call that may change the pieces in [lo, hi) begins: the
 * errno it found kept, the lock taken, the connection settled while the
 * table and the mappings agree (ushm__pieces_settle). */
static struct ushm__attach_table *change_begin(uintptr_t lo, uintptr_t hi,
					       int *saved)
{
	struct ushm__attach_table *t;

	*saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, lo, hi);
	return t;
}

/* ... and ends, ok when its system call succeeded. */
static void change_end(struct ushm__attach_table *t, int saved, int ok)
{
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, ok);
}

int ushm_munmap(void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi;
	struct ushm__attach_table *t;
	int r, saved;

	if (!followed())
		return ushm__sys_munmap(addr, len);
	hi = lo + page_up(len);
	t = change_begin(lo, hi, &saved);
	r = ushm__sys_munmap(addr, len);
	if (r == 0)
		ushm__pieces_cut(t, lo, hi);
	change_end(t, saved, r == 0);
	return r;
}

int ushm_mprotect(void *addr, size_t len, int prot)
{
	uintptr_t lo = (uintptr_t)addr, hi;
	struct ushm__attach_table *t;
	int r, saved;

	if (!followed())
		return (int)syscall(SYS_mprotect, addr, len, prot);
	hi = lo + page_up(len);
	t = change_begin(lo, hi, &saved);
	r = (int)syscall(SYS_mprotect, addr, len, prot);
	if (r == 0)
		ushm__pieces_protect(t, lo, hi, prot);
	change_end(t, saved, r == 0);
	return r;
}

int ushm_madvise(void *addr, size_t len, int advice)
{
	uintptr_t lo = (uintptr_t)addr, hi;
	struct ushm__attach_table *t;
	int r, saved;

	if (!followed())
		return (int)syscall(SYS_madvise, addr, len, advice);
	hi = lo + page_up(len);
	t = change_begin(lo, hi, &saved);
	r = (int)syscall(SYS_madvise, addr, len, advice);
	if (r == 0)
		ushm__pieces_advise(t, lo, hi, advice);
	change_end(t, saved, r == 0);
	return r;
}

void *ushm_mremap(void *old_addr, size_t old_len, size_t new_len, int flags,
		  ...)
{
	uintptr_t lo = (uintptr_t)old_addr, hi;
	struct ushm__attach_table *t;
	void *new_addr = NULL;
	int saved;
	long r;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!followed()) {
		r = syscall(SYS_mremap, old_addr, old_len, new_len, flags,
			    new_addr);
		return r == -1 ? MAP_FAILED : (void *)r;
	}
	hi = lo + page_up(old_len);
	t = change_begin(lo, hi, &saved);
	if (flags & MREMAP_FIXED) /* what it lands on is unmapped */
		ushm__pieces_settle(t, (uintptr_t)new_addr,
				    (uintptr_t)new_addr + page_up(new_len));
	r = syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
	if (r != -1)
		ushm__pieces_remap(t, lo, old_len, (uintptr_t)r, new_len,
				   (flags & MREMAP_DONTUNMAP) != 0);
	change_end(t, saved, r != -1);
	return r == -1 ? MAP_FAILED : (void *)r;
}

void *ushm_mmap(void *addr, size_t len, int prot, int flags, int fd,
		off_t offset)
{
	uintptr_t lo = (uintptr_t)addr, hi;
	struct ushm__attach_table *t;
	int saved;
	void *p;

	/* Only MAP_FIXED replaces what is there (MAP_FIXED_NOREPLACE
	 * fails instead). */
	if (!(flags & MAP_FIXED) || !followed())
		return ushm__sys_mmap(addr, len, prot, flags, fd, offset);
	hi = lo + page_up(len);
	t = change_begin(lo, hi, &saved);
	p = ushm__sys_mmap(addr, len, prot, flags, fd, offset);
	if (p != MAP_FAILED)
		ushm__pieces_cut(t, lo, hi); /* (p is addr: MAP_FIXED) */
	change_end(t, saved, p != MAP_FAILED);
	return p;
}
