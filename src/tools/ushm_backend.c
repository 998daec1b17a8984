/*
 * ushm_backend.c - the two tables the listing and removal code runs on:
 * ushm's segments through libushm, or the kernel's through libc.
 */
#include "ushm_cli.h"

#include <errno.h>
#include <stdlib.h>

const struct backend backend_ushm = {
	.name = "ushm",
	.get = ushm_get,
	.ctl = ushm_ctl,
	.at = ushm_at,
	.dt = ushm_dt,
	.holders = ushm_holders,
};

const struct backend backend_kernel = {
	.name = "kernel",
	.get = shmget,
	.ctl = shmctl,
	.at = shmat,
	.dt = shmdt,
	.holders = NULL,
};

int fetch_holders(const struct backend *be, int shmid,
		  struct ushm_holder **out)
{
	struct ushm_holder *v = NULL, *g;
	size_t cap = 16;
	int n;

	*out = NULL;
	if (!be->holders) {
		errno = ENOTSUP;
		return -1;
	}
	/* The list can grow between calls: retry until it fits. */
	for (;;) {
		g = realloc(v, cap * sizeof(*v));
		if (!g) {
			free(v);
			errno = ENOMEM;
			return -1;
		}
		v = g;
		n = be->holders(shmid, v, cap);
		if (n < 0) {
			free(v);
			return -1;
		}
		if ((size_t)n <= cap)
			break;
		cap = (size_t)n + 16;
	}
	*out = v;
	return n;
}
