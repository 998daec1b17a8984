/*
 * fds.c - the process around the calls: the kernel's shm calls use no
 * file descriptors and no environment, so a program may close or reuse
 * any descriptor, run out of them, or clear its environment.
 */
#include "conf.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

static size_t page;

/* The lowest free descriptor, without keeping it. */
static int
lowest_fd(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		die("open");
	close(fd);
	return fd;
}

/* The calls leave the descriptor table as it was. */
static void
no_descriptors(void)
{
	int before = lowest_fd(), id;
	char *p;

	id = mkseg(IPC_PRIVATE, page, 0600);
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		die("shmat");
	say("lowest free fd unchanged while attached: %s",
	    yesno(lowest_fd() == before));
	if (shmdt(p) != 0)
		die("shmdt");
	rmseg(id);
	say("lowest free fd unchanged after: %s",
	    yesno(lowest_fd() == before));
}

/* In a child: close everything but stdio, then use shm. */
static void
close_all(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	char *p = shmat(id, NULL, 0);
	pid_t pid;

	if (p == (void *)-1)
		die("shmat");
	p[0] = 1;
	pid = xfork();
	if (pid == 0) {
		closefrom(3);
		say("child, fds >= 3 closed: inherited attachment %s",
		    yesno(p[0] == 1));
		say("child: IPC_STAT nattch == 2: %s",
		    yesno(nattch(id) == 2));
		say("child: shmdt(inherited): %s", R(shmdt(p)));
		say("child: nattch now %lu", (unsigned long)nattch(id));
		say("child: create/attach/detach/remove: %s",
		    yesno(conf_round_trip()));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	say("nattch %lu", (unsigned long)nattch(id));
	if (shmdt(p) != 0)
		die("shmdt");
	rmseg(id);
}

/* In a child: a file dup2()ed over every descriptor from 3 to 63. */
static void
overwrite_all(void)
{
	char path[] = "/tmp/conf-fds.XXXXXX";
	int fd = mkstemp(path), id;
	pid_t pid;
	struct stat st;

	if (fd < 0)
		die("mkstemp");
	if (unlink(path) != 0)
		die("unlink");
	id = mkseg(IPC_PRIVATE, page, 0600);
	pid = xfork();
	if (pid == 0) {
		for (int i = 3; i < 64; i++)
			if (i != fd && dup2(fd, i) < 0)
				_exit(90);
		say("child, fds 3..63 are a file: attach %s",
		    RP(shmat(id, NULL, 0)));
		say("child: create/attach/detach/remove: %s",
		    yesno(conf_round_trip()));
		say("child: IPC_STAT: %s",
		    R(shmctl(id, IPC_STAT, &(struct shmid_ds){ 0 })));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	/* Nothing may have been written to the file, nor read from it. */
	if (fstat(fd, &st) != 0)
		die("fstat");
	say("file untouched: size %lld, offset %lld", (long long)st.st_size,
	    (long long)lseek(fd, 0, SEEK_CUR));
	say("nattch after the child's exit %lu", (unsigned long)nattch(id));
	close(fd);
	rmseg(id);
}

/* In a child: the descriptor limit set to limit (never above the hard
 * one), then every descriptor under it taken; says what open said. */
static void
take_every_fd(const char *who, rlim_t limit)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		_exit(91);
	rl.rlim_cur = rl.rlim_max < limit ? rl.rlim_max : limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		_exit(91);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
	say("%s: descriptors exhausted: %s", who, ename(errno));
}

/* In a child: every descriptor up to RLIMIT_NOFILE in use. */
static void
no_free_fds(void)
{
	int id = mkseg(IPC_PRIVATE, page, 0600);
	pid_t pid = xfork();

	if (pid == 0) {
		char *p;

		take_every_fd("child", 64);
		p = shmat(id, NULL, 0);
		say("no free fd: shmat: %s", RP(p));
		if (p != (void *)-1) {
			say("no free fd: nattch %lu", (unsigned long)nattch(id));
			say("no free fd: shmdt: %s", R(shmdt(p)));
		}
		say("no free fd: create/attach/detach/remove: %s",
		    yesno(conf_round_trip()));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	rmseg(id);
}

/*
 * In a forked child holding its parent's attachment: every descriptor in
 * use (the limit set above where a library could keep its own), then the
 * first attach of another segment.  The kernel needs no descriptor.
 */
static void
no_free_fds_after_fork(void)
{
	int a = mkseg(IPC_PRIVATE, page, 0600);
	int b = mkseg(IPC_PRIVATE, page, 0600);
	char *pa = shmat(a, NULL, 0);
	pid_t pid;

	if (pa == (void *)-1)
		die("shmat");
	pid = xfork();
	if (pid == 0) {
		char *p;

		take_every_fd("forked child", 2048);
		p = shmat(b, NULL, 0);
		say("forked child, every descriptor in use: "
		    "shmat of another segment: %s", RP(p));
		if (p != (void *)-1)
			say("forked child, every descriptor in use: shmdt: %s",
			    R(shmdt(p)));
		_exit(0);
	}
	say("forked child: %s", wstatus(xwait(pid)));
	if (shmdt(pa) != 0)
		die("shmdt");
	rmseg(a);
	rmseg(b);
}

/* A program may clear its environment before its first shm call. */
static void
no_environment(void)
{
	key_t k = conf_key(1);
	int id = mkseg(k, page, 0600);
	pid_t pid = xfork();

	if (pid == 0) {
		if (clearenv() != 0)
			_exit(92);
		int cid = shmget(k, 0, 0);

		say("child, environment cleared: shmget(key): %s, same: %s",
		    R(cid), yesno(cid == id));
		say("child: create/attach/detach/remove: %s",
		    yesno(conf_round_trip()));
		_exit(0);
	}
	say("child: %s", wstatus(xwait(pid)));
	rmseg(id);
}

int
main(void)
{
	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	no_descriptors();
	close_all();
	overwrite_all();
	no_free_fds();
	no_free_fds_after_fork();
	no_environment();
	return 0;
}
