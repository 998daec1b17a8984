/*
 * sysv.c - is there System V shared memory at all?  The harness runs this
 * against the kernel first and skips the suite when shmget says ENOSYS;
 * it is also a (tiny) conformance program like the others.
 */
#include "conf.h"

int
main(void)
{
	int id, e;

	conf_init();
	id = xget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	e = errno;
	say("shmget(IPC_PRIVATE, 1, IPC_CREAT|0600): %s", res(id, e));
	if (id < 0)
		return e == ENOSYS ? 77 : 1;
	say("shmctl(IPC_RMID): %s", R(shmctl(id, IPC_RMID, NULL)));
	return 0;
}
