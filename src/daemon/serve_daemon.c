/*
 * serve_daemon.c - requests about the daemon itself: STATUS, TABLE,
 * STOP.
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void fill_status(struct ushm__server *srv, struct ushm__wire_status *st)
{
	uint64_t orphans = 0;

	for (struct ushm__orphan *o = srv->orphans; o; o = o->next)
		orphans += !o->dead;
	st->pid = (int32_t)getpid();
	st->proto_version = USHM__PROTO_VERSION;
	st->segments = (uint64_t)srv->reg.in_use;
	st->connections = srv->nconns;
	/* What an idle daemon holds: what it keeps open for work ahead
	 * is let go first (it is made again when needed). */
	ushm__registry_idle(&srv->reg);
	st->open_fds = ushm__open_fds();
	st->orphans = orphans;
	st->started = srv->started;
	memcpy(st->socket_path, srv->socket_path, sizeof(st->socket_path));
	memcpy(st->state_dir, srv->state_dir, sizeof(st->state_dir));
	memcpy(st->served, srv->served, sizeof(st->served));
}

int64_t ushm__serve_status(struct ushm__server *srv, struct ushm__conn *c,
			   const struct ushm__cred *cr,
			   const struct ushm__req *q, struct ushm__answer *a)
{
	(void)c, (void)cr, (void)q;
	fill_status(srv, &a->rep.status);
	return 0;
}

/*
 * The published table and the watch set (the daemon keeps its own
 * descriptors of them).
 *
 * The table answers with the daemon's uids, and the library compares
 * them with its own: that holds only in the daemon's user namespace.  A
 * process found in another (root there, say) asks the daemon for
 * everything, which sees its credentials as they are here.  Where /proc
 * cannot tell, the table is handed over: it only saves round trips, and
 * a process that moves to another namespace later is caught by the
 * library (its euid changes, and it asks the daemon).
 */
int64_t ushm__serve_table(struct ushm__server *srv, struct ushm__conn *c,
			  const struct ushm__cred *cr,
			  const struct ushm__req *q, struct ushm__answer *a)
{
	int res;

	(void)c, (void)q;
	if (ushm__proc_same_userns(cr->pid) == 0)
		return -EPERM;
	res = ushm__pub_fds(&srv->pub, a->fds);
	a->nfds = res == 0 ? 2 : 0;
	return res;
}

/* Only root and the daemon's own user may stop it. */
int64_t ushm__serve_stop(struct ushm__server *srv, struct ushm__conn *c,
			 const struct ushm__cred *cr,
			 const struct ushm__req *q, struct ushm__answer *a)
{
	(void)c, (void)q, (void)a;
	if (cr->uid != 0 && cr->uid != geteuid())
		return -EPERM;
	srv->stopping = 1;
	return 0;
}
