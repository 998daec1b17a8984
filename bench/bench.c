/*
 * bench - ushm against the kernel and against other IPC, in one run.
 *
 *   bench OUTDIR     prints the table and the "ratio" lines, and
 *                    writes OUTDIR/rtt.dat and OUTDIR/tput.dat for plots
 *
 * Each figure is the median of REPS repetitions, with min and max; each
 * repetition runs for a fixed time budget rather than a fixed count, so
 * slow mechanisms do not blow the run time up.  What a ratio compares is
 * measured in turn within each repetition (the kernel's call and ushm's,
 * every round-trip mechanism, every throughput mechanism of one size),
 * so that a phase of the machine (a neighbour's load, for a second)
 * falls on both sides of the ratio, not on one side's block of
 * repetitions.  Run it with a private daemon (bench/run.sh does).
 */
#define _GNU_SOURCE
#include "ushm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 5
#define BUDGET 0.1 /* seconds per repetition */
#define STOP UINT64_MAX

struct stat3 {
	double med, min, max;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fatal(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct stat3 summarize(double *v, int n)
{
	struct stat3 s;

	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	s.med = v[n / 2];
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static void row(const char *name, const char *unit, struct stat3 s)
{
	printf("  %-44s %12.1f %12.1f %12.1f  %s\n", name, s.med, s.min,
	       s.max, unit);
}

static key_t next_key(void)
{
	/* Only spreads keys between runs; nothing depends on it being
	 * unpredictable. */
	return (key_t)(0x42000000 | ((getpid() & 0xffff) << 8) |
		       (rand() & 0xff)); // NOLINT(cert-msc30-c,cert-msc50-cpp)
}

/* ---------------- control path ---------------- */

enum ctl_op { CREATE_RMID, LOOKUP, AT_DT_4K, AT_DT_64M, STAT };

static double ctl_once(enum ctl_op op, int kernel, int id, key_t key)
{
	int (*get)(key_t, size_t, int) = kernel ? shmget : ushm_get;
	void *(*at)(int, const void *, int) = kernel ? shmat : ushm_at;
	int (*dt)(const void *) = kernel ? shmdt : ushm_dt;
	int (*ctl)(int, int, struct shmid_ds *) = kernel ? shmctl : ushm_ctl;
	double t0 = now(), t;
	struct shmid_ds ds;
	long n = 0;
	int x;
	void *p;

	do {
		int i;

		for (i = 0; i < 64; i++) {
			switch (op) {
			case CREATE_RMID:
				x = get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
				if (x < 0 || ctl(x, IPC_RMID, NULL) < 0)
					fatal("create/rmid");
				break;
			case LOOKUP:
				if (get(key, 0, 0) < 0)
					fatal("lookup");
				break;
			case AT_DT_4K:
			case AT_DT_64M:
				p = at(id, NULL, 0);
				if (p == (void *)-1 || dt(p) < 0)
					fatal("at/dt");
				break;
			case STAT:
				if (ctl(id, IPC_STAT, &ds) < 0)
					fatal("stat");
				break;
			}
		}
		n += 64;
		t = now() - t0;
	} while (t < BUDGET / 2);
	return t / (double)n * 1e9;
}

/* ushm's time over the kernel's; *ushm_ns (if asked) gets ushm's. */
static double ctl_bench(const char *name, enum ctl_op op, double *ushm_ns)
{
	double v[2][REPS];
	struct stat3 s[2];
	char label[96];
	int kernel, r;

	for (r = 0; r < REPS; r++)
		for (kernel = 0; kernel < 2; kernel++) {
			size_t size = op == AT_DT_64M ? (64u << 20) : 4096;
			int (*get)(key_t, size_t, int) =
				kernel ? shmget : ushm_get;
			key_t key = next_key();
			int id = get(key, size, IPC_CREAT | 0600);

			if (id < 0)
				fatal("shmget");
			v[kernel][r] = ctl_once(op, kernel, id, key);
			if ((kernel ? shmctl : ushm_ctl)(id, IPC_RMID,
							 NULL) < 0)
				fatal("rmid");
		}
	for (kernel = 0; kernel < 2; kernel++) {
		s[kernel] = summarize(v[kernel], REPS);
		snprintf(label, sizeof(label), "%s (%s)", name,
			 kernel ? "kernel" : "ushm");
		row(label, "ns/op", s[kernel]);
	}
	if (ushm_ns)
		*ushm_ns = s[0].med;
	return s[0].med / s[1].med;
}

/* fork + _exit + waitpid of a process holding one attachment of a 4 KiB
 * segment: the child inherits it, its exit detaches it (ns per fork). */
static double fork_once(int kernel, int id)
{
	void *p = kernel ? shmat(id, NULL, 0) : ushm_at(id, NULL, 0);
	double t0 = now(), t;
	long n = 0;

	if (p == (void *)-1)
		fatal("fork: shmat");
	do {
		for (int i = 0; i < 16; i++) {
			int st;
			pid_t pid = fork();

			if (pid < 0)
				fatal("fork");
			if (pid == 0)
				_exit(0);
			if (waitpid(pid, &st, 0) != pid || st != 0)
				fatal("waitpid");
		}
		n += 16;
		t = now() - t0;
	} while (t < BUDGET / 2);
	if ((kernel ? shmdt(p) : ushm_dt(p)) < 0)
		fatal("fork: shmdt");
	return t / (double)n * 1e9;
}

static double fork_bench(void)
{
	double v[2][REPS];
	struct stat3 s[2];
	int kernel, r;

	for (r = 0; r < REPS; r++)
		for (kernel = 0; kernel < 2; kernel++) {
			int id = kernel ? shmget(IPC_PRIVATE, 4096,
						 IPC_CREAT | 0600) :
					  ushm_get(IPC_PRIVATE, 4096,
						   IPC_CREAT | 0600);

			if (id < 0)
				fatal("fork: shmget");
			v[kernel][r] = fork_once(kernel, id);
			if ((kernel ? shmctl : ushm_ctl)(id, IPC_RMID, NULL) <
			    0)
				fatal("fork: rmid");
		}
	s[0] = summarize(v[0], REPS);
	s[1] = summarize(v[1], REPS);
	row("fork + exit + waitpid, 1 attachment (ushm)", "ns/op", s[0]);
	row("fork + exit + waitpid, 1 attachment (kernel)", "ns/op", s[1]);
	return s[0].med / s[1].med;
}

/* ---------------- data path ---------------- */

/* One repetition on segment p: copy in, copy out, fill (ms). */
static double data_once(char *p, char *priv, size_t size, int r)
{
	double t0 = now();

	memcpy(p, priv, size);
	memcpy(priv, p, size);
	memset(p, r, size);
	return (now() - t0) * 1e3;
}

/* Both segments live at once and measured in turns, repetition by
 * repetition, so that a noisy moment falls on both sides alike. */
static double data_bench(void)
{
	size_t size = 64u << 20;
	double v[2][REPS];
	struct stat3 s[2];
	char *priv = malloc(size), *p[2] = { NULL, NULL };
	int id[2] = { -1, -1 }, kernel, r;

	if (!priv)
		fatal("malloc");
	memset(priv, 1, size);
	for (kernel = 0; kernel < 2; kernel++) {
		id[kernel] = kernel ?
				     shmget(IPC_PRIVATE, size, IPC_CREAT | 0600) :
				     ushm_get(IPC_PRIVATE, size, IPC_CREAT | 0600);
		if (id[kernel] < 0)
			fatal("data get");
		p[kernel] = kernel ? shmat(id[kernel], NULL, 0) :
				     ushm_at(id[kernel], NULL, 0);
		if (p[kernel] == (void *)-1)
			fatal("data at");
		memset(p[kernel], 0, size); /* fault the pages in first */
	}
	for (r = 0; r < REPS; r++)
		for (kernel = 0; kernel < 2; kernel++)
			v[kernel][r] = data_once(p[kernel], priv, size, r);
	for (kernel = 0; kernel < 2; kernel++)
		if ((kernel ? shmdt(p[kernel]) : ushm_dt(p[kernel])) < 0 ||
		    (kernel ? shmctl(id[kernel], IPC_RMID, NULL) :
			      ushm_ctl(id[kernel], IPC_RMID, NULL)) < 0)
			fatal("data rm");
	free(priv);
	s[0] = summarize(v[0], REPS);
	s[1] = summarize(v[1], REPS);
	row("copy in+out+fill 64 MiB (ushm)", "ms", s[0]);
	row("copy in+out+fill 64 MiB (kernel)", "ms", s[1]);
	return s[0].med / s[1].med;
}

/* ---------------- ping-pong ---------------- */

/* Two spins: on one line that both sides write (the physical limit of
 * a round trip), and on two lines, one per direction, as two one-way
 * channels (or any two queues) must use: each line then crosses twice a
 * round trip, and on some processors that costs twice as much. */
enum mech { M_SPIN, M_SPIN2, M_FUTEX, M_UWAIT, M_CHAN, M_PIPE, M_UNIX,
	    M_EVENTFD, M_SEM, M_COUNT };
static const char *const mech_names[M_COUNT] = {
	"spin (shared line)", "spin (two lines)", "raw futex",
	"ushm_wait/wake", "ushm_chan", "pipe", "unix socket", "eventfd",
	"sysv semaphore",
};

struct shared {
	_Atomic uint64_t word2[2][8] __attribute__((aligned(64))); /* a line each */
	_Atomic uint64_t word[2] __attribute__((aligned(64)));
	char pad[64];
	_Atomic uint32_t fx[2][16];
	_Atomic int go;
};

struct pp {
	enum mech m;
	struct shared *sh;      /* anonymous shared memory */
	ushm_atomic_u32 *uw;    /* two words in a ushm segment */
	int uid;
	int pipes[2][2];
	int sock[2];
	int efd[2];
	int sem;
	key_t ck[2];            /* channel keys: 0 parent->child, 1 back */
	struct ushm_chan *tx, *rx;
};

static long sys_futex(void *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void pp_send(struct pp *p, int dir, uint64_t v)
{
	uint32_t w = (uint32_t)v;

	switch (p->m) {
	case M_SPIN:
		atomic_store(&p->sh->word[dir], v);
		break;
	case M_SPIN2:
		atomic_store(&p->sh->word2[dir][0], v);
		break;
	case M_FUTEX:
		atomic_store(&p->sh->fx[dir][0], w);
		sys_futex(&p->sh->fx[dir][0], FUTEX_WAKE, 1);
		break;
	case M_UWAIT:
		atomic_store(&p->uw[dir * 16], w);
		if (ushm_wake(&p->uw[dir * 16], 1) < 0)
			fatal("wake");
		break;
	case M_CHAN:
		if (ushm_chan_send(p->tx, &v, sizeof(v), NULL) < 0)
			fatal("chan send");
		break;
	case M_PIPE:
		if (write(p->pipes[dir][1], &v, sizeof(v)) != sizeof(v))
			fatal("pipe write");
		break;
	case M_UNIX:
		if (write(p->sock[dir], &v, sizeof(v)) != sizeof(v))
			fatal("sock write");
		break;
	case M_EVENTFD:
		if (write(p->efd[dir], &(uint64_t){ 1 }, 8) != 8)
			fatal("eventfd write");
		break;
	case M_SEM: {
		struct sembuf op = { (unsigned short)dir, 1, 0 };

		if (semop(p->sem, &op, 1) < 0)
			fatal("semop");
		break;
	}
	default:
		break;
	}
}

/* Waits for the value v (or, for counters, one event) in direction dir. */
static uint64_t pp_recv(struct pp *p, int dir, uint64_t v)
{
	uint64_t got = v;

	switch (p->m) {
	case M_SPIN:
		while ((got = atomic_load(&p->sh->word[dir])) != v &&
		       got != STOP)
			__builtin_ia32_pause();
		break;
	case M_SPIN2:
		while ((got = atomic_load(&p->sh->word2[dir][0])) != v &&
		       got != STOP)
			__builtin_ia32_pause();
		break;
	case M_FUTEX: {
		uint32_t w;

		while ((w = atomic_load(&p->sh->fx[dir][0])) != (uint32_t)v &&
		       w != (uint32_t)STOP)
			sys_futex(&p->sh->fx[dir][0], FUTEX_WAIT, w);
		got = w == (uint32_t)STOP ? STOP : v;
		break;
	}
	case M_UWAIT: {
		uint32_t w;

		while ((w = atomic_load(&p->uw[dir * 16])) != (uint32_t)v &&
		       w != (uint32_t)STOP)
			if (ushm_wait(&p->uw[dir * 16], w, NULL) < 0 &&
			    errno != EINTR)
				fatal("wait");
		got = w == (uint32_t)STOP ? STOP : v;
		break;
	}
	case M_CHAN:
		if (ushm_chan_recv(p->rx, &got, sizeof(got), NULL) < 0)
			fatal("chan recv");
		break;
	case M_PIPE:
		if (read(p->pipes[dir][0], &got, sizeof(got)) != sizeof(got))
			fatal("pipe read");
		break;
	case M_UNIX:
		if (read(p->sock[!dir], &got, sizeof(got)) != sizeof(got))
			fatal("sock read");
		break;
	case M_EVENTFD: {
		uint64_t n;

		if (read(p->efd[dir], &n, 8) != 8)
			fatal("eventfd read");
		break;
	}
	case M_SEM: {
		struct sembuf op = { (unsigned short)dir, -1, 0 };

		while (semop(p->sem, &op, 1) < 0)
			if (errno != EINTR)
				fatal("semop");
		break;
	}
	default:
		break;
	}
	return got;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fatal("sched_setaffinity");
}

static void pp_setup(struct pp *p, enum mech m)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->m = m;
	/* fd -1: what MAP_ANONYMOUS asks for portably (cppcheck's POSIX
	 * model wants fd >= 0 for every mmap). */
	p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0); // cppcheck-suppress invalidFunctionArg
	if (p->sh == MAP_FAILED)
		fatal("mmap");
	switch (m) {
	case M_UWAIT:
		p->uid = ushm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		if (p->uid < 0)
			fatal("ushm_get");
		p->uw = ushm_at(p->uid, NULL, 0);
		if (p->uw == (void *)-1 ||
		    ushm_ctl(p->uid, IPC_RMID, NULL) < 0)
			fatal("ushm_at");
		break;
	case M_CHAN:
		for (i = 0; i < 2; i++) {
			p->ck[i] = next_key();
			while (ushm_chan_create(p->ck[i], 65536, 1, 0600) < 0)
				if (errno != EEXIST || !(p->ck[i]++))
					fatal("chan create");
		}
		break;
	case M_PIPE:
		if (pipe(p->pipes[0]) < 0 || pipe(p->pipes[1]) < 0)
			fatal("pipe");
		break;
	case M_UNIX:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sock) < 0)
			fatal("socketpair");
		break;
	case M_EVENTFD:
		p->efd[0] = eventfd(0, 0);
		p->efd[1] = eventfd(0, 0);
		if (p->efd[0] < 0 || p->efd[1] < 0)
			fatal("eventfd");
		break;
	case M_SEM:
		p->sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
		if (p->sem < 0)
			fatal("semget");
		break;
	default:
		break;
	}
}

