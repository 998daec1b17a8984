/*
 * mpsc_stress - PRODUCERS processes send MSGS messages each, of varying
 * sizes, through small rings (so both sides block and wake often) to one
 * consumer, which checks that every message arrives exactly once, whole,
 * and in its producer's order.  One lane more than producers, and a
 * producer that closes early, exercise lanes without traffic.
 */
#include "chantest.h"

#define PRODUCERS 4
#define MSGS 20000

struct hdr {
	uint32_t producer;
	uint32_t seq;
};

static size_t msg_len(uint32_t producer, uint32_t seq)
{
	return sizeof(struct hdr) + (producer * 131u + seq * 17u) % 600u;
}

static unsigned char byte(uint32_t producer, uint32_t seq, size_t i)
{
	return (unsigned char)(producer * 7u + seq + i * 13u);
}

static int produce(key_t key, uint32_t me, int zero_copy, int ready)
{
	struct timespec ten = { 10, 0 };
	unsigned char buf[1024];
	struct ushm_chan *p;
	uint32_t seq;
	size_t len, i;

	p = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	if (!p || write(ready, "x", 1) != 1)
		return 1;
	for (seq = 0; seq < MSGS; seq++) {
		struct hdr h = { me, seq };
		unsigned char *m = buf;

		len = msg_len(me, seq);
		if (zero_copy && !(m = ushm_chan_reserve(p, len, &ten)))
			return 2;
		memcpy(m, &h, sizeof(h));
		for (i = sizeof(h); i < len; i++)
			m[i] = byte(me, seq, i);
		if (zero_copy ? ushm_chan_commit(p, len) < 0 :
				ushm_chan_send(p, m, len, &ten) < 0)
			return 3;
	}
	return ushm_chan_close(p) < 0 ? 4 : 0;
}

int main(void)
{
	uint32_t next[PRODUCERS] = { 0 };
	struct timespec ten = { 10, 0 };
	unsigned long total = 0, bad = 0, order = 0;
	unsigned char buf[1024];
	struct ushm_chan *c, *idle;
	key_t key = test_key(1);
	pid_t pids[PRODUCERS];
	int i, failed = 0, fds[2];
	char b;
	ssize_t n;
	size_t k;

	if (ushm_chan_create(key, 4096, PRODUCERS + 1, 0600) < 0)
		die("create");
	c = ushm_chan_open(key, USHM_CHAN_CONSUMER);
	idle = ushm_chan_open(key, USHM_CHAN_PRODUCER);
	if (!c || !idle)
		die("open");
	if (pipe(fds) < 0)
		die("pipe");
	for (i = 0; i < PRODUCERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0) {
			/* The parent's handles: closing frees only ours. */
			if (ushm_chan_close(c) < 0 || ushm_chan_close(idle) < 0)
				_exit(5);
			_exit(produce(key, (uint32_t)i, i % 2, fds[1]));
		}
	}
	for (i = 0; i < PRODUCERS; i++)
		if (read(fds[0], &b, 1) != 1)
			die("a producer did not open");
	/* The idle producer leaves: the others keep the channel open. */
	if (ushm_chan_close(idle) < 0)
		die("close");
	while ((n = ushm_chan_recv(c, buf, sizeof(buf), &ten)) >= 0) {
		struct hdr h;

		total++;
		if ((size_t)n < sizeof(h)) {
			bad++;
			continue;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.producer >= PRODUCERS ||
		    (size_t)n != msg_len(h.producer, h.seq)) {
			bad++;
			continue;
		}
		for (k = sizeof(h); k < (size_t)n; k++)
			if (buf[k] != byte(h.producer, h.seq, k))
				break;
		if (k != (size_t)n)
			bad++;
		if (h.seq != next[h.producer])
			order++;
		next[h.producer] = h.seq + 1;
	}
	ok(errno == EPIPE, "ends with EPIPE when all have closed "
	       "(%s)", strerror(errno));
	for (i = 0; i < PRODUCERS; i++)
		failed += reap(pids[i]) != 0;
	ok(failed == 0, "every producer succeeded");
	ok(total == (unsigned long)PRODUCERS * MSGS,
	       "%lu messages of %d", total, PRODUCERS * MSGS);
	ok(bad == 0, "all whole (%lu damaged)", bad);
	ok(order == 0, "each producer's in order, none twice or "
	       "missing (%lu out of order)", order);
	for (i = 0; i < PRODUCERS; i++)
		ok(next[i] == MSGS, "producer %d: last seq %u", i,
		       next[i] ? next[i] - 1 : 0);
	if (ushm_chan_close(c) < 0)
		die("close");
	return done_testing();
}
