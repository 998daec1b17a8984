/*
 * gencheck - the daemon's side of shmat from a kept descriptor
 * (src/lib/shmat.c), checked on the wire, one step at a time, with two
 * connections A (the attaching client) and B (another process):
 *
 *   1. IPC_RMID and IPC_SET move the row's gen (and leave it even);
 *   2. an ATTACHED sent after the removal is refused, and SYNC says so;
 *   3. an ATTACHED sent before a removal is counted before it: the
 *      segment stays (SHM_DEST, nattch 1) until A detaches.
 *
 * Usage: gencheck SOCKET.  Prints one line per check ("... yes"/"no").
 */
#define _GNU_SOURCE
#include "wire.h"
#include "proto/table.h"

#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

static struct ushm__rep ask(int s, struct ushm__req *q, int *fd)
{
	struct ushm__rep rep;
	int nfds, dummy;

	memset(&rep, 0, sizeof(rep));
	struct ucred uc = our_creds();

	if (send_msg(s, q, sizeof(*q), &uc, -1) < 0 ||
	    recv_reply(s, &rep, fd ? fd : &dummy, &nfds) <= 0) {
		fprintf(stderr, "gencheck: request %u: %m\n", q->hdr.op);
		exit(2);
	}
	if (!fd && dummy >= 0)
		close(dummy);
	return rep;
}

static void tell(int s, struct ushm__req *q)
{
	if (send_msg(s, q, sizeof(*q), NULL, -1) < 0) {
		fprintf(stderr, "gencheck: note %u: %m\n", q->hdr.op);
		exit(2);
	}
}

static void req(struct ushm__req *q, unsigned op, int id, unsigned flags)
{
	memset(q, 0, sizeof(*q));
	ushm__hdr_init(&q->hdr, (uint16_t)op, sizeof(*q), flags);
	q->id = id;
}

static int create(int s)
{
	struct ushm__req q;

	req(&q, USHM__OP_GET, 0, 0);
	struct ushm__rep rep;

	q.key = IPC_PRIVATE;
	q.size = 4096;
	q.shmflg = IPC_CREAT | 0666;
	q.count = (uint32_t)getpid();
	rep = ask(s, &q, NULL);
	if (rep.result < 0) {
		fprintf(stderr, "gencheck: shmget: %s\n",
			strerror((int)-rep.result));
		exit(2);
	}
	return (int)rep.result;
}

static int64_t ctl(int s, int id, int cmd, uint32_t mode, uint64_t *nattch,
		   uint32_t *dest)
{
	struct ushm__req q;

	req(&q, USHM__OP_CTL, id, 0);
	struct ushm__rep rep;

	q.shmflg = cmd;
	if (cmd == IPC_SET) {
		q.set.uid = geteuid();
		q.set.gid = getegid();
		q.set.mode = mode;
	}
	rep = ask(s, &q, NULL);
	if (nattch)
		*nattch = rep.ds.nattch;
	if (dest)
		*dest = !!(rep.ds.mode & 01000);
	return rep.result;
}

static uint32_t gen_of(const void *base, int id)
{
	return __atomic_load_n(
		&ushm__table_row_at((void *)(uintptr_t)base,
				    (uint32_t)id % USHM__TABLE_ROWS)->gen,
		__ATOMIC_SEQ_CST);
}

static const char *yesno(int b)
{
	return b ? "yes" : "no";
}

int main(int argc, char **argv)
{
	struct ushm__req q;
	struct ushm__rep rep;
	uint64_t nattch;
	uint32_t g1, g2, dest;
	int a, b, tfd = -1, id;
	void *base;

	if (argc != 2) {
		fprintf(stderr, "usage: gencheck SOCKET\n");
		return 2;
	}
	a = dial(argv[1]);
	b = dial(argv[1]);
	req(&q, USHM__OP_TABLE, 0, 0);
	rep = ask(a, &q, &tfd);
	if (rep.result < 0 || tfd < 0) {
		fprintf(stderr, "gencheck: no table\n");
		return 2;
	}
	base = mmap(NULL, USHM__TABLE_SIZE, PROT_READ, MAP_SHARED, tfd, 0);
	if (base == MAP_FAILED) {
		fprintf(stderr, "gencheck: mmap of the table: %m\n");
		return 2;
	}

	/* 1 and 2: a removal, then a late ATTACHED. */
	id = create(b);
	g1 = gen_of(base, id);
	ctl(b, id, IPC_RMID, 0, NULL, NULL);
	g2 = gen_of(base, id);
	printf("IPC_RMID moved gen, and left it even: %s\n",
	       yesno(g2 != g1 && !(g2 & 1) && !(g1 & 1)));
	req(&q, USHM__OP_ATTACHED, id, 0);
	tell(a, &q);
	req(&q, USHM__OP_SYNC, 0, 0);
	rep = ask(a, &q, NULL);
	printf("an ATTACHED after the removal: SYNC says %s\n",
	       rep.result < 0 ? strerrorname_np((int)-rep.result) : "ok");

	id = create(b);
	g1 = gen_of(base, id);
	ctl(b, id, IPC_SET, 0600, NULL, NULL);
	g2 = gen_of(base, id);
	printf("IPC_SET moved gen, and left it even: %s\n",
	       yesno(g2 != g1 && !(g2 & 1)));
	req(&q, USHM__OP_SYNC, 0, 0);
	rep = ask(a, &q, NULL);
	printf("SYNC with nothing refused since: %s\n",
	       rep.result < 0 ? strerrorname_np((int)-rep.result) : "ok");
	ctl(b, id, IPC_RMID, 0, NULL, NULL);

	/* 3: an ATTACHED sent before the removal. */
	id = create(b);
	req(&q, USHM__OP_ATTACHED, id, 0);
	tell(a, &q);
	ctl(b, id, IPC_RMID, 0, NULL, NULL);
	if (ctl(b, id, IPC_STAT, 0, &nattch, &dest) < 0)
		printf("an ATTACHED before the removal: the segment is gone\n");
	else
		printf("an ATTACHED before the removal: nattch %llu, SHM_DEST "
		       "%s\n", (unsigned long long)nattch, yesno(dest));
	req(&q, USHM__OP_DT, id, USHM__DT_NOREPLY);
	q.count = 1;
	tell(a, &q);
	printf("after A detaches: IPC_STAT %s\n",
	       ctl(b, id, IPC_STAT, 0, NULL, NULL) == -EINVAL ?
		       "EINVAL (destroyed)" : "succeeds");
	return 0;
}