static void chan_ends(struct pp *p, int child)
{
	p->tx = ushm_chan_open(p->ck[child], USHM_CHAN_PRODUCER);
	p->rx = ushm_chan_open(p->ck[!child], USHM_CHAN_CONSUMER);
	if (!p->tx || !p->rx)
		fatal("chan open");
}

static void pp_teardown(struct pp *p)
{
	int i;

	switch (p->m) {
	case M_UWAIT:
		if (ushm_dt((void *)p->uw) < 0)
			fatal("dt");
		break;
	case M_CHAN:
		for (i = 0; i < 2; i++) {
			int id = ushm_get(p->ck[i], 0, 0);

			if (id < 0 || ushm_ctl(id, IPC_RMID, NULL) < 0)
				fatal("chan rm");
		}
		break;
	case M_PIPE:
		for (i = 0; i < 4; i++)
			(void)close(p->pipes[i / 2][i % 2]);
		break;
	case M_UNIX:
		(void)close(p->sock[0]);
		(void)close(p->sock[1]);
		break;
	case M_EVENTFD:
		(void)close(p->efd[0]);
		(void)close(p->efd[1]);
		break;
	case M_SEM:
		if (semctl(p->sem, 0, IPC_RMID) < 0)
			fatal("sem rm");
		break;
	default:
		break;
	}
	if (munmap(p->sh, sizeof(*p->sh)) < 0)
		fatal("munmap");
}

