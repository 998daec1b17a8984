/*
 * attack - what another local user of a system-wide daemon may try, and
 * the stopwatch that shows whether everyone else still gets served.
 *
 *   attack SOCKET linger SECONDS
 *       Sends the daemon a request with a TCP socket attached whose last
 *       close lingers SECONDS (SO_LINGER, unsent data, a peer that does
 *       not read), prints "sent" or the error the kernel gave, then holds
 *       the peer open until killed.
 *   attack SOCKET groupexec ID PROGRAM
 *       The group-permission race: queues requests, then a shmat of
 *       segment ID on a connection a forked child shares, then execs
 *       PROGRAM (a setgid one, in the test) before the daemon gets to the
 *       shmat.  The child prints what the shmat's reply brought: "error
 *       E" or "descriptor".
 *   attack SOCKET flood SECONDS
 *       Malformed requests, each on a new connection, for SECONDS;
 *       prints how many it sent ("sent N").
 *   attack SOCKET resize ID BYTES
 *       Attaches segment ID through the protocol and ftruncates the
 *       descriptor it gets to BYTES; prints "ftruncate: ok" or the error.
 *   attack SOCKET register SECONDS FIRST_ID
 *       Maps one page of a file 65,000 times, says "mapped", then for
 *       SECONDS sends REGISTER requests naming segments FIRST_ID... (48
 *       of them, which it does not map), each waiting for its answer;
 *       prints "registers N slowest_ms M".
 *   attack SOCKET latency COUNT
 *       COUNT IPC_INFO requests, one at a time; prints the slowest
 *       answer in milliseconds ("max_ms N"), or "closed".
 */
#define _GNU_SOURCE
#include "proto/proto.h"
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void req(struct ushm__req *q, unsigned op)
{
	memset(q, 0, sizeof(*q));
	ushm__hdr_init(&q->hdr, op, sizeof(*q), 0);
}

/* Sends q with our credentials and descriptor fd (-1: none). */
static int send_req(int s, const struct ushm__req *q, int fd)
{
	struct ucred uc = our_creds();

	return send_msg(s, q, sizeof(*q), &uc, fd);
}

/* A TCP connection over loopback whose close will linger: its peer is
 * never accepted nor read, and its send buffer is full. */
static int lingering_socket(int seconds, int *listener)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct linger lg = { 1, seconds };
	char junk[65536];
	int small = 4096;
	int c;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* A small receive buffer on the peer fills sooner. */
	if (*listener < 0 ||
	    setsockopt(*listener, SOL_SOCKET, SO_RCVBUF, &small,
		       sizeof(small)) < 0 ||
	    bind(*listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(*listener, (struct sockaddr *)&sa, &len) < 0 ||
	    listen(*listener, 1) < 0)
		return -errno;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fcntl(c, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	memset(junk, 'x', sizeof(junk));
	while (write(c, junk, sizeof(junk)) > 0)
		;
	if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0 ||
	    fcntl(c, F_SETFL, 0) < 0)
		return -errno;
	return c;
}

static int linger_attack(const char *sock, int seconds)
{
	struct ushm__rep rep;
	struct ushm__req q;
	int listener, s, c, err;

	c = lingering_socket(seconds, &listener);
	if (c < 0) {
		printf("setup: %s\n", strerrorname_np(-c));
		return 1;
	}
	s = dial(sock);
	req(&q, USHM__OP_STATUS);
	/* A first request answered: the daemon has accepted us, and will
	 * read the next one at once. */
	if (send_req(s, &q, -1) < 0 || recv(s, &rep, sizeof(rep), 0) <= 0) {
		printf("no answer\n");
		return 1;
	}
	err = send_req(s, &q, c);
	/* Ours closed at once (before the daemon reads the message), the
	 * daemon's copy is the last.  Refused, ours stays: its close would
	 * linger here. */
	if (!err)
		close(c);
	printf("%s\n", err ? strerrorname_np(-err) : "sent");
	fflush(stdout);
	pause(); /* the peer stays, unread, until we are killed */
	return 0;
}

/* The child: reads every reply until the shmat's. */
static int read_replies(int s)
{
	for (;;) {
		struct ushm__rep rep;
		int fd, nfds;

		if (recv_reply(s, &rep, &fd, &nfds) <= 0) {
			printf("closed\n");
			return 1;
		}
		if (fd >= 0)
			close(fd);
		if (rep.hdr.op != USHM__OP_AT)
			continue;
		if (nfds > 0)
			printf("descriptor\n");
		else
			printf("error %s\n",
			       strerrorname_np((int)-rep.result));
		return 0;
	}
}

