/*
 * chan_test - channels on ushm segments: messages of every size across
 * the wrap, zero copy, errors, header checks, records that cannot be
 * mistaken, timeouts, and peers killed with SIGKILL.
 */
#include "chantest.h"

#include <signal.h>

static const struct timespec zero = { 0, 0 }, t200 = { 0, 200000000 };
static const struct timespec ten = { 10, 0 };

static unsigned char pattern(size_t i, unsigned int seed)
{
	return (unsigned char)(i * 31 + seed * 7 + 1);
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(i, seed);
}

static int check(const unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(i, seed))
			return 0;
	return 1;
}

/* Every length from 0 to max, in one process, through many wraps. */
static void sizes(key_t key)
{
	static unsigned char in[4096], out[4096];
	struct ushm_chan *p, *c;
	size_t len, max, bad = 0;
	ssize_t n;

	if (ushm_chan_create(key, 4096, 1, 0600) < 0)
		die("create");
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	if (!p || !c)
		die("open");
	max = ushm_chan_max_msg(p);
	ok(max == 2040, "max message of a 4 KiB ring: %zu", max);
	for (len = 0; len <= max; len++) {
		fill(in, len, (unsigned int)len);
		if (ushm_chan_send(p, in, len, &zero) < 0)
			die("send");
		n = ushm_chan_recv(c, out, sizeof(out), &zero);
		if (n != (ssize_t)len || !check(out, len, (unsigned int)len))
			bad++;
	}
	ok(bad == 0, "lengths 0..%zu arrive whole (%zu bad)", max,
	       bad);
	/* Fill it up: a full ring says EAGAIN, and nothing is lost. */
	for (len = 0; ushm_chan_send(p, in, 100, &zero) == 0; len++)
		;
	ok(errno == EAGAIN && len > 10,
	       "full after %zu messages: EAGAIN", len);
	n = ushm_chan_send(p, in, max + 1, &zero);
	ok(n < 0 && errno == EMSGSIZE, "too long: EMSGSIZE");
	n = ushm_chan_recv(c, out, 50, &zero);
	ok(n < 0 && errno == EMSGSIZE, "small buffer: EMSGSIZE");
	while (ushm_chan_recv(c, out, sizeof(out), &zero) == 100)
		len--;
	ok(len == 0 && errno == EAGAIN,
	       "every one received, then empty: EAGAIN");
	n = ushm_chan_recv(p, out, sizeof(out), &zero);
	ok(n < 0 && errno == EBADF, "recv on a producer: EBADF");
	n = ushm_chan_send(c, in, 1, &zero);
	ok(n < 0 && errno == EBADF, "send on the consumer: EBADF");
	ok(!ushm_chan_open(key, USHM_CHAN_CONSUMER) && errno == EBUSY,
	       "a second consumer: EBUSY");
	ok(!ushm_chan_open(key, USHM_CHAN_PRODUCER) && errno == EBUSY,
	       "a second producer on one lane: EBUSY");
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
}

/* reserve/commit and peek/release, and their misuse. */
static void zero_copy(key_t key)
{
	struct ushm_chan *p, *c;
	const unsigned char *m;
	unsigned char *w;
	size_t len = 0;
	int i, good = 1;

	if (ushm_chan_create(key, 65536, 1, 0600) < 0)
		die("create");
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	if (!p || !c)
		die("open");
	ok(ushm_chan_commit(p, 1) < 0 && errno == EINVAL,
	       "commit without reserve: EINVAL");
	ok(ushm_chan_release(c) < 0 && errno == EINVAL,
	       "release without peek: EINVAL");
	for (i = 0; i < 1000 && good; i++) {
		w = ushm_chan_reserve(p, 10000, &zero);
		if (!w)
			die("reserve");
		if (i == 0)
			ok(!ushm_chan_reserve(p, 1, &zero) &&
			       errno == EINVAL, "two reservations: EINVAL");
		fill(w, 5000 + i, (unsigned int)i);
		if (i == 0)
			ok(ushm_chan_commit(p, 10001) < 0 &&
			       errno == EINVAL, "commit beyond it: EINVAL");
		if (ushm_chan_commit(p, 5000 + i) < 0)
			die("commit");
		m = ushm_chan_peek(c, &len, &zero);
		good = m && len == (size_t)(5000 + i) &&
		       check(m, len, (unsigned int)i);
		if (i == 0)
			ok(!ushm_chan_peek(c, &len, &zero) &&
			       errno == EINVAL, "two peeks: EINVAL");
		if (ushm_chan_release(c) < 0)
			die("release");
	}
	ok(good, "1000 messages written and read in place");
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
}

