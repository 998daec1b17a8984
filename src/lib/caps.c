/*
 * caps.c - this thread's own capabilities, by capget (no libcap, no
 * /proc read).
 *
 * The library asks only where a capability changes an answer it could
 * give itself; whether a capability counts (in the daemon's user
 * namespace) is the daemon's to decide, from what the kernel tells it.
 */
#define _GNU_SOURCE
#include "client.h"

#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int ushm__thread_has_cap(int cap, int unknown)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (cap < 0 || CAP_TO_INDEX(cap) >= _LINUX_CAPABILITY_U32S_3)
		return unknown;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return unknown;
	return !!(d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap));
}
