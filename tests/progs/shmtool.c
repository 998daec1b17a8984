/*
 * shmtool - a plain System V program for the shell tests: it knows
 * nothing of ushm, so under ushm-run it exercises the drop-in, and on its
 * own it exercises the kernel.
 *
 *   shmtool create KEY SIZE MODE   print the id (KEY may be "private")
 *   shmtool id KEY                 print the id of KEY
 *   shmtool fill ID SEED           write a pattern derived from SEED
 *   shmtool check ID SEED          exit 1 unless the pattern is intact
 *   shmtool stat ID                print every shmid_ds field on one line
 *   shmtool nattch ID              print shm_nattch
 *   shmtool rmid ID
 *   shmtool lock ID                SHM_LOCK
 *   shmtool chmod ID MODE          IPC_SET of the permission bits
 *   shmtool closefds ID            attach, close every descriptor above 2
 *                                  (as daemons do) and put a socket of
 *                                  its own on 100..1099; print nattch,
 *                                  detach, print nattch and whether that
 *                                  socket was closed or written to
 *   shmtool forkkill N             N times: attach, fork, SIGKILL the child
 *                                  at once, wait; print how often nattch
 *                                  or lpid (the child's) was wrong
 *   shmtool info                   print IPC_INFO: shmmax shmmin shmmni
 *                                  shmseg shmall
 *   shmtool hold ID SEED           attach, print "held", wait until stdin
 *                                  closes, check the pattern, print
 *                                  nattch, detach; exit 1 on a bad byte
 *   shmtool churn PROCS ROUNDS KEY create/attach/write/detach/remove in
 *                                  PROCS processes at once
 *   shmtool threads N ROUNDS       the same in N threads of one process,
 *                                  sharing one segment; prints failures,
 *                                  the shared counter and the final nattch
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "shmtool: %s: %s\n", what, strerrorname_np(errno));
	return 1;
}

static long num(const char *s)
{
	return strtol(s, NULL, 0);
}

static unsigned char pattern(size_t i, long seed)
{
	return (unsigned char)((i * 131 + (size_t)seed * 7) % 251);
}

static size_t segsz(int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return 0;
	return ds.shm_segsz;
}

/* Returns the number of bytes that differ from the pattern, or -1. */
static long verify(int id, long seed)
{
	size_t n = segsz(id);
	unsigned char *p = shmat(id, NULL, SHM_RDONLY);
	long bad = 0;

	if (p == (void *)-1)
		return -1;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != pattern(i, seed);
	if (shmdt(p) < 0)
		return -1;
	return bad;
}

static int fill(int id, long seed)
{
	size_t n = segsz(id);
	unsigned char *p = shmat(id, NULL, 0);

	if (p == (void *)-1)
		return die("shmat");
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(i, seed);
	return shmdt(p) < 0 ? die("shmdt") : 0;
}

