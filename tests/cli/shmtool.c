/*
 * shmtool.c - make shared memory segments for the ushm tests, on the
 * kernel (-k) or on ushm, with the same commands, so that a test can
 * build the same picture on both and compare what ipcs and ushm ls show.
 *
 *   shmtool [-k] get KEY SIZE MODE     create (IPC_CREAT|MODE), print id
 *   shmtool [-k] set ID UID GID MODE   IPC_SET
 *   shmtool [-k] lock ID               SHM_LOCK
 *   shmtool [-k] rmid ID               IPC_RMID
 *   shmtool [-k] hold FILE ID N...     attach each ID N times, create
 *                                      (or, a fifo, write a byte to)
 *                                      FILE, then wait for a signal (or
 *                                      for the parent's death)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ushm.h>

struct calls {
	int (*get)(key_t key, size_t size, int shmflg);
	void *(*at)(int shmid, const void *shmaddr, int shmflg);
	int (*ctl)(int shmid, int cmd, struct shmid_ds *buf);
};

static const struct calls kernel = { shmget, shmat, shmctl };
static const struct calls ushm = { ushm_get, ushm_at, ushm_ctl };

static int fail(const char *what)
{
	fprintf(stderr, "shmtool: %s: %s\n", what, strerror(errno));
	return 1;
}

static int number(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	if (end == s || *end || errno) {
		fprintf(stderr, "shmtool: bad number '%s'\n", s);
		return -1;
	}
	return 0;
}

static int do_get(const struct calls *c, char **arg)
{
	long long key, size, mode;
	int id;

	if (number(arg[0], &key) || number(arg[1], &size) ||
	    number(arg[2], &mode))
		return 2;
	id = c->get((key_t)key, (size_t)size, IPC_CREAT | (int)mode);
	if (id < 0)
		return fail("get");
	printf("%d\n", id);
	return 0;
}

static int do_set(const struct calls *c, char **arg)
{
	struct shmid_ds ds;
	long long id, uid, gid, mode;

	if (number(arg[0], &id) || number(arg[1], &uid) ||
	    number(arg[2], &gid) || number(arg[3], &mode))
		return 2;
	if (c->ctl((int)id, IPC_STAT, &ds) < 0)
		return fail("IPC_STAT");
	ds.shm_perm.uid = (uid_t)uid;
	ds.shm_perm.gid = (gid_t)gid;
	ds.shm_perm.mode = (unsigned short)mode;
	if (c->ctl((int)id, IPC_SET, &ds) < 0)
		return fail("IPC_SET");
	return 0;
}

static int do_ctl(const struct calls *c, char **arg, int cmd,
		  const char *what)
{
	long long id;

	if (number(arg[0], &id))
		return 2;
	if (c->ctl((int)id, cmd, NULL) < 0)
		return fail(what);
	return 0;
}

static int is_fifo(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int do_hold(const struct calls *c, int argc, char **arg)
{
	long long id, n, i;
	pid_t parent = getppid();
	int k, fd;

	/*
	 * A test that dies without its cleanup must not leave us holding
	 * segments (and its TAP pipe) forever: go with our parent.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		return fail("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		return 0;
	for (k = 1; k + 1 < argc; k += 2) {
		if (number(arg[k], &id) || number(arg[k + 1], &n))
			return 2;
		for (i = 0; i < n; i++)
			if (c->at((int)id, NULL, 0) == (void *)-1)
				return fail("attach");
	}
	/* FILE is created; a fifo the test made gets a byte instead,
	 * which the test waits for (an event, not a poll of the file). */
	if (is_fifo(arg[0])) {
		fd = open(arg[0], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1", 1) != 1 || close(fd) < 0)
			return fail(arg[0]);
	} else {
		fd = open(arg[0], O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || close(fd) < 0)
			return fail(arg[0]);
	}
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const struct calls *c = &ushm;
	const char *op;

	if (argc > 1 && strcmp(argv[1], "-k") == 0) {
		c = &kernel;
		argc--;
		argv++;
	}
	if (argc < 3)
		goto usage;
	op = argv[1];
	argc -= 2;
	argv += 2;
	if (strcmp(op, "get") == 0 && argc == 3)
		return do_get(c, argv);
	if (strcmp(op, "set") == 0 && argc == 4)
		return do_set(c, argv);
	if (strcmp(op, "lock") == 0 && argc == 1)
		return do_ctl(c, argv, SHM_LOCK, "SHM_LOCK");
	if (strcmp(op, "rmid") == 0 && argc == 1)
		return do_ctl(c, argv, IPC_RMID, "IPC_RMID");
	if (strcmp(op, "hold") == 0 && argc >= 3 && argc % 2 == 1)
		return do_hold(c, argc, argv);
usage:
	fprintf(stderr, "usage: shmtool [-k] get|set|lock|rmid|hold ...\n");
	return 2;
}
