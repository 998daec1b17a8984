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

int ushm_munmap(void *addr, size_t len)
{
	struct ushm__attach_table *t;
	int r, saved;

	if (!ushm__table_any(ushm__client_table()) ||
	    ushm__client_reentered())
		return ushm__sys_munmap(addr, len);
	saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, (uintptr_t)addr,
			    (uintptr_t)addr + page_up(len));
	r = ushm__sys_munmap(addr, len);
	if (r == 0)
		ushm__pieces_cut(t, (uintptr_t)addr,
				 (uintptr_t)addr + page_up(len));
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, r == 0);
	return r;
}

int ushm_mprotect(void *addr, size_t len, int prot)
{
	struct ushm__attach_table *t;
	int r, saved;

	if (!ushm__table_any(ushm__client_table()) ||
	    ushm__client_reentered())
		return (int)syscall(SYS_mprotect, addr, len, prot);
	saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, (uintptr_t)addr,
			    (uintptr_t)addr + page_up(len));
	r = (int)syscall(SYS_mprotect, addr, len, prot);
	if (r == 0)
		ushm__pieces_protect(t, (uintptr_t)addr,
				     (uintptr_t)addr + page_up(len), prot);
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, r == 0);
	return r;
}

int ushm_madvise(void *addr, size_t len, int advice)
{
	struct ushm__attach_table *t;
	int r, saved;

	if (!ushm__table_any(ushm__client_table()) ||
	    ushm__client_reentered())
		return (int)syscall(SYS_madvise, addr, len, advice);
	saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, (uintptr_t)addr,
			    (uintptr_t)addr + page_up(len));
	r = (int)syscall(SYS_madvise, addr, len, advice);
	if (r == 0)
		ushm__pieces_advise(t, (uintptr_t)addr,
				    (uintptr_t)addr + page_up(len), advice);
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, r == 0);
	return r;
}

void *ushm_mremap(void *old_addr, size_t old_len, size_t new_len, int flags,
		  ...)
{
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
	if (!ushm__table_any(ushm__client_table()) ||
	    ushm__client_reentered()) {
		r = syscall(SYS_mremap, old_addr, old_len, new_len, flags,
			    new_addr);
		return r == -1 ? MAP_FAILED : (void *)r;
	}
	saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, (uintptr_t)old_addr,
			    (uintptr_t)old_addr + page_up(old_len));
	if (flags & MREMAP_FIXED) /* what it lands on is unmapped */
		ushm__pieces_settle(t, (uintptr_t)new_addr,
				    (uintptr_t)new_addr + page_up(new_len));
	r = syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
	if (r != -1)
		ushm__pieces_remap(t, (uintptr_t)old_addr, old_len,
				   (uintptr_t)r, new_len,
				   (flags & MREMAP_DONTUNMAP) != 0);
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, r != -1);
	return r == -1 ? MAP_FAILED : (void *)r;
}

void *ushm_mmap(void *addr, size_t len, int prot, int flags, int fd,
		off_t offset)
{
	struct ushm__attach_table *t;
	int saved;
	void *p;

	/* Only MAP_FIXED replaces what is there (MAP_FIXED_NOREPLACE
	 * fails instead). */
	if (!(flags & MAP_FIXED) || !ushm__table_any(ushm__client_table()) ||
	    ushm__client_reentered())
		return ushm__sys_mmap(addr, len, prot, flags, fd, offset);
	saved = errno;
	t = ushm__client_lock();
	ushm__pieces_settle(t, (uintptr_t)addr, (uintptr_t)addr + page_up(len));
	p = ushm__sys_mmap(addr, len, prot, flags, fd, offset);
	if (p != MAP_FAILED)
		ushm__pieces_cut(t, (uintptr_t)p, (uintptr_t)p + page_up(len));
	ushm__pieces_change_done(t);
	ushm__client_unlock();
	ushm__errno_keep(saved, p != MAP_FAILED);
	return p;
}
