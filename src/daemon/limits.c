/*
 * limits.c - shmmax, shmall and shmmni as Linux applies them: read at
 * each call.  An administrator who writes /proc/sys/kernel/shmmax sees
 * the next shmget (and IPC_INFO) follow, with the kernel's segments and
 * ushm's alike.  A limit given to ushmd (flag or config) is ushmd's own
 * and stays put.
 *
 * Cheap enough for every shmget: the three files are opened once and
 * re-read with one pread each (about a microsecond), no open, no stdio.
 * So is vm.overcommit_memory, which decides how a new segment's size is
 * checked against memory (ops.c).
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <fcntl.h>
#include <unistd.h>

#define OVERCOMMIT "/proc/sys/vm/overcommit_memory"

static const char *const sysctl_path[3] = {
	"/proc/sys/kernel/shmmax",
	"/proc/sys/kernel/shmall",
	"/proc/sys/kernel/shmmni",
};

void ushm__limits_open(struct ushm__limits *lim)
{
	for (int i = 0; i < 3; i++) {
		lim->live_fd[i] = -1;
		if (!(lim->live & (1u << i)))
			continue;
		lim->live_fd[i] = open(sysctl_path[i], O_RDONLY | O_CLOEXEC);
		if (lim->live_fd[i] < 0)
			lim->live &= ~(1u << i);
	}
	lim->overcommit_fd = open(OVERCOMMIT, O_RDONLY | O_CLOEXEC);
	if (lim->overcommit_fd >= 0)
		lim->live |= USHM__LIVE_OVERCOMMIT;
	else
		lim->live &= ~(unsigned)USHM__LIVE_OVERCOMMIT;
	ushm__limits_refresh(lim);
}

void ushm__limits_refresh(struct ushm__limits *lim)
{
	uint64_t *dst[3] = { &lim->shmmax, &lim->shmall, &lim->shmmni };
	unsigned long long v = 0;

	for (int i = 0; i < 3; i++) {
		if (!(lim->live & (1u << i)) ||
		    ushm__read_number_fd(lim->live_fd[i], &v) < 0)
			continue;
		/* Linux caps shmmni at IPCMNI; so do ids here. */
		if (i == 2 && v > USHM__IPCMNI)
			v = USHM__IPCMNI;
		*dst[i] = v;
	}
}

int ushm__limits_overcommit(const struct ushm__limits *lim)
{
	unsigned long long mode = 0;

	/* (Unreadable: the heuristic mode, Linux's default.) */
	if (lim->live & USHM__LIVE_OVERCOMMIT)
		return ushm__read_number_fd(lim->overcommit_fd, &mode) == 0 ?
			       (int)mode : 0;
	return ushm__read_number(OVERCOMMIT, &mode) == 0 ? (int)mode : 0;
}

void ushm__limits_close(struct ushm__limits *lim)
{
	if (lim->live & USHM__LIVE_OVERCOMMIT)
		close(lim->overcommit_fd);
	lim->overcommit_fd = -1;
	for (int i = 0; i < 3; i++) {
		if ((lim->live & (1u << i)) && lim->live_fd[i] >= 0)
			close(lim->live_fd[i]);
		lim->live_fd[i] = -1;
	}
	lim->live = 0;
}
