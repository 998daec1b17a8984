/*
 * rawsys.c - System V shared memory by raw system calls only, the way
 * LTP's tst_syscall variants or a runtime without libc make them:
 * syscall(SYS_shmget, ...) never goes through libc's shmget, so only
 * `ushm-run --trap` can put it on ushm.
 *
 *   rawsys KEY            create, attach, write, stat, detach, remove
 *   rawsys KEY keep       the same, but leave the segment (for a look)
 *   rawsys KEY x32        an x32 shmget (x86-64 only: the number with
 *                         bit 30): the trap handler must refuse it
 *                         loudly (the kernel says ENOSYS without x32)
 *   rawsys KEY int80      a 32-bit shmget by int 0x80 (x86-64 only):
 *                         refused loudly as well
 *   rawsys KEY getpid80   getpid by int 0x80: does this kernel have the
 *                         32-bit entry at all?
 *
 * Prints what each call returned; the same lines on the kernel and on
 * ushm.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: ok\n", what);
}

int main(int argc, char **argv)
{
	key_t key = argc > 1 ? (key_t)strtol(argv[1], NULL, 0) : IPC_PRIVATE;
	const char *mode = argc > 2 ? argv[2] : "";
	struct shmid_ds ds;
	long id, r;
	char *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
#if defined(__x86_64__)
	if (strcmp(mode, "x32") == 0) {
		r = syscall(0x40000000L | SYS_shmget, key, 4096,
			    IPC_CREAT | 0600);
		say("x32 shmget", r);
		if (r >= 0)
			syscall(SYS_shmctl, r, IPC_RMID, NULL);
		return 0;
	}
	if (strcmp(mode, "int80") == 0 || strcmp(mode, "getpid80") == 0) {
		long nr = mode[0] == 'i' ? 395 : 20; /* i386 shmget, getpid */

		__asm__ volatile("int $0x80"
				 : "=a"(r)
				 : "a"(nr), "b"((long)key), "c"(4096L),
				   "d"((long)(IPC_CREAT | 0600))
				 : "memory");
		printf("int 0x80 returned %s\n", r < 0 ? "an error" : "ok");
		if (nr == 395 && r >= 0)
			syscall(SYS_shmctl, r, IPC_RMID, NULL);
		return 0;
	}
#endif
	id = syscall(SYS_shmget, key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	say("shmget", id);
	if (id < 0)
		return 1;
	say("shmget again, wrong size", syscall(SYS_shmget, key, 8192, 0));
	p = (char *)syscall(SYS_shmat, id, NULL, 0);
	say("shmat", p == (char *)-1 ? -1 : 0);
	if (p == (char *)-1)
		return 1;
	strcpy(p, "raw");
	r = syscall(SYS_shmctl, id, IPC_STAT, &ds);
	say("IPC_STAT", r);
	printf("segsz %zu nattch %lu\n", (size_t)ds.shm_segsz,
	       (unsigned long)ds.shm_nattch);
	say("shmdt", syscall(SYS_shmdt, p));
	say("shmdt again", syscall(SYS_shmdt, p));
	say("shmctl bad cmd", syscall(SYS_shmctl, id, 12345, NULL));
	r = syscall(SYS_shmctl, id, IPC_STAT, &ds);
	printf("nattch after shmdt %lu\n", (unsigned long)ds.shm_nattch);
	if (strcmp(mode, "keep") != 0)
		say("IPC_RMID", syscall(SYS_shmctl, id, IPC_RMID, NULL));
	return 0;
}