/* Not a channel, another version, another size. */
static void headers(key_t key)
{
	size_t size = ushm_chan_size(4096, 1);
	struct ushm_chan *c;
	int id;
	uint32_t *v;

	id = ushm_get(key, 8192, IPC_CREAT | 0600);
	if (id < 0)
		die("get");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	ok(!c && errno == EBADMSG, "a plain segment: EBADMSG (%s)",
	       c ? "opened" : strerror(errno));
	v = ushm_at(id, NULL, 0);
	if (v == (void *)-1)
		die("at");
	if (ushm_chan_init(v, 8192, 4096, 1) < 0)
		die("init");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	ok(!c && errno == EINVAL,
	       "a channel smaller than its segment: EINVAL (%s)",
	       c ? "opened" : strerror(errno));
	if (ushm_chan_init(v, size, 4096, 1) < 0)
		die("init");
	c = ushm_chan_open_at(v, size, USHM_CHAN_CONSUMER);
	ok(c != NULL, "open_at the right size");
	if (c && ushm_chan_close(c) < 0)
		die("close");
	v[2] = 99; /* the version */
	c = ushm_chan_open_at(v, size, USHM_CHAN_CONSUMER);
	ok(!c && errno == EPROTO, "another version: EPROTO");
	ok(ushm_chan_init(v, size - 1, 4096, 1) < 0 &&
	       errno == EINVAL, "init into too little memory: EINVAL");
	ok(ushm_chan_size(5000, 1) == 0 &&
	       ushm_chan_size(4096, 0) == 0, "sizes out of range: 0");
	ok(!ushm_chan_open(key + 100, USHM_CHAN_CONSUMER) &&
	       errno == ENOENT, "no such key: ENOENT");
	if (ushm_dt(v) < 0 || ushm_ctl(id, IPC_RMID, NULL) < 0)
		die("rm");
}

/* A channel in private memory, with a length overwritten by a stray. */
static void corrupt(void)
{
	size_t size = ushm_chan_size(4096, 1);
	struct ushm_chan *p, *c;
	unsigned char *mem = aligned_alloc(64, size);
	char buf[64];
	ssize_t n;

	if (!mem || ushm_chan_init(mem, size, 4096, 1) < 0)
		die("init");
	p = ushm_chan_open_at(mem, size, USHM_CHAN_PRODUCER);
	c = ushm_chan_open_at(mem, size, USHM_CHAN_CONSUMER);
	if (!p || !c)
		die("open_at");
	if (ushm_chan_send(p, "abc", 3, &zero) < 0)
		die("send");
	/* The first record's length: header (256), lane (256), offset 0. */
	memcpy(mem + 512, &(uint32_t){ 100000 }, 4);
	n = ushm_chan_recv(c, buf, sizeof(buf), &zero);
	ok(n < 0 && errno == EBADMSG, "a length that cannot be: "
	       "EBADMSG (%s)", n < 0 ? strerror(errno) : "received");
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
	free(mem);
}

/*
 * Old payload never passes for a record: every message is made of fake
 * sealed headers (length 0, seal set, at each 8-byte offset), so that
 * after a few laps the consumer's next header slot always lies on such
 * bytes; after each message, the next receive must find nothing.
 */