/* One round-trip measurement: ns per round trip. */
static double pp_once(enum mech m, int cpu_a, int cpu_b)
{
	struct pp p;
	cpu_set_t saved;
	double t0, t;
	uint64_t i = 0;
	pid_t pid;

	pp_setup(&p, m);
	if (sched_getaffinity(0, sizeof(saved), &saved) < 0)
		fatal("sched_getaffinity");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		uint64_t v;

		pin(cpu_b);
		if (m == M_CHAN)
			chan_ends(&p, 1);
		atomic_store(&p.sh->go, 1);
		for (i = 1;; i++) {
			v = pp_recv(&p, 0, i);
			pp_send(&p, 1, v == STOP ? STOP : i);
			if (v == STOP)
				_exit(0);
		}
	}
	pin(cpu_a);
	if (m == M_CHAN)
		chan_ends(&p, 0);
	while (!atomic_load(&p.sh->go))
		sched_yield();
	t0 = now();
	do {
		int k;

		for (k = 0; k < 16; k++) {
			i++;
			pp_send(&p, 0, i);
			(void)pp_recv(&p, 1, i);
		}
		t = now() - t0;
	} while (t < BUDGET);
	if (m == M_CHAN || m == M_PIPE || m == M_UNIX) {
		pp_send(&p, 0, STOP);
	} else {
		/* Counters and words: STOP as a value the child sees. */
		if (m == M_SPIN)
			atomic_store(&p.sh->word[0], STOP);
		else if (m == M_SPIN2)
			atomic_store(&p.sh->word2[0][0], STOP);
		else if (m == M_FUTEX || m == M_UWAIT)
			pp_send(&p, 0, STOP);
		else
			kill(pid, SIGKILL);
	}
	(void)waitpid(pid, NULL, 0);
	if (sched_setaffinity(0, sizeof(saved), &saved) < 0)
		fatal("sched_setaffinity");
	if (m == M_CHAN) {
		(void)ushm_chan_close(p.tx);
		(void)ushm_chan_close(p.rx);
	}
	pp_teardown(&p);
	return t / (double)i * 1e9;
}

