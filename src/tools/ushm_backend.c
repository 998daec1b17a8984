/*
 * ushm_backend.c - the two tables the listing and removal code runs on:
 * ushm's segments through libushm, or the kernel's through libc.
 */
#include "ushm_cli.h"

#include <ushm.h>

const struct backend backend_ushm = {
	.name = "ushm",
	.get = ushm_get,
	.ctl = ushm_ctl,
};

const struct backend backend_kernel = {
	.name = "kernel",
	.get = shmget,
	.ctl = shmctl,
};
