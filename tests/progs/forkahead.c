/*
 * forkahead - a plain System V program that forks again and again while
 * it holds an attachment, and between its rounds of forks does what a
 * program may do to descriptors it does not know of.  Under ushm-run,
 * from its second fork on, the parent makes its next child's connection
 * to the daemon ahead of the fork (src/lib/forkproto.c): this program
 * checks that nattch stays exact and that nothing of that reaches the
 * program's own descriptors.  One command per line on stdin, one answer
 * line on stdout, flushed:
 *
 *   fork N      N rounds, one child at a time: the parent reads nattch
 *               right after fork() (2: its attachment and the child's)
 *               and right after waitpid() (1); the child, once its
 *               parent has read nattch, reads nattch and the segment's
 *               byte and exits 0 when both are right
 *   takeover    closes every descriptor from 3 to 1099, then fills the
 *               numbers from 3 to 199 with the ends of socket pairs of
 *               its own (a program that took the library's numbers),
 *               and reads nattch
 *   written     how many of those sockets have something to read (a
 *               byte the program did not send): "written to: N"
 *   rawfork     a child made by _Fork (no fork handlers run) makes a
 *               call and forks a child of its own, both staying; then
 *               the parent forks another child and reaps it, then lets
 *               the first two go: nattch at each step
 *   detach      shmdt, then nattch
 *   attach      shmat again, then nattch
 *   exit        detaches, removes the segment, exits 0
 *
 * Exit status 2: a call failed (said on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILL_TO 200

static int id = -1;
static volatile unsigned char *mem;

static void die(const char *what)
{
	fprintf(stderr, "forkahead: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long nattch(void)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		die("IPC_STAT");
	return (long)ds.shm_nattch;
}

static void forks(long n)
{
	long after_fork = 0, after_wait = 0, children = 0;

	for (long i = 0; i < n; i++) {
		int st, go[2];
		pid_t pid;

		/* The child stays until the parent has read nattch: one
		 * gone already is no longer counted, on Linux either. */
		if (pipe(go) < 0)
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			struct shmid_ds ds;
			char c;

			close(go[1]);
			while (read(go[0], &c, 1) > 0)
				;
			_exit(shmctl(id, IPC_STAT, &ds) == 0 &&
					      ds.shm_nattch == 2 && mem[0] == 0x5a ?
				      0 :
				      1);
		}
		close(go[0]);
		after_fork += nattch() == 2;
		close(go[1]);
		if (waitpid(pid, &st, 0) != pid)
			die("waitpid");
		after_wait += nattch() == 1;
		children += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	printf("forks %ld: nattch right after fork %ld, after waitpid %ld, "
	       "children right %ld\n", n, after_fork, after_wait, children);
}

static void takeover(void)
{
	int sv[2], made = 0;

	for (int fd = 3; fd < 1100; fd++)
		close(fd);
	for (;;) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			die("socketpair");
		if (sv[0] >= FILL_TO || sv[1] >= FILL_TO) {
			close(sv[0]);
			close(sv[1]);
			break;
		}
		made += 2;
	}
	/* A call, which finds its connection gone and makes another,
	 * before the next fork: (forking first, with none, is a case of
	 * its own: tests/connection.t). */
	printf("took over: %d sockets; nattch %ld\n", made, nattch());
}

static void rawfork(void)
{
	int ready[2], go[2], cgo[2], st;
	long both, with_c, after_c, after_all;
	pid_t r, c;
	char b;

	if (pipe(ready) < 0 || pipe(go) < 0)
		die("pipe");
	r = _Fork();
	if (r < 0)
		die("_Fork");
	if (r == 0) {
		struct shmid_ds ds;
		pid_t rc;

		close(ready[0]);
		close(go[1]);
		if (shmctl(id, IPC_STAT, &ds) < 0)
			_exit(1);
		rc = fork();
		if (rc < 0)
			_exit(1);
		if (rc == 0) {
			close(ready[1]);
			while (read(go[0], &b, 1) > 0)
				;
			_exit(0);
		}
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		close(ready[1]);
		while (read(go[0], &b, 1) > 0)
			;
		_exit(waitpid(rc, &st, 0) == rc ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &b, 1) != 1)
		die("the first child's word");
	close(ready[0]);
	both = nattch();
	if (pipe(cgo) < 0)
		die("pipe");
	c = fork();
	if (c < 0)
		die("fork");
	if (c == 0) {
		close(cgo[1]);
		while (read(cgo[0], &b, 1) > 0)
			;
		_exit(0);
	}
	close(cgo[0]);
	with_c = nattch();
	close(cgo[1]);
	if (waitpid(c, &st, 0) != c)
		die("waitpid");
	after_c = nattch();
	close(go[1]);
	if (waitpid(r, &st, 0) != r)
		die("waitpid");
	after_all = nattch();
	printf("without handlers: nattch %ld with that child and its own, "
	       "%ld with another, %ld after it, %ld after them\n",
	       both, with_c, after_c, after_all);
}

static void written(void)
{
	int n = 0;
	char b;

	for (int fd = 3; fd < FILL_TO; fd++)
		if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
			n++;
	printf("written to: %d\n", n);
}

int main(void)
{
	char line[64], cmd[16];
	long a;

	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id < 0)
		die("shmget");
	mem = shmat(id, NULL, 0);
	if (mem == (void *)-1)
		die("shmat");
	mem[0] = 0x5a;
	while (fgets(line, sizeof(line), stdin)) {
		int n = sscanf(line, "%15s %ld", cmd, &a);

		if (n == 2 && strcmp(cmd, "fork") == 0)
			forks(a);
		else if (n == 1 && strcmp(cmd, "takeover") == 0)
			takeover();
		else if (n == 1 && strcmp(cmd, "written") == 0)
			written();
		else if (n == 1 && strcmp(cmd, "rawfork") == 0)
			rawfork();
		else if (n == 1 && strcmp(cmd, "detach") == 0) {
			if (shmdt((void *)mem) < 0)
				die("shmdt");
			printf("detached: nattch %ld\n", nattch());
		} else if (n == 1 && strcmp(cmd, "attach") == 0) {
			mem = shmat(id, NULL, 0);
			if (mem == (void *)-1)
				die("shmat");
			printf("attached: nattch %ld\n", nattch());
		}
		else if (n == 1 && strcmp(cmd, "exit") == 0)
			break;
		else
			printf("? %s", line);
		fflush(stdout);
	}
	if (shmdt((void *)mem) < 0 || shmctl(id, IPC_RMID, NULL) < 0)
		die("detach");
	return 0;
}
