/*
 * kept - a plain System V program that attaches and detaches on request,
 * so that a test can change a segment between its calls (it knows nothing
 * of ushm; under ushm-run, a shmat after the first of a segment maps a
 * descriptor the library kept).  One command per line on stdin, one
 * answer line on stdout, flushed:
 *
 *   at ID [ro]    shmat (SHM_RDONLY with ro): "ok", or the errno's name
 *   dt            shmdt of the last attachment still held
 *   nattch ID     IPC_STAT: "nattch N", or the errno's name
 *   cycle ID N    N times: shmat, IPC_STAT, write, shmdt, IPC_STAT; then
 *                 whether every nattch and every byte was right
 *   race ID       shmat, IPC_STAT, shmdt until shmat fails; prints
 *                 "looping" after 100 rounds (the test then removes the
 *                 segment), then how it stopped and how often IPC_STAT
 *                 failed while the segment was attached
 *   races N       N times: a new segment, attached and detached once;
 *                 then a child removes it after a random pause of up
 *                 to 200 us while the parent loops: 8 shmats, IPC_STAT,
 *                 8 shmdts, until a shmat fails: in how many races
 *                 IPC_STAT failed or missed an attachment
 *   forkat ID     a child shmats, reads nattch, shmdts and exits; prints
 *                 what it saw and nattch after its exit
 *   closefds      closes every descriptor above 2 (as daemons do) and
 *                 opens /dev/null on the numbers up to 1100
 *   memfds        how many open descriptors are memfds
 *   highfds       how many descriptors numbered 128 and up are sockets or
 *                 memfds (a library's kept out of the way, but low enough
 *                 that fork copies a small table: none)
 *   become U      effective uid and gid U, real ones U+1 (a setuid
 *                 program's split; the saved ids stay): "ok" or errno
 */
#define _GNU_SOURCE
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fds.h"

#define HELD_MAX 64

static void *held[HELD_MAX];
static int nheld;

static long nattch(int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	return (long)ds.shm_nattch;
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static void cycle(int id, long n)
{
	long base = nattch(id), bad_n = 0, bad_data = 0;

	for (long i = 0; i < n; i++) {
		unsigned char *p = shmat(id, NULL, 0);

		if (p == (void *)-1) {
			printf("cycle %ld: shmat %s\n", i, errname(errno));
			return;
		}
		if (i > 0 && p[0] != (unsigned char)(i - 1))
			bad_data++;
		p[0] = (unsigned char)i;
		bad_n += nattch(id) != base + 1;
		shmdt(p);
		bad_n += nattch(id) != base;
	}
	printf("%ld cycles: nattch %s, data %s\n", n, bad_n ? "wrong" : "right",
	       bad_data ? "wrong" : "right");
}

static void race(int id)
{
	long rounds = 0, inconsistent = 0;

	for (;;) {
		void *p = shmat(id, NULL, 0);

		if (p == (void *)-1) {
			printf("stopped: %s; IPC_STAT failed while attached: "
			       "%ld\n", errname(errno), inconsistent);
			return;
		}
		inconsistent += nattch(id) < 1;
		shmdt(p);
		if (++rounds == 100) {
			printf("looping\n");
			fflush(stdout);
		}
	}
}

#define RACE_BATCH 8

/* One race of races: 1 if IPC_STAT, while attached, failed or did not
 * count every attachment that shmat gave. */
static int race_once(unsigned seed)
{
	int id = shmget(IPC_PRIVATE, 4096, 0600), bad = 0, st;
	void *p;
	pid_t pid;

	if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
		return -1;
	shmdt(p);
	pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, (long)(seed % 200) * 1000 };

		nanosleep(&ts, NULL);
		_exit(shmctl(id, IPC_RMID, NULL) == 0 ? 0 : 1);
	}
	if (pid < 0)
		return -1;
	/* Eight at a time: most of the loop is shmats, so the removal
	 * lands among them; every shmat that succeeded is counted. */
	for (int k = RACE_BATCH; k == RACE_BATCH;) {
		void *at[RACE_BATCH];

		for (k = 0; k < RACE_BATCH; k++)
			if ((at[k] = shmat(id, NULL, 0)) == (void *)-1)
				break;
		bad |= k > 0 && nattch(id) != k;
		for (int j = 0; j < k; j++)
			shmdt(at[j]);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return bad;
}

