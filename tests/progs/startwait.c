/*
 * startwait - a plain System V program with two threads: one makes a
 * call that must wait for a daemon to start, the other meanwhile detaches
 * a segment, which needs no daemon; for tests/startwait.t.  It knows
 * nothing of ushm: on its own it exercises the kernel (DAEMON 0), under
 * ushm-run a daemon it kills first, so that the call's library must
 * start another one.
 *
 *   startwait DAEMON   attach a segment; with DAEMON, SIGKILL it and wait
 *                      until it is gone; then thread A creates a segment
 *                      while, with DAEMON, the new daemon is held back
 *                      (the starter, $STARTWAIT_STARTED and $STARTWAIT_GO:
 *                      tests/startwait.t), and thread B detaches the
 *                      first one, then the main thread forks a child
 *                      that exits; print whether the detach and the fork
 *                      returned within BOUND_MS and what each call gave,
 *                      then let the daemon start (with DAEMON) and print
 *                      the first segment's nattch
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Far above what a shmdt or a fork costs, far below the test's bound:
 * the daemon is held back until the detach has returned or this has
 * passed. */
#define BOUND_MS 5000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "startwait: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int create_id = -1; /* thread A's shmget */
static int create_errno;
static int detach_result = -2; /* thread B's shmdt */
static int detach_errno;
static void *attached;
static int detached_pipe[2];

static void *create_thread(void *arg)
{
	(void)arg;
	create_id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	create_errno = errno;
	return NULL;
}

static void *detach_thread(void *arg)
{
	(void)arg;
	detach_result = shmdt(attached);
	detach_errno = errno;
	if (write(detached_pipe[1], "d", 1) != 1)
		die("write");
	return NULL;
}

/* SIGKILLs pid and waits until it has ended (pidfd: readable then). */
static void kill_and_wait(pid_t pid)
{
	struct pollfd pfd;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		die("pidfd_open");
	if (kill(pid, SIGKILL) < 0)
		die("kill");
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1)
		die("waiting for the daemon to end");
	close(fd);
}

/* Reads (or, with to_write, writes) one message on the fifo the
 * environment variable name gives.  The starter holds both fifos open
 * read-write: it says it runs on STARTWAIT_STARTED, and execs the daemon
 * once a line comes on STARTWAIT_GO. */
static void fifo_message(const char *name, int to_write)
{
	const char *path = getenv(name);
	char buf[4] = "go\n";
	int fd;

	if (!path) {
		errno = EINVAL;
		die(name);
	}
	fd = open(path, (to_write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		die(name);
	if ((to_write ? write(fd, buf, 3) : read(fd, buf, 1)) < 1)
		die(name);
	close(fd);
}

int main(int argc, char **argv)
{
	pid_t daemon;
	pthread_t a, b;
	struct shmid_ds ds;
	struct pollfd pfd;
	int id, in_time, fork_in_time, err, st;
	double t0;
	pid_t child;

	if (argc != 2) {
		fprintf(stderr, "usage: startwait DAEMON\n");
		return 2;
	}
	daemon = (pid_t)atoi(argv[1]);
	if (pipe2(detached_pipe, O_CLOEXEC) < 0)
		die("pipe");
	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id < 0)
		die("shmget");
	attached = shmat(id, NULL, 0);
	if (attached == (void *)-1)
		die("shmat");
	if (daemon > 0)
		kill_and_wait(daemon);

	err = pthread_create(&a, NULL, create_thread, NULL);
	if (err) {
		errno = err;
		die("pthread_create");
	}
	/* Thread A is now waiting for the daemon it started. */
	if (daemon > 0)
		fifo_message("STARTWAIT_STARTED", 0);
	err = pthread_create(&b, NULL, detach_thread, NULL);
	if (err) {
		errno = err;
		die("pthread_create");
	}
	pfd.fd = detached_pipe[0];
	pfd.events = POLLIN;
	do
		in_time = poll(&pfd, 1, BOUND_MS);
	while (in_time < 0 && errno == EINTR);
	/* fork's handlers take the library's lock too. */
	t0 = now_ms();
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		_exit(0);
	if (waitpid(child, &st, 0) != child)
		die("waitpid");
	fork_in_time = now_ms() - t0 < BOUND_MS && WIFEXITED(st) &&
		       WEXITSTATUS(st) == 0;
	if (daemon > 0)
		fifo_message("STARTWAIT_GO", 1);
	if (pthread_join(a, NULL) != 0 || pthread_join(b, NULL) != 0)
		die("pthread_join");

	printf("shmdt while another thread's shmget waits for a daemon to "
	       "start: returned in time: %s\n", in_time == 1 ? "yes" : "no");
	printf("fork meanwhile: returned in time: %s\n",
	       fork_in_time ? "yes" : "no");
	printf("shmdt: %s\n", detach_result == 0 ? "0" :
	       strerror(detach_errno));
	printf("the waiting shmget: %s\n", create_id >= 0 ? "a new id" :
	       strerror(create_errno));
	if (shmctl(id, IPC_STAT, &ds) < 0)
		die("IPC_STAT");
	printf("nattch of the detached segment: %lu\n",
	       (unsigned long)ds.shm_nattch);
	if (shmctl(id, IPC_RMID, NULL) < 0)
		die("IPC_RMID");
	if (create_id >= 0 && shmctl(create_id, IPC_RMID, NULL) < 0)
		die("IPC_RMID");
	return 0;
}