/* ---------------- throughput ---------------- */

enum tmech { T_CHAN, T_RING, T_PIPE, T_UNIX, T_MEMCPY, T_COUNT };
static const char *const tmech_names[T_COUNT] = {
	"ushm_chan", "spinning ring", "pipe", "unix socket", "memcpy",
};

#define RING_CAP (1u << 20)

/* The plain spinning SPSC ring: same records as a lane, no sleeping. */
struct sring {
	_Atomic uint64_t tail __attribute__((aligned(64)));
	_Atomic uint64_t head __attribute__((aligned(64)));
	_Atomic int go __attribute__((aligned(64)));
	_Atomic uint64_t count;
	unsigned char data[RING_CAP] __attribute__((aligned(64)));
};

static void sring_send(struct sring *r, uint64_t *tail, uint64_t *hc,
		       const void *buf, size_t len)
{
	uint64_t rec = (len + 15) & ~(uint64_t)7, off = *tail & (RING_CAP - 1);
	uint64_t need = RING_CAP - off < rec ? RING_CAP - off + rec : rec;

	while (*tail + need - *hc > RING_CAP) {
		*hc = atomic_load_explicit(&r->head, memory_order_acquire);
		if (*tail + need - *hc > RING_CAP)
			__builtin_ia32_pause();
	}
	if (need != rec) {
		*(uint32_t *)(r->data + off) = UINT32_MAX;
		*tail += RING_CAP - off;
		off = 0;
	}
	*(uint32_t *)(r->data + off) = (uint32_t)len;
	memcpy(r->data + off + 8, buf, len);
	*tail += rec;
	atomic_store_explicit(&r->tail, *tail, memory_order_release);
}