static int group_exec(const char *sock, int id, const char *program)
{
	struct ushm__req q;
	int s = dial(sock);
	pid_t child;

	/* The child keeps the connection open past our exec. */
	fcntl(s, F_SETFD, 0);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		int rc = read_replies(s);

		fflush(stdout);
		_exit(rc);
	}
	/* Work queued ahead of the shmat (announcements, which get no
	 * reply): the exec below wins the race against the daemon's
	 * reading it. */
	req(&q, USHM__OP_HELLO);
	for (int i = 0; i < 2000; i++)
		if (send_req(s, &q, -1) < 0)
			return 2;
	req(&q, USHM__OP_AT);
	q.id = id;
	if (send_req(s, &q, -1) < 0)
		return 2;
	close(s);
	execl(program, program, "0.5", (char *)NULL);
	return 2;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int resize(const char *sock, int id, long long bytes)
{
	struct ushm__rep rep;
	struct ushm__req q;
	int s = dial(sock), fd = -1, nfds;

	req(&q, USHM__OP_AT);
	q.id = id;
	if (send_req(s, &q, -1) < 0 || recv_reply(s, &rep, &fd, &nfds) <= 0 ||
	    fd < 0) {
		printf("no descriptor\n");
		return 1;
	}
	if (ftruncate(fd, (off_t)bytes) < 0)
		printf("ftruncate: %s\n", strerrorname_np(errno));
	else
		printf("ftruncate: ok\n");
	return 0;
}

static int register_attack(const char *sock, int seconds, int first)
{
	const size_t n = 65000, page = 4096;
	int fd = memfd_create("attack", MFD_CLOEXEC);
	char *base;
	long sent = 0;
	int64_t end, worst = 0;
	int s;
	union {
		struct ushm__req q;
		char b[USHM__MSG_MAX];
	} m;

	/* Side by side, all of file offset 0: no two can merge. */
	base = mmap(NULL, n * page, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fd < 0 || ftruncate(fd, (off_t)page) < 0 || base == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < n; i++)
		if (mmap(base + i * page, page, PROT_READ,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
			printf("mmap %zu: %s\n", i, strerrorname_np(errno));
			return 2;
		}
	printf("mapped\n");
	fflush(stdout);
	s = dial(sock);
	memset(&m, 0, sizeof(m));
	ushm__hdr_init(&m.q.hdr, USHM__OP_REGISTER,
		       (uint32_t)ushm__req_size(USHM__REG_MAX), USHM__REG_FORK);
	m.q.count = USHM__REG_MAX;
	for (int i = 0; i < USHM__REG_MAX; i++) {
		m.q.ent[i].id = first + i;
		m.q.ent[i].addr = (uint64_t)(uintptr_t)base;
		m.q.ent[i].len = page;
	}
	end = now_us() + (int64_t)seconds * 1000000;
	while (now_us() < end) {
		struct ucred uc = our_creds();
		struct ushm__rep rep;
		int64_t t0 = now_us();

		if (send_msg(s, &m, ushm__req_size(USHM__REG_MAX), &uc, -1) <
			    0 ||
		    recv(s, &rep, sizeof(rep), 0) <= 0)
			break;
		if (now_us() - t0 > worst)
			worst = now_us() - t0;
		sent++;
	}
	printf("registers %ld slowest_ms %lld\n", sent,
	       (long long)(worst / 1000));
	return 0;
}

static int flood(const char *sock, int seconds)
{
	int64_t end = now_us() + (int64_t)seconds * 1000000;
	long sent = 0;

	while (now_us() < end) {
		int s = dial(sock);
		char junk[3] = { 1, 2, 3 };

		if (send(s, junk, sizeof(junk), MSG_NOSIGNAL) == sizeof(junk))
			sent++;
		/* Its hang-up, once the daemon has read it. */
		while (recv(s, junk, sizeof(junk), 0) > 0)
			;
		close(s);
	}
	printf("sent %ld\n", sent);
	return 0;
}

static int latency(const char *sock, int count)
{
	int64_t worst = 0;
	int s = dial(sock);

	for (int i = 0; i < count; i++) {
		struct ushm__req q;
		struct ushm__rep rep;
		int64_t t0 = now_us(), dt;

		req(&q, USHM__OP_CTL);
		q.id = 0;
		q.shmflg = IPC_INFO;
		if (send_req(s, &q, -1) < 0 ||
		    recv(s, &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep)) {
			printf("closed\n");
			return 1;
		}
		dt = now_us() - t0;
		if (dt > worst)
			worst = dt;
	}
	printf("max_ms %lld\n", (long long)(worst / 1000));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "linger") == 0)
		return linger_attack(argv[1], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[2], "groupexec") == 0)
		return group_exec(argv[1], atoi(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[2], "resize") == 0)
		return resize(argv[1], atoi(argv[3]), atoll(argv[4]));
	if (argc == 5 && strcmp(argv[2], "register") == 0)
		return register_attack(argv[1], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && strcmp(argv[2], "flood") == 0)
		return flood(argv[1], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[2], "latency") == 0)
		return latency(argv[1], atoi(argv[3]));
	fprintf(stderr, "usage: attack SOCKET linger SECONDS | "
			"latency COUNT\n");
	return 2;
}