static void races(long n)
{
	long bad = 0;

	srand((unsigned)getpid());
	for (long i = 0; i < n; i++) {
		int r = race_once((unsigned)rand());

		if (r < 0) {
			printf("race %ld: %s\n", i, errname(errno));
			return;
		}
		bad += r;
	}
	printf("%ld races: IPC_STAT wrong while attached in %ld\n", n, bad);
}

static void forkat(int id)
{
	int pfd[2], st;
	char buf[64] = "";
	pid_t pid;

	if (pipe(pfd) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		void *p = shmat(id, NULL, 0);
		char out[64];
		int n;

		if (p == (void *)-1)
			n = snprintf(out, sizeof(out), "child shmat %s",
				     errname(errno));
		else
			n = snprintf(out, sizeof(out), "child nattch %ld",
				     nattch(id));
		if (p != (void *)-1)
			shmdt(p);
		if (write(pfd[1], out, (size_t)n) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	printf("%s; after its exit nattch %ld\n", buf, nattch(id));
}

static void closefds(void)
{
	for (int fd = 3; fd < 1100; fd++)
		close(fd);
	for (int fd = 3; fd < 1100; fd++) {
		int n = open("/dev/null", O_RDONLY);

		if (n < 0)
			break;
	}
	printf("closed\n");
}

static void memfds(void)
{
	int n = fds_named("/memfd:");

	if (n < 0) {
		printf("? %s\n", errname(errno));
		return;
	}
	printf("memfds %d\n", n);
}

static void highfds(void)
{
	int s = fds_named_from("socket:", 128), m = fds_named_from("/memfd:", 128);

	if (s < 0 || m < 0) {
		printf("? %s\n", errname(errno));
		return;
	}
	printf("sockets or memfds at 128 and up: %d\n", s + m);
}

int main(void)
{
	char line[128], cmd[16], arg[16];
	long a;

	while (fgets(line, sizeof(line), stdin)) {
		int n = sscanf(line, "%15s %li %15s", cmd, &a, arg);

		if (n >= 2 && strcmp(cmd, "at") == 0) {
			int fl = n == 3 && strcmp(arg, "ro") == 0 ? SHM_RDONLY :
								   0;
			void *p = shmat((int)a, NULL, fl);

			if (p == (void *)-1) {
				printf("%s\n", errname(errno));
			} else if (nheld == HELD_MAX) {
				printf("too many\n");
			} else {
				held[nheld++] = p;
				printf("ok\n");
			}
		} else if (n == 1 && strcmp(cmd, "dt") == 0) {
			if (nheld == 0)
				printf("nothing held\n");
			else if (shmdt(held[--nheld]) < 0)
				printf("%s\n", errname(errno));
			else
				printf("ok\n");
		} else if (n == 2 && strcmp(cmd, "nattch") == 0) {
			long v = nattch((int)a);

			if (v < 0)
				printf("%s\n", errname((int)-v));
			else
				printf("nattch %ld\n", v);
		} else if (n == 3 && strcmp(cmd, "cycle") == 0) {
			cycle((int)a, strtol(arg, NULL, 0));
		} else if (n == 2 && strcmp(cmd, "race") == 0) {
			race((int)a);
		} else if (n == 2 && strcmp(cmd, "races") == 0) {
			races(a);
		} else if (n == 2 && strcmp(cmd, "forkat") == 0) {
			forkat((int)a);
		} else if (n == 1 && strcmp(cmd, "closefds") == 0) {
			closefds();
		} else if (n == 1 && strcmp(cmd, "memfds") == 0) {
			memfds();
		} else if (n == 1 && strcmp(cmd, "highfds") == 0) {
			highfds();
		} else if (n == 2 && strcmp(cmd, "become") == 0) {
			gid_t none[1];

			if (setgroups(0, none) < 0 ||
			    setresgid((gid_t)a + 1, (gid_t)a, (gid_t)-1) < 0 ||
			    setresuid((uid_t)a + 1, (uid_t)a, (uid_t)-1) < 0)
				printf("%s\n", errname(errno));
			else
				printf("ok\n");
		} else {
			printf("? %s", line);
		}
		fflush(stdout);
	}
	return 0;
}