static size_t sring_recv(struct sring *r, uint64_t *head, uint64_t *tc,
			 void *buf)
{
	uint64_t off;
	uint32_t len;

	while (*head == *tc) {
		*tc = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (*head == *tc)
			__builtin_ia32_pause();
	}
	off = *head & (RING_CAP - 1);
	len = *(uint32_t *)(r->data + off);
	if (len == UINT32_MAX) {
		*head += RING_CAP - off;
		off = 0;
		len = *(uint32_t *)(r->data + off);
	}
	memcpy(buf, r->data + off + 8, len);
	*head += (len + 15) & ~(uint64_t)7;
	atomic_store_explicit(&r->head, *head, memory_order_release);
	return len;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);

		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* ns per message of size len, producer child on cpu_b, consumer here. */
static double tput_once(enum tmech m, size_t len, long n)
{
	static unsigned char buf[65536], out[65536];
	struct ushm_chan *ch = NULL;
	struct sring *r;
	int fds[2] = { -1, -1 };
	key_t key = 0;
	double t0, t;
	pid_t pid;
	long i;

	if (m == T_MEMCPY) {
		t0 = now();
		for (i = 0; i < n; i++) {
			memcpy(out, buf, len);
			__asm__ __volatile__("" ::"r"(out) : "memory");
		}
		return (now() - t0) / (double)n * 1e9;
	}
	/* fd -1 with MAP_ANONYMOUS, as above. */
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0); // cppcheck-suppress invalidFunctionArg
	if (r == MAP_FAILED)
		fatal("mmap");
	if (m == T_CHAN) {
		key = next_key();
		while (ushm_chan_create(key, RING_CAP, 1, 0600) < 0)
			if (errno != EEXIST || !(key++))
				fatal("chan create");
	} else if (m == T_PIPE) {
		if (pipe(fds) < 0)
			fatal("pipe");
		/* The largest pipe buffer we may have: 1 MiB like the rings. */
		(void)fcntl(fds[1], F_SETPIPE_SZ, RING_CAP);
	} else if (m == T_UNIX) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
			fatal("socketpair");
	}
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		uint64_t tail = 0, hc = 0;

		pin(1);
		if (m == T_CHAN && !(ch = ushm_chan_open(key,
							 USHM_CHAN_PRODUCER)))
			fatal("chan open");
		atomic_store(&r->go, 1);
		for (i = 0; i < n; i++) {
			int bad = 0;

			switch (m) {
			case T_CHAN:
				bad = ushm_chan_send(ch, buf, len, NULL) < 0;
				break;
			case T_RING:
				sring_send(r, &tail, &hc, buf, len);
				break;
			default:
				bad = write_full(fds[1], buf, len) < 0;
				break;
			}
			if (bad)
				fatal("send");
		}
		if (ch)
			(void)ushm_chan_close(ch);
		_exit(0);
	}
	pin(0);
	if (m == T_CHAN && !(ch = ushm_chan_open(key, USHM_CHAN_CONSUMER)))
		fatal("chan open");
	while (!atomic_load(&r->go))
		sched_yield();
	t0 = now();
	{
		uint64_t head = 0, tc = 0;

		for (i = 0; i < n; i++) {
			int bad = 0;

			switch (m) {
			case T_CHAN:
				bad = ushm_chan_recv(ch, out, sizeof(out),
						     NULL) != (ssize_t)len;
				break;
			case T_RING:
				bad = sring_recv(r, &head, &tc, out) != len;
				break;
			default:
				bad = read_full(fds[0], out, len) < 0;
				break;
			}
			if (bad)
				fatal("recv");
		}
	}
	t = now() - t0;
	(void)waitpid(pid, NULL, 0);
	if (ch) {
		int id = ushm_get(key, 0, 0);

		(void)ushm_chan_close(ch);
		if (id < 0 || ushm_ctl(id, IPC_RMID, NULL) < 0)
			fatal("chan rm");
	}
	if (fds[0] >= 0) {
		(void)close(fds[0]);
		(void)close(fds[1]);
	}
	if (munmap(r, sizeof(*r)) < 0)
		fatal("munmap");
	return t / (double)n * 1e9;
}

