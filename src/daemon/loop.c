/*
 * loop.c - the event loop: one epoll set, one thread.
 *
 * Each pass handles the hang-ups and process exits it was given before
 * any request.  That is what makes nattch right the moment a parent's
 * waitpid() returns: the child's exit closed its connection before the
 * parent was woken, so that hang-up is already pending when the parent's
 * next request arrives, and epoll reports it in the same pass or an
 * earlier one (its ready-list entry precedes the request's).  For the
 * same reason a pass serves one request per client: a second one read
 * in the same pass may have been sent after a hang-up this pass lacks.
 */
#define _GNU_SOURCE
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MAX_EVENTS 64
/* What a departing client may still have queued (its child's HELLO and
 * its parent's FORKED, a last request): served before it goes. */
#define DEPART_DRAIN 32

int ushm__loop_add(struct ushm__server *srv, int fd, struct ushm__item *it,
		   uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = it };

	return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

uint64_t ushm__open_fds(void)
{
	uint64_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

static void read_signals(struct ushm__server *srv)
{
	struct signalfd_siginfo si;

	while (read(srv->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		ushm__log(USHM__LOG_INFO, "signal %u: stopping",
			  si.ssi_signo);
		srv->stopping = 1;
	}
}

/* A client leaves (hang-up, or its process exited): its last requests
 * are served first, then what it held is detached. */
static void depart(struct ushm__server *srv, struct ushm__conn *c)
{
	if (c->dead)
		return;
	ushm__conn_serve(srv, c, DEPART_DRAIN);
	ushm__conn_close(srv, c);
}

static int is_hangup(const struct epoll_event *ev)
{
	return ev->events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR);
}

int ushm__server_run(struct ushm__server *srv)
{
	struct epoll_event ev[MAX_EVENTS];

	while (!srv->stopping) {
		int n = epoll_wait(srv->epfd, ev, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ushm__log(USHM__LOG_ERR, "epoll_wait: %s",
				  strerror(errno));
			return -errno;
		}
		/* Pass 1: departures.  A departing client's last requests
		 * (a forked child's HELLO, say) are served first. */
		for (int i = 0; i < n; i++) {
			struct ushm__item *it = ev[i].data.ptr;

			if (it->type == ITEM_CONN && is_hangup(&ev[i]))
				depart(srv, (void *)it);
			else if (it->type == ITEM_CONN_EXIT) /* its process */
				depart(srv, ushm__conn_of_exit(it));
			else if (it->type == ITEM_ORPHAN)
				ushm__orphan_exit(srv, (void *)it);
			else if (it->type == ITEM_SIGNAL)
				read_signals(srv);
			else if (it->type == ITEM_KEEPER)
				(void)ushm__store_keeper_lost(srv->store);
		}
		/* Pass 2: requests and new clients. */
		for (int i = 0; i < n && !srv->stopping; i++) {
			struct ushm__item *it = ev[i].data.ptr;

			if (it->type == ITEM_CONN) {
				struct ushm__conn *c = (void *)it;

				/* One request per pass: the next one may
				 * have been sent after a departure that
				 * only the next epoll_wait reports (a
				 * child's exit, then its parent's
				 * IPC_STAT); level-triggered epoll
				 * brings the rest back.  It is fair to
				 * the other clients as well. */
				if (!c->dead)
					ushm__conn_serve(srv, c, 1);
			} else if (it->type == ITEM_LISTEN) {
				ushm__conn_accept(srv);
			}
		}
		ushm__conn_reap(srv);
		ushm__orphan_reap(srv);
	}
	return 0;
}
