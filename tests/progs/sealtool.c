/*
 * sealtool - what a client can do with a segment's descriptor, for
 * tests/sealed.t.  It speaks the wire protocol by hand (as a hostile
 * client would) to get the descriptor that shmat hands out.
 *
 *   sealtool SOCKET at ID
 *       Attaches segment ID read-write through the protocol and tries
 *       what would change its size or its seals; prints one line each:
 *       "mmap_rw: ok" (it is a writable descriptor), "shrink: E...",
 *       "grow: E...", "fallocate: E..." (past the end), "seal: E..."
 *       (F_SEAL_FUTURE_WRITE), then "size: BYTES" as fstat sees it.
 *       "ok" where the call succeeded.
 *   sealtool maps COUNT FILE
 *       Maps one page of FILE (created; "-": a memfd) COUNT times side by
 *       side, prints "mapped", and waits until stdin closes.
 */
#define _GNU_SOURCE
#include "proto/proto.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void result(const char *what, int rc)
{
	printf("%s: %s\n", what, rc == 0 ? "ok" : strerrorname_np(errno));
}

static int at(const char *sock, int id)
{
	struct ushm__req q;
	struct ushm__rep rep;
	struct ucred uc = our_creds();
	struct stat sb;
	int s = dial(sock), fd = -1, nfds;
	off_t size;
	void *p;

	memset(&q, 0, sizeof(q));
	ushm__hdr_init(&q.hdr, USHM__OP_AT, sizeof(q), 0);
	q.id = id;
	if (send_msg(s, &q, sizeof(q), &uc, -1) < 0 ||
	    recv_reply(s, &rep, &fd, &nfds) <= 0 || fd < 0 ||
	    fstat(fd, &sb) < 0) {
		printf("no descriptor\n");
		return 1;
	}
	size = sb.st_size;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	result("mmap_rw", p == MAP_FAILED ? -1 : 0);
	result("shrink", ftruncate(fd, size / 2));
	result("grow", ftruncate(fd, size * 2));
	result("fallocate", fallocate(fd, 0, size, 4096));
	result("seal", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 ? -1 : 0);
	if (fstat(fd, &sb) < 0)
		return 1;
	printf("size: %lld\n", (long long)sb.st_size);
	return 0;
}

static int maps(long count, const char *file)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int fd = strcmp(file, "-") == 0 ?
			 memfd_create("sealtool", MFD_CLOEXEC) :
			 open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	char *base;
	char c;

	/* Side by side, all of file offset 0: no two can merge. */
	base = mmap(NULL, (size_t)count * page, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fd < 0 || ftruncate(fd, (off_t)page) < 0 || base == MAP_FAILED) {
		perror("sealtool: maps");
		return 2;
	}
	for (long i = 0; i < count; i++)
		if (mmap(base + (size_t)i * page, page, PROT_READ,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
			printf("mmap %ld: %s\n", i, strerrorname_np(errno));
			return 2;
		}
	printf("mapped\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "at") == 0)
		return at(argv[1], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "maps") == 0)
		return maps(atol(argv[2]), argv[3]);
	fprintf(stderr, "usage: sealtool SOCKET at ID | sealtool maps COUNT "
		"FILE\n");
	return 2;
}