/* How many messages make about BUDGET * 1.5 seconds of m at len. */
static long tput_count(enum tmech m, size_t len)
{
	double est = tput_once(m, len, 2000);
	long n = (long)(BUDGET * 1.5 / (est * 1e-9));

	if (n < 2000)
		n = 2000;
	if (n > 20000000)
		n = 20000000;
	return n;
}

/* Every mechanism at len, in turn within each repetition; rows printed. */
static void tput_size(size_t len, struct stat3 tp[T_COUNT])
{
	double v[T_COUNT][REPS];
	long n[T_COUNT];
	char label[96];
	int m, rep;

	for (m = 0; m < T_COUNT; m++)
		n[m] = tput_count((enum tmech)m, len);
	for (rep = 0; rep < REPS; rep++)
		for (m = 0; m < T_COUNT; m++)
			v[m][rep] = tput_once((enum tmech)m, len, n[m]);
	for (m = 0; m < T_COUNT; m++) {
		tp[m] = summarize(v[m], REPS);
		snprintf(label, sizeof(label), "%s, %zu B", tmech_names[m],
			 len);
		row(label, "ns/msg", tp[m]);
	}
}

/* Every mechanism at one placement, in turn within each repetition;
 * rows printed. */
static void rtt_place(const char *place, int cpu_a, int cpu_b,
		      struct stat3 rtt[M_COUNT][3], int pl)
{
	double v[M_COUNT][REPS];
	char label[96];
	int m, rep;