static int hold(int id, long seed)
{
	unsigned char *p = shmat(id, NULL, 0);
	struct shmid_ds ds;
	char buf[64];
	size_t n = segsz(id);
	long bad = 0;

	if (p == (void *)-1)
		return die("shmat");
	printf("held\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != pattern(i, seed);
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return die("IPC_STAT");
	printf("nattch %lu bad %ld\n", (unsigned long)ds.shm_nattch, bad);
	if (shmdt(p) < 0)
		return die("shmdt");
	return bad ? 1 : 0;
}

/* One churning process: every round a private segment of its own and
 * an attach of the shared one; the shared counter proves the data path. */
static int churn_one(int shared, int rounds, int me)
{
	for (int r = 0; r < rounds; r++) {
		int id = shmget(IPC_PRIVATE, 4096 + (size_t)r, IPC_CREAT | 0600);
		unsigned char *p, *s;

		if (id < 0)
			return die("shmget");
		p = shmat(id, NULL, 0);
		s = shmat(shared, NULL, 0);
		if (p == (void *)-1 || s == (void *)-1)
			return die("shmat");
		memset(p, me, 4096);
		__atomic_fetch_add((unsigned *)s, 1, __ATOMIC_SEQ_CST);
		s[4 + me] = (unsigned char)r;
		if (p[4095] != (unsigned char)me)
			return 1;
		if (shmdt(p) < 0 || shmdt(s) < 0)
			return die("shmdt");
		if (shmctl(id, IPC_RMID, NULL) < 0)
			return die("IPC_RMID");
	}
	return 0;
}

static int churn(int procs, int rounds, key_t key)
{
	int shared = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	unsigned *count;
	int failed = 0;

	if (shared < 0)
		return die("shmget shared");
	for (int i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return die("fork");
		if (pid == 0)
			_exit(churn_one(shared, rounds, i + 1));
	}
	for (int i = 0; i < procs; i++) {
		int st;

		if (wait(&st) < 0)
			return die("wait");
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	count = shmat(shared, NULL, SHM_RDONLY);
	if (count == (void *)-1)
		return die("shmat shared");
	printf("failed %d count %u\n", failed, *count);
	shmdt(count);
	return shmctl(shared, IPC_RMID, NULL) < 0 ? die("IPC_RMID") : 0;
}

struct thread_arg {
	int shared;
	int rounds;
	int me;
	int failed;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	for (int r = 0; r < a->rounds; r++) {
		int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		unsigned char *mine, *s;

		if (id < 0) {
			a->failed = 1;
			return NULL;
		}
		mine = shmat(id, NULL, 0);
		s = shmat(a->shared, NULL, 0);
		if (mine == (void *)-1 || s == (void *)-1 ||
		    shmctl(id, IPC_RMID, NULL) < 0) {
			a->failed = 1;
			return NULL;
		}
		mine[0] = (unsigned char)a->me;
		__atomic_fetch_add((unsigned *)s, 1, __ATOMIC_SEQ_CST);
		if (shmdt(mine) < 0 || shmdt(s) < 0) {
			a->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

static int threads(int n, int rounds)
{
	int shared = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	struct thread_arg a[16];
	pthread_t t[16];
	struct shmid_ds ds;
	unsigned *count, total;
	int failed = 0;

	if (shared < 0 || n < 1 || n > 16)
		return die("threads");
	for (int i = 0; i < n; i++) {
		a[i] = (struct thread_arg){ shared, rounds, i + 1, 0 };
		if (pthread_create(&t[i], NULL, thread_main, &a[i]) != 0)
			return die("pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		failed += a[i].failed;
	}
	count = shmat(shared, NULL, SHM_RDONLY);
	if (count == (void *)-1)
		return die("shmat");
	total = *count;
	if (shmdt(count) < 0 || shmctl(shared, IPC_STAT, &ds) < 0)
		return die("shmdt/IPC_STAT");
	printf("failed %d count %u nattch %lu\n", failed, total,
	       (unsigned long)ds.shm_nattch);
	return shmctl(shared, IPC_RMID, NULL) < 0 ? die("IPC_RMID") : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct shmid_ds ds;
	int id;

	if (strcmp(cmd, "create") == 0 && argc == 5) {
		key_t key = strcmp(argv[2], "private") == 0 ? IPC_PRIVATE :
							      (key_t)num(argv[2]);

		id = shmget(key, (size_t)num(argv[3]),
			    IPC_CREAT | (int)num(argv[4]));
		if (id < 0)
			return die("shmget");
		printf("%d\n", id);
		return 0;
	}
	if (strcmp(cmd, "info") == 0) {
		struct shminfo si;

		if (shmctl(0, IPC_INFO, (struct shmid_ds *)&si) < 0)
			return die("IPC_INFO");
		printf("%lu %lu %lu %lu %lu\n", si.shmmax, si.shmmin, si.shmmni,
		       si.shmseg, si.shmall);
		return 0;
	}
	if (strcmp(cmd, "threads") == 0 && argc == 4)
		return threads((int)num(argv[2]), (int)num(argv[3]));
	if (strcmp(cmd, "forkkill") == 0 && argc == 3) {
		long n = num(argv[2]), bad = 0;

		for (long i = 0; i < n; i++) {
			void *p;
			pid_t pid;

			id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
			if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
				return die("shmget/shmat");
			pid = fork();
			if (pid < 0)
				return die("fork");
			if (pid == 0) {
				pause();
				_exit(0);
			}
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (shmctl(id, IPC_STAT, &ds) < 0)
				return die("IPC_STAT");
			bad += ds.shm_lpid != pid || ds.shm_nattch != 1;
			if (shmdt(p) < 0 || shmctl(id, IPC_RMID, NULL) < 0)
				return die("shmdt/IPC_RMID");
		}
		printf("wrong %ld of %ld\n", bad, n);
		return 0;
	}
	if (strcmp(cmd, "churn") == 0 && argc == 5)
		return churn((int)num(argv[2]), (int)num(argv[3]),
			     (key_t)num(argv[4]));
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment in shmtool.c\n");
		return 2;
	}
	if (strcmp(cmd, "id") == 0) {
		id = shmget((key_t)num(argv[2]), 0, 0);
		if (id < 0)
			return die("shmget");
		printf("%d\n", id);
		return 0;
	}
	id = (int)num(argv[2]);
	if (strcmp(cmd, "fill") == 0 && argc == 4)
		return fill(id, num(argv[3]));
	if (strcmp(cmd, "check") == 0 && argc == 4) {
		long bad = verify(id, num(argv[3]));

		if (bad < 0)
			return die("check");
		if (bad)
			printf("%ld bad bytes\n", bad);
		return bad != 0;
	}
	if (strcmp(cmd, "hold") == 0 && argc == 4)
		return hold(id, num(argv[3]));
	if (strcmp(cmd, "closefds") == 0) {
		void *p = shmat(id, NULL, 0);
		unsigned long before, after;
		int sv[2], intact = 0, stray;
		char buf[64];

		if (p == (void *)-1)
			return die("shmat");
		close_range(3, ~0u, 0);
		/* The program's own socket on every number from 100 up
		 * (where the library's were, and where they were before):
		 * a library that still used its old numbers would write
		 * into it or close it. */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			return die("socketpair");
		for (int fd = 100; fd < 1100; fd++)
			if (dup2(sv[0], fd) < 0)
				return die("dup2");
		if (shmctl(id, IPC_STAT, &ds) < 0)
			return die("IPC_STAT");
		before = ds.shm_nattch;
		if (shmdt(p) < 0 || shmctl(id, IPC_STAT, &ds) < 0)
			return die("shmdt/IPC_STAT");
		after = ds.shm_nattch;
		for (int fd = 100; fd < 1100; fd++)
			intact += fcntl(fd, F_GETFD) >= 0;
		stray = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) >= 0;
		printf("nattch %lu then %lu, program's fds %s, %s\n", before,
		       after, intact == 1000 ? "intact" : "closed",
		       stray ? "written to" : "not written to");
		return 0;
	}
	if (strcmp(cmd, "rmid") == 0)
		return shmctl(id, IPC_RMID, NULL) < 0 ? die("IPC_RMID") : 0;
	if (strcmp(cmd, "lock") == 0)
		return shmctl(id, SHM_LOCK, NULL) < 0 ? die("SHM_LOCK") : 0;
	if (strcmp(cmd, "chmod") == 0 && argc == 4) {
		if (shmctl(id, IPC_STAT, &ds) < 0)
			return die("IPC_STAT");
		ds.shm_perm.mode = (unsigned short)num(argv[3]);
		return shmctl(id, IPC_SET, &ds) < 0 ? die("IPC_SET") : 0;
	}
	if (strcmp(cmd, "stat") == 0 || strcmp(cmd, "nattch") == 0) {
		if (shmctl(id, IPC_STAT, &ds) < 0)
			return die("IPC_STAT");
		if (strcmp(cmd, "nattch") == 0) {
			printf("%lu\n", (unsigned long)ds.shm_nattch);
			return 0;
		}
		printf("key=%d uid=%u gid=%u cuid=%u cgid=%u mode=%o seq=%u "
		       "segsz=%zu atime=%ld dtime=%ld ctime=%ld cpid=%d "
		       "lpid=%d nattch=%lu\n",
		       ds.shm_perm.__key, ds.shm_perm.uid, ds.shm_perm.gid,
		       ds.shm_perm.cuid, ds.shm_perm.cgid, ds.shm_perm.mode,
		       ds.shm_perm.__seq, ds.shm_segsz, (long)ds.shm_atime,
		       (long)ds.shm_dtime, (long)ds.shm_ctime, ds.shm_cpid,
		       ds.shm_lpid, (unsigned long)ds.shm_nattch);
		return 0;
	}
	fprintf(stderr, "shmtool: unknown command '%s'\n", cmd);
	return 2;
}
