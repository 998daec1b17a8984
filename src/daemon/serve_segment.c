/*
 * serve_segment.c - shmget and shmctl: GET and CTL (ops.c decides them;
 * this is what a request adds around the decision).
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <string.h>
#include <sys/shm.h>

int64_t ushm__serve_get(struct ushm__server *srv, struct ushm__conn *c,
			const struct ushm__cred *cr, const struct ushm__req *q,
			struct ushm__answer *a)
{
	(void)c, (void)a;
	return ushm__op_get(&srv->reg, cr, q->key, q->size, q->shmflg,
			    q->count, q->hdr.flags, ushm__now());
}

/*
 * shmctl.  IPC_RMID and IPC_SET change what decides a shmat, which
 * clients check against the published row when they attach from a
 * descriptor they kept (src/lib/attach.c): the row's gen goes odd first,
 * and then every ATTACHED already sent is counted, as of before the
 * change; a client whose ATTACHED comes later sees gen moved and asks
 * (SYNC) whether it was refused.
 */
int64_t ushm__serve_ctl(struct ushm__server *srv, struct ushm__conn *c,
			const struct ushm__cred *cr, const struct ushm__req *q,
			struct ushm__answer *a)
{
	int changes = (q->shmflg == IPC_RMID || q->shmflg == IPC_SET) &&
		      ushm__registry_find_id(&srv->reg, q->id);
	int idx = ushm__id_index(q->id);
	struct ushm__ctl_out out;
	int64_t res;

	memset(&out, 0, sizeof(out));
	if (changes) {
		ushm__pub_gen_begin(&srv->pub, idx);
		ushm__loop_notes(srv, c, 0);
	}
	res = ushm__op_ctl(&srv->reg, cr, q->id, q->shmflg, &q->set, q->size,
			   ushm__now(), &out);
	if (changes)
		ushm__pub_gen_end(&srv->pub, idx);
	a->rep.ds = out.ds;
	a->rep.info = out.info;
	return res;
}
