/*
 * hostile - a client that breaks the protocol on purpose.  Each case
 * opens its own connection, sends one bad message and reports what the
 * daemon did: "closed" (hung up), "error N" (an error reply), or
 * "replied" (served it, which a bad message must never be).
 *
 *   hostile SOCKET
 *
 * With "intrude ID", it plays a user with no right to segment ID
 * instead: it forges credentials, sends requests without any, asks for
 * the segment's descriptor, and reports what it got.
 *
 *   hostile SOCKET intrude ID
 */
#define _GNU_SOURCE
#include "proto/proto.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Sends len bytes of buf, with a descriptor attached if fd >= 0 and
 * with credentials: ours (creds 1), none (0), or forged (*forged). */
static int send_as(int s, const void *buf, size_t len, int fd, int creds,
		   const struct ucred *forged)
{
	struct ucred uc = forged ? *forged : our_creds();

	return send_msg(s, buf, len, creds || forged ? &uc : NULL, fd);
}

static int sendit(int s, const void *buf, size_t len, int fd, int creds)
{
	return send_as(s, buf, len, fd, creds, NULL);
}

/* Receives the reply on s; closes and counts the descriptors it
 * carried into *nfds. */
static ssize_t receive(int s, struct ushm__rep *rep, int *nfds)
{
	int fd;
	ssize_t n = recv_reply(s, rep, &fd, nfds);

	if (fd >= 0)
		close(fd);
	return n;
}

static void outcome(const char *name, int s)
{
	struct ushm__rep rep;
	int nfds;
	ssize_t n = receive(s, &rep, &nfds);

	if (n <= 0)
		printf("%s: closed", name);
	else if (n == sizeof(rep) && rep.result < 0)
		printf("%s: error %s", name, strerrorname_np((int)-rep.result));
	else
		printf("%s: replied", name);
	/* Only a descriptor received is worth a word. */
	printf(nfds ? ", %d descriptor(s) received\n" : "\n", nfds);
	close(s);
}

static void req(struct ushm__req *q, unsigned op)
{
	memset(q, 0, sizeof(*q));
	ushm__hdr_init(&q->hdr, op, sizeof(*q), 0);
}

/* One case: a fresh connection, one message, what the daemon did. */
static void one(const char *sock, const char *name, const void *buf,
		size_t len, int fd)
{
	int s = dial(sock);
	int err = sendit(s, buf, len, fd, 1);

	if (err < 0) { /* the kernel would not deliver it */
		printf("%s: not delivered (%s)\n", name,
		       strerrorname_np(-err));
		close(s);
		return;
	}
	outcome(name, s);
}

/* One request about segment id (shmflg: the command or the flags) on a
 * fresh connection, with our credentials or none; what came back. */
static void ask(const char *sock, const char *name, unsigned op, int id,
		int shmflg, int creds)
{
	struct ushm__req q;
	int s = dial(sock);

	req(&q, op);
	q.id = id;
	q.shmflg = shmflg;
	sendit(s, &q, sizeof(q), -1, creds);
	outcome(name, s);
}

/* A user with no right to segment id tries to reach it anyway. */
static int intrude(const char *sock, int id)
{
	struct ucred root = { getpid(), 0, 0 };
	struct ushm__req q;
	int s, err;

	/* The kernel checks SCM_CREDENTIALS: only root may claim another
	 * identity, so a forged claim never leaves this process. */
	req(&q, USHM__OP_STATUS);
	s = dial(sock);
	err = send_as(s, &q, sizeof(q), -1, 0, &root);
	printf("claim to be root: %s\n", err ? strerrorname_np(-err) : "sent");
	close(s);
	/* Without credentials the daemon still knows who we are: the
	 * kernel attaches them (SO_PASSCRED). */
	ask(sock, "IPC_STAT without credentials", USHM__OP_CTL, id, IPC_STAT,
	    0);
	ask(sock, "shmat without credentials", USHM__OP_AT, id, 0, 0);
	ask(sock, "shmat", USHM__OP_AT, id, 0, 1);
	ask(sock, "shmat SHM_RDONLY", USHM__OP_AT, id, SHM_RDONLY, 1);
	ask(sock, "IPC_RMID", USHM__OP_CTL, id, IPC_RMID, 1);
	return 0;
}

int main(int argc, char **argv)
{
	char junk[USHM__MSG_MAX + 512];
	struct ushm__req q;
	int s;

	if (argc == 4 && strcmp(argv[2], "intrude") == 0)
		return intrude(argv[1], atoi(argv[3]));
	if (argc != 2)
		return 2;
	memset(junk, 0xa5, sizeof(junk));
	one(argv[1], "short", junk, 3, -1);
	one(argv[1], "oversized", junk, sizeof(junk), -1);
	req(&q, USHM__OP_STATUS);
	q.hdr.magic = 0xdeadbeef;
	one(argv[1], "bad magic", &q, sizeof(q), -1);
	req(&q, USHM__OP_STATUS);
	q.hdr.version = 99;
	one(argv[1], "other version", &q, sizeof(q), -1);
	req(&q, 200);
	one(argv[1], "unknown op", &q, sizeof(q), -1);
	req(&q, USHM__OP_GET);
	q.id = 5; /* GET takes no id */
	one(argv[1], "stray field", &q, sizeof(q), -1);
	req(&q, USHM__OP_GET);
	q.hdr.size = 12345;
	one(argv[1], "size mismatch", &q, sizeof(q), -1);
	req(&q, USHM__OP_STATUS);
	one(argv[1], "fd attached", &q, sizeof(q),
	    open("/dev/null", O_RDONLY | O_CLOEXEC));
	req(&q, USHM__OP_AT);
	q.id = 0x7fffffff;
	one(argv[1], "absurd id", &q, sizeof(q), -1);

	/* Many requests without reading a reply: dropped, never blocking
	 * the daemon. */
	s = dial(argv[1]);
	req(&q, USHM__OP_STATUS);
	fcntl(s, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100000; i++) {
		int err = sendit(s, &q, sizeof(q), -1, 1);

		if (err == -EPIPE || err == -ECONNRESET) {
			printf("flood: closed\n");
			break;
		}
		if (err == -EAGAIN) /* our buffer is full: let it drain */
			usleep(1000);
	}
	close(s);

	req(&q, USHM__OP_STATUS);
	one(argv[1], "a good request afterwards", &q, sizeof(q), -1);
	return 0;
}