static void no_phantom(void)
{
	size_t size = ushm_chan_size(4096, 1), len;
	unsigned char *mem = aligned_alloc(64, size);
	static unsigned char in[600], out[2048];
	struct ushm_chan *p, *c;
	unsigned int k, bad = 0, phantom = 0;
	ssize_t n;

	if (!mem || ushm_chan_init(mem, size, 4096, 1) < 0)
		die("init");
	p = ushm_chan_open_at(mem, size, USHM_CHAN_PRODUCER);
	c = ushm_chan_open_at(mem, size, USHM_CHAN_CONSUMER);
	if (!p || !c)
		die("open_at");
	for (len = 0; len < sizeof(in); len++)
		in[len] = len % 8 == 4; /* {len 0, seal 1} in either byte order */
	for (k = 0; k < 3000; k++) {
		len = (k * 37u) % sizeof(in);
		if (ushm_chan_send(p, in, len, &zero) < 0)
			die("send");
		n = ushm_chan_recv(c, out, sizeof(out), &zero);
		if (n != (ssize_t)len || memcmp(in, out, len))
			bad++;
		n = ushm_chan_recv(c, out, sizeof(out), &zero);
		if (n >= 0 || errno != EAGAIN)
			phantom++;
	}
	ok(bad == 0 && phantom == 0, "payloads shaped like sealed headers "
	   "never arrive as messages (%u bad, %u phantoms)", bad, phantom);
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
	free(mem);
}

/*
 * A producer killed after sealing a message but before storing the
 * lane's tail (as if: the tail is set back by one message): the next
 * producer of the lane continues after the sealed message instead of
 * overwriting it.
 */
static void resume_after_seal(void)
{
	size_t size = ushm_chan_size(4096, 1);
	unsigned char *mem = aligned_alloc(64, size);
	static const char *const words[] = { "one", "two", "three", "four" };
	struct ushm_chan *p, *c;
	uint64_t tail;
	char buf[16];
	int i, good = 1;
	ssize_t n;

	if (!mem || ushm_chan_init(mem, size, 4096, 1) < 0)
		die("init");
	p = ushm_chan_open_at(mem, size, USHM_CHAN_PRODUCER);
	c = ushm_chan_open_at(mem, size, USHM_CHAN_CONSUMER);
	if (!p || !c)
		die("open_at");
	for (i = 0; i < 3; i++)
		if (ushm_chan_send(p, words[i], strlen(words[i]), &zero) < 0)
			die("send");
	if (ushm_chan_close(p) < 0)
		die("close");
	/* The lane's tail: header (256), then the lane's second line. */
	memcpy(&tail, mem + 256 + 64, sizeof(tail));
	if (tail != 48)
		die("layout: three 16-byte records expected");
	tail = 32;
	memcpy(mem + 256 + 64, &tail, sizeof(tail));
	p = ushm_chan_open_at(mem, size, USHM_CHAN_PRODUCER);
	if (!p || ushm_chan_send(p, words[3], strlen(words[3]), &zero) < 0)
		die("reopen and send");
	for (i = 0; i < 4; i++) {
		n = ushm_chan_recv(c, buf, sizeof(buf), &zero);
		good &= n == (ssize_t)strlen(words[i]) &&
			!memcmp(buf, words[i], (size_t)n);
	}
	ok(good, "a message sealed past the lane's tail survives the next "
	   "producer");
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
	free(mem);
}