	for (rep = 0; rep < REPS; rep++)
		for (m = 0; m < M_COUNT; m++)
			v[m][rep] = pp_once((enum mech)m, cpu_a, cpu_b);
	for (m = 0; m < M_COUNT; m++) {
		rtt[m][pl] = summarize(v[m], REPS);
		snprintf(label, sizeof(label), "%s, %s", mech_names[m], place);
		row(label, "ns/rtt", rtt[m][pl]);
	}
}

/* ---------------- main ---------------- */

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 64, 256, 1024, 4096, 16384, 65536 };
	static const struct {
		const char *name;
		int a, b;
	} places[3] = { { "cross", 0, 1 }, { "same", 0, 0 },
			{ "unpinned", -1, -1 } };
	struct stat3 rtt[M_COUNT][3], tp[T_COUNT][6];
	double r_create, r_lookup, r_at4, r_at64, r_stat, r_data, worst;
	double r_fork, create_ns;
	const char *dir = argc > 1 ? argv[1] : ".";
	char path[4096];
	size_t si;
	FILE *f;
	int m, pl;

	srand((unsigned int)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# ushm benchmarks: median, min, max over %d repetitions\n",
	       REPS);
	printf("  %-44s %12s %12s %12s\n", "", "median", "min", "max");
	printf("control path\n");
	r_create = ctl_bench("shmget create + IPC_RMID", CREATE_RMID,
			     &create_ns);
	r_lookup = ctl_bench("shmget lookup", LOOKUP, NULL);
	r_at4 = ctl_bench("shmat + shmdt 4 KiB", AT_DT_4K, NULL);
	r_at64 = ctl_bench("shmat + shmdt 64 MiB", AT_DT_64M, NULL);
	r_stat = ctl_bench("IPC_STAT", STAT, NULL);
	r_fork = fork_bench();
	printf("data path\n");
	r_data = data_bench();

	printf("round trip, 8-byte messages\n");
	for (pl = 0; pl < 3; pl++)
		rtt_place(places[pl].name, places[pl].a, places[pl].b, rtt, pl);

	printf("throughput (producer on cpu 1, consumer on cpu 0)\n");
	for (si = 0; si < 6; si++) {
		struct stat3 one[T_COUNT];

		tput_size(sizes[si], one);
		for (m = 0; m < T_COUNT; m++)
			tp[m][si] = one[m];
	}

	snprintf(path, sizeof(path), "%s/rtt.dat", dir);
	f = fopen(path, "w");
	if (!f)
		fatal(path);
	fprintf(f, "# mechanism cross same unpinned (median ns per rtt)\n");
	for (m = 0; m < M_COUNT; m++)
		fprintf(f, "\"%s\" %.1f %.1f %.1f\n", mech_names[m],
			rtt[m][0].med, rtt[m][1].med, rtt[m][2].med);
	if (fclose(f) < 0)
		fatal(path);
	snprintf(path, sizeof(path), "%s/tput.dat", dir);
	f = fopen(path, "w");
	if (!f)
		fatal(path);
	fprintf(f, "# size; then ns/msg and MB/s for each of:");
	for (m = 0; m < T_COUNT; m++)
		fprintf(f, " %s;", tmech_names[m]);
	fprintf(f, "\n");
	for (si = 0; si < 6; si++) {
		fprintf(f, "%zu", sizes[si]);
		for (m = 0; m < T_COUNT; m++)
			fprintf(f, " %.2f %.1f", tp[m][si].med,
				(double)sizes[si] / tp[m][si].med * 1e3);
		fprintf(f, "\n");
	}
	if (fclose(f) < 0)
		fatal(path);

	worst = 0;
	for (pl = 0; pl < 3; pl++) {
		double x = rtt[M_CHAN][pl].med / rtt[M_PIPE][pl].med;

		if (x > worst)
			worst = x;
	}
	printf("ratio data_path_vs_kernel %.3f\n", r_data);
	printf("ratio shmget_lookup_vs_kernel %.2f\n", r_lookup);
	printf("ratio ipc_stat_vs_kernel %.2f\n", r_stat);
	printf("ratio shmat_shmdt_vs_kernel %.2f\n", r_at4);
	printf("ratio shmat_shmdt_64m_vs_kernel %.2f\n", r_at64);
	printf("ratio create_rmid_vs_kernel %.2f\n", r_create);
	/* What any daemon's create and removal cost at least: a round trip
	 * each.  The control path's calls run where the scheduler puts
	 * them, so against the unpinned sockets. */
	printf("ratio create_rmid_vs_two_unix_rtt %.2f\n",
	       create_ns / (2 * rtt[M_UNIX][2].med));
	printf("ratio fork_attached_vs_kernel %.2f\n", r_fork);
	printf("ratio chan_rtt_cross_vs_spin %.2f\n",
	       rtt[M_CHAN][0].med / rtt[M_SPIN][0].med);
	printf("ratio chan_rtt_cross_vs_spin_two_lines %.2f\n",
	       rtt[M_CHAN][0].med / rtt[M_SPIN2][0].med);
	printf("ratio wait_rtt_cross_vs_spin %.2f\n",
	       rtt[M_UWAIT][0].med / rtt[M_SPIN][0].med);
	printf("ratio chan_rtt_same_vs_futex %.2f\n",
	       rtt[M_CHAN][1].med / rtt[M_FUTEX][1].med);
	printf("ratio wait_rtt_same_vs_futex %.2f\n",
	       rtt[M_UWAIT][1].med / rtt[M_FUTEX][1].med);
	printf("ratio chan_rtt_vs_pipe %.2f\n", worst);
	printf("ratio chan_4k_time_vs_ring %.2f\n",
	       tp[T_CHAN][3].med / tp[T_RING][3].med);
	printf("ratio chan_64b_time_vs_ring %.2f\n",
	       tp[T_CHAN][0].med / tp[T_RING][0].med);
	return 0;
}
