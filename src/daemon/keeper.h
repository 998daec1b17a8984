/*
 * keeper.h - the daemon's side of the keeper, the process that holds
 * every segment's memory while no daemon runs (see keeper.c).
 */
#ifndef USHM_KEEPER_H
#define USHM_KEEPER_H

#include <sys/types.h>

/* The keeper's socket, in the state directory. */
#define USHM__KEEPER_SOCK "keeper.sock"
/* Its pid, for administrators and tests. */
#define USHM__KEEPER_PID "keeper.pid"

struct ushm__keeper {
	int fd;      /* our connection to it, or -1 */
	pid_t child; /* the keeper, if this daemon started it (to reap it) */
	pid_t pid;   /* the keeper's pid as its socket reports it */
};

/* Connects to the keeper of state directory dirfd, or starts one when
 * none answers.  0, or -errno. */
int ushm__keeper_open(struct ushm__keeper *k, int dirfd);
/* Closes our connection (the keeper keeps what it holds). */
void ushm__keeper_close(struct ushm__keeper *k);
/* Gives the keeper a copy of fd as the memory of segment index idx
 * (replacing any it had).  0, or -errno. */
int ushm__keeper_put(struct ushm__keeper *k, int idx, int fd);
/* The keeper forgets idx.  0, or -errno. */
int ushm__keeper_drop(struct ushm__keeper *k, int idx);
/* Asks the keeper for everything it holds: fn(arg, idx, fd) is called
 * for each, and owns fd.  0, or -errno (some may have been given). */
int ushm__keeper_take_all(struct ushm__keeper *k,
			  void (*fn)(void *arg, int idx, int fd), void *arg);
/* Reaps a keeper this daemon started, if it has ended. */
void ushm__keeper_reap(struct ushm__keeper *k);

#endif /* USHM_KEEPER_H */