/* Blocking calls keep to their deadline. */
static void timeouts(key_t key)
{
	static unsigned char buf[2048];
	struct ushm_chan *p, *c;
	double t0, dt;
	ssize_t n;

	if (ushm_chan_create(key, 4096, 1, 0600) < 0)
		die("create");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	if (!p || !c)
		die("open");
	t0 = mono();
	n = ushm_chan_recv(c, buf, sizeof(buf), &t200);
	dt = mono() - t0;
	ok(n < 0 && errno == ETIMEDOUT, "recv on empty: ETIMEDOUT");
	ok(dt >= 0.2 && dt < 0.2 + LATE_OK, "after 200 ms (%.3f s)",
	       dt);
	while (ushm_chan_send(p, buf, 1000, &zero) == 0)
		;
	t0 = mono();
	n = ushm_chan_send(p, buf, 1000, &t200);
	dt = mono() - t0;
	ok(n < 0 && errno == ETIMEDOUT, "send on full: ETIMEDOUT");
	ok(dt >= 0.2 && dt < 0.2 + LATE_OK, "after 200 ms (%.3f s)",
	       dt);
	t0 = mono();
	ok(!ushm_chan_reserve(p, 1000, &t200) && errno == ETIMEDOUT &&
	       mono() - t0 >= 0.2, "reserve on full: ETIMEDOUT");
	if (ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
}

/*
 * A producer commits N messages, reserves one more that it never commits,
 * and is SIGKILLed: the consumer gets the N, then EPIPE in bounded time.
 */
static void producer_killed(key_t key)
{
	struct ushm_chan *c;
	unsigned char buf[64];
	int fds[2], got = 0, seq_ok = 1;
	double t0, dt;
	ssize_t n;
	pid_t pid;
	char b;

	if (ushm_chan_create(key, 65536, 1, 0600) < 0)
		die("create");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	if (!c || pipe(fds) < 0)
		die("open");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct ushm_chan *p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
		int i;

		if (!p)
			_exit(1);
		for (i = 0; i < 100; i++)
			if (ushm_chan_send(p, &i, sizeof(i), &ten) < 0)
				_exit(2);
		if (!ushm_chan_reserve(p, 32, &ten))
			_exit(3);
		if (write(fds[1], "x", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	(void)close(fds[1]);
	if (read(fds[0], &b, 1) != 1)
		die("child");
	if (kill(pid, SIGKILL) < 0)
		die("kill");
	/* Not reaped yet on purpose: a zombie is a dead peer too. */
	t0 = mono();
	while ((n = ushm_chan_recv(c, buf, sizeof(buf), &ten)) >= 0) {
		int v;

		memcpy(&v, buf, sizeof(v));
		seq_ok &= n == sizeof(v) && v == got;
		got++;
	}
	dt = mono() - t0;
	ok(got == 100 && seq_ok,
	       "the killed producer's 100 messages delivered (%d)", got);
	ok(errno == EPIPE, "then EPIPE (%s)", strerror(errno));
	is_below(dt, USHM_CHAN_LIVENESS_MS / 1000.0 + DEATH_MARGIN,
	       "EPIPE within %d ms + %.0f ms (%.1f ms)", USHM_CHAN_LIVENESS_MS,
	       DEATH_MARGIN * 1000, dt * 1000);
	ok(reap(pid) == 128 + SIGKILL, "it died of SIGKILL");
	(void)close(fds[0]);
	if (ushm_chan_close(c) < 0)
		die("close");
}

/* The consumer is SIGKILLed while the producer is blocked on a full ring. */
static void consumer_killed(key_t key)
{
	static unsigned char buf[1000];
	struct ushm_chan *p;
	int fds[2];
	double t0, dt;
	pid_t pid;
	char b;
	int r;

	if (ushm_chan_create(key, 4096, 1, 0600) < 0)
		die("create");
	if (pipe(fds) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct ushm_chan *c = ushm_chan_open(key, USHM_CHAN_CONSUMER);

		if (!c || write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	(void)close(fds[1]);
	if (read(fds[0], &b, 1) != 1)
		die("child");
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	if (!p)
		die("open");
	while (ushm_chan_send(p, buf, sizeof(buf), &zero) == 0)
		;
	ok(errno == EAGAIN, "ring full while the consumer sleeps");
	if (kill(pid, SIGKILL) < 0)
		die("kill");
	t0 = mono();
	r = ushm_chan_send(p, buf, sizeof(buf), &ten);
	dt = mono() - t0;
	ok(r < 0 && errno == EPIPE, "blocked send: EPIPE (%s)",
	       r < 0 ? strerror(errno) : "sent");
	is_below(dt, USHM_CHAN_LIVENESS_MS / 1000.0 + DEATH_MARGIN,
	       "EPIPE within %d ms + %.0f ms (%.1f ms)", USHM_CHAN_LIVENESS_MS,
	       DEATH_MARGIN * 1000, dt * 1000);
	ok(reap(pid) == 128 + SIGKILL, "it died of SIGKILL");
	(void)close(fds[0]);
	if (ushm_chan_close(p) < 0)
		die("close");
}

/* The place of a SIGKILLed consumer or producer can be taken over. */
static void take_over(key_t key)
{
	struct ushm_chan *c, *p;
	int fds[2], role;
	char b, buf[16];

	if (ushm_chan_create(key, 4096, 1, 0600) < 0)
		die("create");
	for (role = USHM_CHAN_PRODUCER; role <= USHM_CHAN_CONSUMER; role++) {
		const char *who = role == USHM_CHAN_CONSUMER ? "consumer" :
							       "producer";
		pid_t pid;

		if (pipe(fds) < 0)
			die("pipe");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (!ushm_chan_open(key, (enum ushm_chan_role)role) ||
			    write(fds[1], "x", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		if (read(fds[0], &b, 1) != 1)
			die("child");
		ok(!ushm_chan_open(key, (enum ushm_chan_role)role) &&
		       errno == EBUSY, "%s held by a live process: EBUSY",
		       who);
		if (kill(pid, SIGKILL) < 0 || reap(pid) != 128 + SIGKILL)
			die("kill");
		(void)close(fds[0]);
		(void)close(fds[1]);
		c = ushm_chan_open(key, (enum ushm_chan_role)role);
		ok(c != NULL, "the killed %s's place taken over", who);
		if (c && ushm_chan_close(c) < 0)
			die("close");
	}
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	ok(p && c && ushm_chan_send(p, "on", 2, &zero) == 0 &&
	       ushm_chan_recv(c, buf, sizeof(buf), &zero) == 2,
	       "and the channel works on");
	if (!p || !c || ushm_chan_close(p) < 0 || ushm_chan_close(c) < 0)
		die("close");
}

/* A consumer that closes: the producer's next send says EPIPE at once. */
static void closed(key_t key)
{
	struct ushm_chan *p, *c;
	char buf[16];

	if (ushm_chan_create(key, 4096, 1, 0600) < 0)
		die("create");
	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	if (!p)
		die("open");
	ok(ushm_chan_send(p, "early", 5, &zero) == 0,
	       "sending before any consumer opens");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	if (!c)
		die("open");
	ok(ushm_chan_recv(c, buf, sizeof(buf), &zero) == 5 &&
	       !memcmp(buf, "early", 5), "and that message arrives");
	if (ushm_chan_close(c) < 0)
		die("close");
	ok(ushm_chan_send(p, "late", 4, &ten) < 0 && errno == EPIPE,
	       "after the consumer closed: EPIPE");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	if (!c)
		die("open");
	if (ushm_chan_close(p) < 0)
		die("close");
	ok(ushm_chan_recv(c, buf, sizeof(buf), &ten) < 0 &&
	       errno == EPIPE, "after the producer closed: EPIPE");
	if (ushm_chan_close(c) < 0)
		die("close");
}

int main(void)
{

	sizes(test_key(1));
	zero_copy(test_key(2));
	headers(test_key(3));
	corrupt();
	no_phantom();
	resume_after_seal();
	timeouts(test_key(4));
	producer_killed(test_key(5));
	consumer_killed(test_key(6));
	closed(test_key(7));
	take_over(test_key(8));
	return done_testing();
}
