/*
 * chan.c - message channels in a segment (ushm_chan_*).
 *
 * Layout: a 256-byte header, then one lane per producer: a 256-byte lane
 * header and a ring of `capacity` bytes.  A lane is a single-producer,
 * single-consumer ring, so many producers never contend with each other:
 * each writes its own ring, and the one consumer visits the lanes in turn.
 *
 * Positions (head, tail) count bytes for ever and are reduced modulo the
 * capacity, a power of two.  A record is an 8-byte header (the length,
 * then a seal) and the payload, padded to 8 bytes; a record never wraps:
 * when it does not fit before the end of the ring, a PAD record fills the
 * rest and the message starts at offset 0.  A message is at most
 * capacity / 2 - 8 bytes, so it always fits in an empty ring whatever the
 * offset, with the 8 bytes after it that the producer clears (below).
 *
 * The producer publishes a record by storing its seal (release); the
 * consumer polls the seal of the record at its head, not the producer's
 * tail.  A short message and its header share a cache line, so one line
 * crosses between the cores per message, which is what makes a round
 * trip cost about what a pure spin on one shared line costs.  For the
 * seal to mean "committed in this lap", whatever an earlier lap left in
 * the ring must never look sealed where the consumer looks: before it
 * seals a record, the producer clears the seal of the header slot right
 * after it, where the consumer looks next (and a PAD is sealed only after
 * the record at offset 0 it leads to).  The lane's tail is then the
 * producer's own bookkeeping, read only by the next producer of the lane
 * (which steps over what a producer killed between the seal and the tail
 * store sealed).  The consumer frees space with one store of head, in
 * batches.
 *
 * Sleeping: the side that finds nothing to do raises a `waiting` flag,
 * checks again, and sleeps on a futex word that the other side bumps
 * only when it sees the flag.  The flag store and the check, and the seal
 * (or head) store and the look at the flag, must each stay in order or a
 * sleeper is missed.  The sleeper (slow path) pays for both: it calls
 * membarrier(2), which fences every CPU running a registered process, so
 * the fast path needs no fence at all.  Where membarrier is missing, the
 * fast path uses a sequentially consistent store instead.  Nobody makes
 * a system call while the other side is awake.
 */
#define _GNU_SOURCE
#include "ushm.h"
#include "wait.h"
#include "../common/procfs.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAN_MAGIC 0x4e4148434d485355ULL /* "USHMCHAN" in memory */
#define CHAN_VERSION 2u /* 2: records carry a seal */
#define LINE 64
#define HDR_BYTES 256
#define LANE_BYTES 256
#define REC_HDR 8
#define PAD_MARK 0xffffffffu
#define SEALED 1u
#define NO_PAD UINT64_MAX
#define MIN_CAP ((size_t)4096)
#define MAX_CAP ((size_t)1 << 30)
#define MAX_LANES 1024u
/*
 * Spin budget in pause instructions (a pause is 10 to 50 ns): it halves
 * when spinning fails and doubles when it works, between a floor that
 * still covers a peer that is merely busy (a few us) and about 0.5 ms.
 */
#define SPIN_MIN 1024u
#define SPIN_MAX 16384u
#define SLICE_NS (USHM_CHAN_LIVENESS_MS * 1000000L)

struct chan_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t lanes;
	uint64_t size;      /* bytes of the whole channel */
	uint64_t capacity;  /* bytes of each lane's ring */
	char pad0[LINE - 32];
	/* The consumer's line: read by producers, written rarely. */
	_Atomic int32_t consumer;       /* its pid, 0 when none */
	_Atomic uint32_t consumer_ever; /* a consumer has opened */
	_Atomic uint32_t producers_ever;
	_Atomic int32_t cons_cpu;       /* where it last blocked */
	_Atomic uint32_t cons_waiting;  /* it sleeps (or is about to) */
	char pad1[LINE - 20];
	ushm_atomic_u32 data_seq;      /* its futex */
	char pad2[HDR_BYTES - 2 * LINE - 4];
};

struct lane {
	_Atomic int32_t producer;       /* its pid, 0 when none */
	_Atomic int32_t prod_cpu;
	_Atomic uint32_t prod_waiting;
	ushm_atomic_u32 space_seq;     /* the producer's futex */
	char pad0[LINE - 16];
	_Atomic uint64_t tail;          /* the producer's, for the next one */
	char pad1[LINE - 8];
	_Atomic uint64_t head;          /* written by the consumer */
	char pad2[LANE_BYTES - 2 * LINE - 8];
};

_Static_assert(sizeof(struct chan_hdr) == HDR_BYTES, "header size");
_Static_assert(sizeof(struct lane) == LANE_BYTES, "lane size");

/* A record's header, at an 8-byte aligned offset of a ring. */
struct rec {
	uint32_t len;   /* payload bytes, or PAD_MARK */
	uint32_t seal;  /* SEALED once committed in this lap, else 0 */
};

_Static_assert(sizeof(struct rec) == REC_HDR, "record header size");

/* What the consumer knows of one lane. */
struct view {
	uint64_t head;
	uint64_t pub;   /* head as last published to the producer */
	struct lane *lane;
	unsigned char *ring;
};

struct ushm_chan {
	struct chan_hdr *h;
	size_t size;
	int attached;           /* we ushm_at'ed it: ushm_dt on close */
	int role;
	int32_t pid;
	uint64_t cap, mask;
	size_t max_msg;
	uint64_t batch;         /* the consumer hands space back by this */
	unsigned int lanes;     /* read once: the header is shared memory */
	unsigned int spin;      /* adaptive spin budget */
	int light;              /* registered for membarrier: no fences */
	/* producer */
	struct lane *lane;
	unsigned char *ring;
	uint64_t tail;          /* where the next record goes */
	uint64_t head_cache;    /* the consumer's head, as last read */
	uint64_t wpos;          /* the reservation's record, when any */
	uint64_t pad;           /* where its PAD goes, or NO_PAD */
	size_t reserved;        /* its payload bytes; SIZE_MAX: none */
	/* consumer */
	unsigned int cur;       /* lane to look at first */
	int peeked;             /* a peek is pending on lane cur */
	size_t peek_len;        /* its length */
	struct view views[];
};

static struct lane *lane_at(struct chan_hdr *h, unsigned int i)
{
	return (struct lane *)((char *)h + HDR_BYTES +
			       (size_t)i * (LANE_BYTES + h->capacity));
}

static unsigned char *ring_of(struct lane *l)
{
	return (unsigned char *)l + LANE_BYTES;
}

static uint64_t rec_bytes(size_t len)
{
	return ((uint64_t)len + REC_HDR + 7) & ~(uint64_t)7;
}

static struct rec *rec_at(unsigned char *ring, uint64_t off)
{
	return (struct rec *)(void *)(ring + off);
}

static int sealed(const struct rec *r)
{
	return __atomic_load_n(&r->seal, __ATOMIC_ACQUIRE) != 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * memcpy, but a message of up to 16 bytes (a round trip's, a counter's)
 * is copied without a call into libc: that call is a good part of what
 * a message costs on top of the pure spin.  Two overlapping word copies
 * cover every length from w to 2w.
 */
static inline void copy_msg(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	uint64_t a, b;
	uint32_t x, y;

	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else {
		while (n--)
			*d++ = *s++;
	}
}

/* Asks for a line in a state we may write (a hint: never faults). */
static inline void prefetch_w(const void *p)
{
#if defined(__x86_64__)
	/* PREFETCHW, which GCC emits only with -mprfchw; a NOP on the
	 * x86-64 processors that lack it. */
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

/*
 * Is process pid alive?  kill(0) alone says yes for a zombie, which is
 * what a SIGKILLed peer is until its parent reaps it.
 */
static int pid_alive(int32_t pid)
{
	char state;
	int err;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	err = ushm__proc_stat(pid, &state, NULL);
	if (err == -ENOENT) /* gone, or being reaped */
		return 0;
	if (err < 0) /* unreadable: trust kill */
		return 1;
	return state != 'Z' && state != 'X';
}

USHM_API size_t ushm_chan_size(size_t capacity, unsigned int lanes)
{
	if (capacity < MIN_CAP || capacity > MAX_CAP ||
	    (capacity & (capacity - 1)) || lanes < 1 || lanes > MAX_LANES)
		return 0;
	return HDR_BYTES + (size_t)lanes * (LANE_BYTES + capacity);
}

/* Sets errno from a -errno result: the public calls' convention. */
static int fail(int r)
{
	errno = -r;
	return -1;
}

static void *fail_null(int r)
{
	errno = -r;
	return NULL;
}

/* Formats size bytes at addr as an empty channel; 0 or -EINVAL. */
static int format(void *addr, size_t size, size_t capacity,
		  unsigned int lanes)
{
	size_t need = ushm_chan_size(capacity, lanes);
	struct chan_hdr *h = addr;

	if (!addr || (uintptr_t)addr % LINE || !need || size < need)
		return -EINVAL;
	/* Zeroed lanes are empty lanes; the magic goes last. */
	memset(addr, 0, need);
	h->version = CHAN_VERSION;
	h->lanes = lanes;
	h->size = need;
	h->capacity = capacity;
	__atomic_store_n(&h->magic, CHAN_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

USHM_API int ushm_chan_init(void *addr, size_t size, size_t capacity,
			    unsigned int lanes)
{
	int r = format(addr, size, capacity, lanes);

	return r < 0 ? fail(r) : 0;
}

USHM_API int ushm_chan_create(key_t key, size_t capacity, unsigned int lanes,
			      int mode)
{
	size_t size = ushm_chan_size(capacity, lanes);
	int id, r;
	void *p;

	if (!size)
		return fail(-EINVAL);
	id = ushm_get(key, size, IPC_CREAT | IPC_EXCL | (mode & 0777));
	if (id < 0)
		return -1;
	p = ushm_at(id, NULL, 0);
	if (p == (void *)-1) {
		r = -errno;
		goto undo;
	}
	r = format(p, size, capacity, lanes);
	if (r < 0) {
		(void)ushm_dt(p);
		goto undo;
	}
	if (ushm_dt(p) < 0) {
		r = -errno;
		goto undo;
	}
	return id;
undo:
	(void)ushm_ctl(id, IPC_RMID, NULL);
	return fail(r);
}

/* Takes a place held by nobody or by a dead process. */
static int claim(_Atomic int32_t *slot, int32_t pid)
{
	int32_t cur = 0;

	for (;;) {
		if (atomic_compare_exchange_strong(slot, &cur, pid))
			return 0;
		if (pid_alive(cur))
			return -EBUSY;
		/* cur now holds the dead pid: try to replace it. */
	}
}

static int validate(const struct chan_hdr *h, size_t size)
{
	if (size < HDR_BYTES ||
	    __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != CHAN_MAGIC)
		return -EBADMSG;
	if (h->version != CHAN_VERSION)
		return -EPROTO;
	if (h->size != size)
		return -EINVAL;
	if (ushm_chan_size(h->capacity, h->lanes) != h->size)
		return -EBADMSG;
	return 0;
}

/*
 * Where a new producer of the lane starts.  The last producer stored the
 * tail after each seal; if it was killed between the two, the records it
 * sealed past the tail (one, or a PAD and the one it leads to) are there
 * for the consumer and must not be overwritten: step over them, up to
 * the cleared slot that ends them.  A header that cannot be ends the walk
 * (the consumer reports it as EBADMSG).
 */
static uint64_t resume_tail(const struct ushm_chan *ch)
{
	uint64_t t = atomic_load(&ch->lane->tail), walked = 0, off, step;
	const struct rec *r;

	while (walked < ch->cap) {
		off = t & ch->mask;
		r = rec_at(ch->ring, off);
		if (!sealed(r))
			break;
		if (r->len == PAD_MARK)
			step = ch->cap - off;
		else if (r->len <= ch->max_msg &&
			 off + rec_bytes(r->len) <= ch->cap)
			step = rec_bytes(r->len);
		else
			break;
		t += step;
		walked += step;
	}
	return t;
}

/* Opens the channel at addr as role: 0 and *out, or -errno. */
static int open_mapping(void *addr, size_t size, int role,
			struct ushm_chan **out)
{
	struct chan_hdr *h = addr;
	struct ushm_chan *ch;
	unsigned int i, lanes;
	int r;

	if (role != USHM_CHAN_PRODUCER && role != USHM_CHAN_CONSUMER)
		return -EINVAL;
	r = validate(h, size);
	if (r < 0)
		return r;
	lanes = h->lanes;
	ch = calloc(1, sizeof(*ch) + (role == USHM_CHAN_CONSUMER ?
				      lanes * sizeof(struct view) : 0));
	if (!ch)
		return -ENOMEM;
	ch->h = h;
	ch->size = size;
	ch->role = role;
	ch->pid = (int32_t)getpid();
	ch->cap = h->capacity;
	ch->mask = ch->cap - 1;
	ch->max_msg = (size_t)(ch->cap / 2 - REC_HDR);
	ch->batch = ch->cap / 8;
	ch->lanes = lanes;
	ch->spin = SPIN_MIN * 4;
	ch->reserved = SIZE_MAX;
	/* Without membarrier, every publication pays a full fence. */
	ch->light = ushm__membarrier_register() == 0;
	if (role == USHM_CHAN_CONSUMER) {
		r = claim(&h->consumer, ch->pid);
		if (r < 0)
			goto fail;
		for (i = 0; i < lanes; i++) {
			struct view *v = &ch->views[i];

			v->lane = lane_at(h, i);
			v->ring = ring_of(v->lane);
			v->head = atomic_load(&v->lane->head);
			v->pub = v->head;
		}
		atomic_store(&h->cons_cpu, sched_getcpu());
		atomic_store(&h->consumer_ever, 1);
		*out = ch;
		return 0;
	}
	r = -EBUSY;
	for (i = 0; i < lanes && r < 0; i++)
		r = claim(&lane_at(h, i)->producer, ch->pid);
	if (r < 0)
		goto fail;
	ch->lane = lane_at(h, i - 1);
	ch->ring = ring_of(ch->lane);
	ch->tail = resume_tail(ch);
	ch->head_cache = atomic_load(&ch->lane->head);
	atomic_store(&ch->lane->prod_cpu, sched_getcpu());
	atomic_fetch_add(&h->producers_ever, 1);
	*out = ch;
	return 0;
fail:
	free(ch);
	return r;
}

USHM_API struct ushm_chan *ushm_chan_open_at(void *addr, size_t size,
					     enum ushm_chan_role role)
{
	struct ushm_chan *ch;
	int r;

	if (!addr || (uintptr_t)addr % LINE)
		return fail_null(-EINVAL);
	r = open_mapping(addr, size, role, &ch);
	return r < 0 ? fail_null(r) : ch;
}

USHM_API struct ushm_chan *ushm_chan_open(key_t key, enum ushm_chan_role role)
{
	struct shmid_ds ds;
	struct ushm_chan *ch;
	int id, r;
	void *p;

	if (role != USHM_CHAN_PRODUCER && role != USHM_CHAN_CONSUMER)
		return fail_null(-EINVAL);
	id = ushm_get(key, 0, 0);
	if (id < 0)
		return NULL;
	/* Valgrind cannot see ushm_ctl's copy out (process_vm_writev). */
	memset(&ds, 0, sizeof(ds));
	if (ushm_ctl(id, IPC_STAT, &ds) < 0)
		return NULL;
	p = ushm_at(id, NULL, 0);
	if (p == (void *)-1)
		return NULL;
	r = open_mapping(p, ds.shm_segsz, role, &ch);
	if (r < 0) {
		(void)ushm_dt(p);
		return fail_null(r);
	}
	ch->attached = 1;
	return ch;
}

/*
 * A seal (producer) or head (consumer) store comes before the look at the
 * peer's waiting flag that follows.  The two must not be reordered (see
 * the top): with membarrier, the sleeper fences us and a compiler barrier
 * is enough; without, a sequentially consistent store does it.
 */
static void publish_pos(_Atomic uint64_t *pos, uint64_t v, int light)
{
	if (light) {
		atomic_store_explicit(pos, v, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store(pos, v);
	}
}

static void seal(struct rec *r, int light)
{
	if (light) {
		__atomic_store_n(&r->seal, SEALED, __ATOMIC_RELEASE);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		__atomic_store_n(&r->seal, SEALED, __ATOMIC_SEQ_CST);
	}
}

/*
 * Wakes the sleepers of *seq (after taking their flag, unless forced).
 * Out of line: the fast path only looks at the flag.
 */
static __attribute__((noinline)) void
wake(_Atomic uint32_t *waiting, ushm_atomic_u32 *seq, int force)
{
	if (!force && !atomic_exchange(waiting, 0))
		return;
	atomic_fetch_add(seq, 1);
	/* The word is ours and aligned: waking cannot fail. */
	(void)ushm__wake(seq, INT_MAX);
}

/* Wakes a sleeping consumer, if one sleeps. */
static inline void wake_consumer(struct chan_hdr *h, int force)
{
	if (force || atomic_load_explicit(&h->cons_waiting,
					  memory_order_relaxed))
		wake(&h->cons_waiting, &h->data_seq, force);
}

static inline void wake_producer(struct lane *l, int force)
{
	if (force || atomic_load_explicit(&l->prod_waiting,
					  memory_order_relaxed))
		wake(&l->prod_waiting, &l->space_seq, force);
}

static void publish_all(struct ushm_chan *ch);

USHM_API int ushm_chan_close(struct ushm_chan *ch)
{
	struct chan_hdr *h;
	unsigned int i;
	int r = 0;

	if (!ch)
		return fail(-EINVAL);
	h = ch->h;
	if (ch->pid != (int32_t)getpid()) {
		/* Inherited through fork: the place is the parent's. */
	} else if (ch->role == USHM_CHAN_CONSUMER) {
		int32_t me = ch->pid;

		/* A later consumer starts where we stopped. */
		if (!ch->peeked)
			publish_all(ch);

		if (atomic_compare_exchange_strong(&h->consumer, &me, 0))
			for (i = 0; i < ch->lanes; i++)
				wake_producer(ch->views[i].lane, 1);
	} else {
		int32_t me = ch->pid;

		if (atomic_compare_exchange_strong(&ch->lane->producer, &me,
						   0))
			wake_consumer(h, 1);
	}
	if (ch->attached)
		r = ushm_dt(h);
	free(ch);
	return r;
}

USHM_API size_t ushm_chan_max_msg(const struct ushm_chan *ch)
{
	return ch ? ch->max_msg : 0;
}

/* ---- blocking ---- */

/* A condition a blocked side waits for: > 0 ready, < 0 error. */
typedef int (*ready_fn)(struct ushm_chan *ch, uint64_t arg);

/*
 * Waits for ready(ch, arg): spins while that may pay (the peer runs on
 * another CPU), then sleeps on *seq with *waiting raised, in slices of
 * at most USHM_CHAN_LIVENESS_MS after each of which dead(ch) is asked
 * whether the peer is gone.
 */
static int block(struct ushm_chan *ch, ready_fn ready, uint64_t arg,
		 ushm_atomic_u32 *seq, _Atomic uint32_t *waiting,
		 _Atomic int32_t *my_cpu, _Atomic int32_t *peer_cpu,
		 int (*dead)(struct ushm_chan *ch),
		 const struct timespec *deadline, int nonblock)
{
	struct timespec slice;
	unsigned int i;
	long slice_ns;
	int r, cpu;

	if (nonblock)
		return -EAGAIN;
	cpu = sched_getcpu();
	if (cpu != atomic_load_explicit(peer_cpu, memory_order_relaxed)) {
		/* Look first: what came during the work before is not kept
		 * waiting for a pause (tens of ns in a VM). */
		for (i = 0; i < ch->spin; i++) {
			r = ready(ch, arg);
			if (r) {
				if (r > 0 && ch->spin < SPIN_MAX)
					ch->spin *= 2;
				return r > 0 ? 0 : r;
			}
			cpu_relax();
		}
		if (ch->spin > SPIN_MIN)
			ch->spin /= 2;
	}
	atomic_store_explicit(my_cpu, cpu, memory_order_relaxed);
	for (;;) {
		uint32_t s = atomic_load(seq);

		atomic_store(waiting, 1);
		/*
		 * A peer that publishes without a fence is fenced now; if
		 * that fails, a wake-up may be missed, so sleep in short
		 * slices (the loop checks again after each).
		 */
		slice_ns = ushm__membarrier() == 0 ? SLICE_NS : 1000000L;
		r = ready(ch, arg);
		if (r) {
			atomic_store(waiting, 0);
			return r > 0 ? 0 : r;
		}
		ushm__monotonic_now(&slice);
		slice.tv_nsec += slice_ns;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		if (deadline && (deadline->tv_sec < slice.tv_sec ||
				 (deadline->tv_sec == slice.tv_sec &&
				  deadline->tv_nsec < slice.tv_nsec)))
			slice = *deadline;
		r = ushm__wait_until(seq, s, &slice);
		if (r == -ETIMEDOUT) {
			if (deadline && ushm__expired(deadline)) {
				r = ready(ch, arg);
				atomic_store(waiting, 0);
				return r > 0 ? 0 : r < 0 ? r : -ETIMEDOUT;
			}
			r = dead(ch);
			if (r < 0) {
				atomic_store(waiting, 0);
				return r;
			}
		} else if (r < 0) {
			atomic_store(waiting, 0);
			return r;
		}
	}
}

/* ---- producer ---- */

static int consumer_gone(struct ushm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	int32_t c = atomic_load(&h->consumer);

	if (c == 0)
		return atomic_load(&h->consumer_ever) ? -EPIPE : 0;
	return pid_alive(c) ? 0 : -EPIPE;
}

static int space_ready(struct ushm_chan *ch, uint64_t need)
{
	ch->head_cache = atomic_load_explicit(&ch->lane->head,
					      memory_order_acquire);
	if (ch->tail + need - ch->head_cache <= ch->cap)
		return 1;
	if (atomic_load_explicit(&ch->h->consumer, memory_order_relaxed) ==
	    0 && atomic_load(&ch->h->consumer_ever))
		return -EPIPE;
	return 0;
}

/*
 * The ring looked too full for need bytes: waits until the timeout for
 * them; 0 or -errno.  Out of line, so that the fast path around it saves
 * no registers.
 */
static __attribute__((noinline)) int
wait_space(struct ushm_chan *ch, uint64_t need, const struct timespec *timeout)
{
	struct timespec abs;
	int has, r;

	if (space_ready(ch, need) > 0)
		return 0;
	r = ushm__deadline(timeout, &abs, &has);
	if (r < 0)
		return r;
	return block(ch, space_ready, need, &ch->lane->space_seq,
		     &ch->lane->prod_waiting, &ch->lane->prod_cpu,
		     &ch->h->cons_cpu, consumer_gone, has ? &abs : NULL,
		     timeout && !timeout->tv_sec && !timeout->tv_nsec);
}

/* May this handle send a message of len bytes now?  0 or -errno. */
static inline __attribute__((always_inline)) int
may_send(const struct ushm_chan *ch, size_t len)
{
	if (ch->role != USHM_CHAN_PRODUCER)
		return -EBADF;
	if (ch->reserved != SIZE_MAX)
		return -EINVAL;
	if (len > ch->max_msg)
		return -EMSGSIZE;
	if (atomic_load_explicit(&ch->h->consumer, memory_order_relaxed) ==
	    0 && atomic_load(&ch->h->consumer_ever))
		return -EPIPE;
	return 0;
}

/*
 * Reserves room for a message of len bytes, waiting for it until the
 * timeout: 0 and *out (where the payload goes), or -errno.
 */
static int reserve(struct ushm_chan *ch, size_t len,
		   const struct timespec *timeout, void **out)
{
	uint64_t rec, off, need;
	int r;

	r = may_send(ch, len);
	if (r < 0)
		return r;
	rec = rec_bytes(len);
	off = ch->tail & ch->mask;
	/* The record, the header slot after it, and the PAD if any. */
	need = rec + REC_HDR + (ch->cap - off < rec ? ch->cap - off : 0);
	if (ch->tail + need - ch->head_cache > ch->cap) {
		r = wait_space(ch, need, timeout);
		if (r < 0)
			return r;
	}
	if (ch->cap - off < rec) {
		/* A PAD fills the end of the ring; the message starts at 0. */
		ch->pad = ch->tail;
		ch->wpos = ch->tail + ch->cap - off;
		off = 0;
	} else {
		ch->pad = NO_PAD;
		ch->wpos = ch->tail;
	}
	ch->reserved = len;
	*out = ch->ring + off + REC_HDR;
	return 0;
}

/*
 * Publishes the record at position wpos, whose len bytes of payload are
 * in place, and the PAD at position pad before it (unless NO_PAD).
 */
static inline __attribute__((always_inline)) void
seal_record(struct ushm_chan *ch, uint64_t wpos, uint64_t pad, size_t len)
{
	struct rec *r = rec_at(ch->ring, wpos & ch->mask);
	uint64_t end = wpos + rec_bytes(len);

	r->len = (uint32_t)len;
	/* Not a record (yet), whatever an earlier lap left there. */
	__atomic_store_n(&rec_at(ch->ring, end & ch->mask)->seal, 0,
			 __ATOMIC_RELAXED);
	seal(r, ch->light);
	if (pad != NO_PAD) {
		/* Sealed last: the consumer follows it to offset 0. */
		r = rec_at(ch->ring, pad & ch->mask);
		r->len = PAD_MARK;
		seal(r, ch->light);
	}
	ch->tail = end;
	atomic_store_explicit(&ch->lane->tail, end, memory_order_relaxed);
	wake_consumer(ch->h, 0);
	/*
	 * Own the line after the next header slot before the next commit
	 * needs it: its stores go out in order, and one that waits for a
	 * line still in the consumer's cache holds the seal back.
	 */
	prefetch_w(ch->ring + ((end + LINE) & ch->mask));
}

static void commit(struct ushm_chan *ch, size_t len)
{
	seal_record(ch, ch->wpos, ch->pad, len);
	ch->reserved = SIZE_MAX;
}

/* A zero timeout that expires is EAGAIN: the call never blocked. */
static int timeout_err(int r, const struct timespec *timeout)
{
	if (r == -ETIMEDOUT && timeout && !timeout->tv_sec &&
	    !timeout->tv_nsec)
		return -EAGAIN;
	return r;
}

USHM_API void *ushm_chan_reserve(struct ushm_chan *ch, size_t len,
				 const struct timespec *timeout)
{
	void *p;
	int r;

	if (!ch)
		return fail_null(-EINVAL);
	r = reserve(ch, len, timeout, &p);
	return r < 0 ? fail_null(timeout_err(r, timeout)) : p;
}

USHM_API int ushm_chan_commit(struct ushm_chan *ch, size_t len)
{
	if (!ch)
		return fail(-EINVAL);
	if (ch->role != USHM_CHAN_PRODUCER)
		return fail(-EBADF);
	if (ch->reserved == SIZE_MAX || len > ch->reserved)
		return fail(-EINVAL);
	commit(ch, len);
	return 0;
}

/* ushm_chan_send in every case: checks, waits, wraps. */
static __attribute__((noinline)) int
send_slow(struct ushm_chan *ch, const void *buf, size_t len,
	  const struct timespec *timeout)
{
	void *p;
	int r;

	if (!ch)
		return fail(-EINVAL);
	r = reserve(ch, len, timeout, &p);
	if (r < 0)
		return fail(timeout_err(r, timeout));
	copy_msg(p, buf, len);
	commit(ch, len);
	return 0;
}

USHM_API int ushm_chan_send(struct ushm_chan *ch, const void *buf, size_t len,
			    const struct timespec *timeout)
{
	/*
	 * The common case, without the reservation's bookkeeping: a
	 * consumer is there, the record fits before the end of the ring,
	 * and the consumer's head as last read leaves room for it.
	 */
	if (ch && ch->role == USHM_CHAN_PRODUCER && ch->reserved == SIZE_MAX &&
	    len <= ch->max_msg) {
		uint64_t t = ch->tail, off = t & ch->mask, rec = rec_bytes(len);

		if (ch->cap - off >= rec &&
		    t + rec + REC_HDR - ch->head_cache <= ch->cap &&
		    atomic_load_explicit(&ch->h->consumer,
					 memory_order_relaxed) != 0) {
			copy_msg(ch->ring + off + REC_HDR, buf, len);
			seal_record(ch, t, NO_PAD, len);
			return 0;
		}
	}
	return send_slow(ch, buf, len, timeout);
}

/* ---- consumer ---- */

/* Is a record sealed at the head of v?  Steps over a PAD. */
static inline __attribute__((always_inline)) int
has_record(const struct ushm_chan *ch, struct view *v)
{
	uint64_t off = v->head & ch->mask;
	const struct rec *r = rec_at(v->ring, off);

	if (!sealed(r))
		return 0;
	if (r->len != PAD_MARK)
		return 1;
	/* A PAD is sealed after the record at offset 0 it leads to. */
	v->head += ch->cap - off;
	return sealed(rec_at(v->ring, 0));
}

/*
 * Finds a lane with a committed record, starting at ch->cur.  Returns 1
 * and sets ch->cur, or 0 when every lane is empty.
 */
static inline __attribute__((always_inline)) int find(struct ushm_chan *ch)
{
	unsigned int n = ch->lanes, i = ch->cur, k;

	for (k = 0; k < n; k++) {
		if (has_record(ch, &ch->views[i])) {
			ch->cur = i;
			return 1;
		}
		if (++i == n)
			i = 0;
	}
	return 0;
}

static int data_ready(struct ushm_chan *ch, uint64_t arg)
{
	(void)arg;
	return find(ch);
}

static int producers_gone(struct ushm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	unsigned int i;

	if (!atomic_load(&h->producers_ever))
		return 0;
	for (i = 0; i < ch->lanes; i++)
		if (pid_alive(atomic_load(&ch->views[i].lane->producer)))
			return 0;
	/* All gone: what they committed is still to be read. */
	return find(ch) ? 0 : -EPIPE;
}

/*
 * The cheap check, before blocking: every producer has closed (no
 * system call; the dead are found by producers_gone, a slice later).
 */
static int producers_closed(struct ushm_chan *ch)
{
	struct chan_hdr *h = ch->h;
	unsigned int i;

	if (!atomic_load(&h->producers_ever))
		return 0;
	for (i = 0; i < ch->lanes; i++)
		if (atomic_load(&ch->views[i].lane->producer))
			return 0;
	return find(ch) ? 0 : -EPIPE;
}

/*
 * Every ring was empty: hands the space consumed back and waits until
 * the timeout for a message; 0 (ch->cur has one) or -errno.  Out of
 * line, as wait_space.
 */
static __attribute__((noinline)) int
wait_data(struct ushm_chan *ch, const struct timespec *timeout)
{
	struct timespec abs;
	int has, r;

	publish_all(ch);
	r = ushm__deadline(timeout, &abs, &has);
	if (r == 0)
		r = producers_closed(ch);
	if (r < 0)
		return r;
	return block(ch, data_ready, 0, &ch->h->data_seq, &ch->h->cons_waiting,
		     &ch->h->cons_cpu, &ch->views[ch->cur].lane->prod_cpu,
		     producers_gone, has ? &abs : NULL,
		     timeout && !timeout->tv_sec && !timeout->tv_nsec);
}

/*
 * Waits until the timeout for the next message: 0, *out (where its
 * payload lies) and *len, or -errno.  The message stays at the head of
 * lane ch->cur.
 */
static inline __attribute__((always_inline)) int
next_message(struct ushm_chan *ch, const unsigned char **out, size_t *len,
	     const struct timespec *timeout)
{
	const struct rec *rec;
	uint64_t off;
	size_t n;
	int r;

	if (ch->role != USHM_CHAN_CONSUMER)
		return -EBADF;
	if (ch->peeked)
		return -EINVAL;
	if (!find(ch)) {
		r = wait_data(ch, timeout);
		if (r < 0)
			return r;
	}
	off = ch->views[ch->cur].head & ch->mask;
	rec = rec_at(ch->views[ch->cur].ring, off);
	n = rec->len;
	/*
	 * The memory is shared with other processes: a length that cannot
	 * be (a stray write) must not send us reading past the ring.
	 */
	if (n > ch->max_msg || off + rec_bytes(n) > ch->cap)
		return -EBADMSG;
	*len = n;
	*out = (const unsigned char *)rec + REC_HDR;
	return 0;
}

/* Hands the space consumed in a lane back to its producer. */
static void publish(struct ushm_chan *ch, struct view *v)
{
	v->pub = v->head;
	publish_pos(&v->lane->head, v->head, ch->light);
	wake_producer(v->lane, 0);
}

/* Before the consumer waits: every byte it consumed goes back. */
static void publish_all(struct ushm_chan *ch)
{
	unsigned int i;

	for (i = 0; i < ch->lanes; i++)
		if (ch->views[i].pub != ch->views[i].head)
			publish(ch, &ch->views[i]);
}

/*
 * Consumes the record of rec bytes at the head of lane ch->cur (whose
 * view is v): its space may go back to the producer at once.
 */
static inline __attribute__((always_inline)) void
consume(struct ushm_chan *ch, struct view *v, uint64_t rec)
{
	v->head += rec;
	/*
	 * Space goes back in batches of an eighth of the ring (and always
	 * before the consumer waits): one shared store for many small
	 * messages.  A producer that finds the ring full then still sees at
	 * least 7/8 of it waiting for the consumer, which will publish.
	 */
	if (v->head - v->pub >= ch->batch)
		publish(ch, v);
	/* Take turns, so that no producer starves the others. */
	if (++ch->cur == ch->lanes)
		ch->cur = 0;
}

USHM_API const void *ushm_chan_peek(struct ushm_chan *ch, size_t *len,
				    const struct timespec *timeout)
{
	const unsigned char *p;
	int r;

	if (!ch || !len)
		return fail_null(-EINVAL);
	r = next_message(ch, &p, len, timeout);
	if (r < 0)
		return fail_null(timeout_err(r, timeout));
	ch->peeked = 1;
	ch->peek_len = *len;
	return p;
}

USHM_API int ushm_chan_release(struct ushm_chan *ch)
{
	if (!ch)
		return fail(-EINVAL);
	if (ch->role != USHM_CHAN_CONSUMER)
		return fail(-EBADF);
	if (!ch->peeked)
		return fail(-EINVAL);
	ch->peeked = 0;
	consume(ch, &ch->views[ch->cur], rec_bytes(ch->peek_len));
	return 0;
}

/* ushm_chan_recv in every case: checks, other lanes, waits, PADs. */
static __attribute__((noinline)) ssize_t
recv_slow(struct ushm_chan *ch, void *buf, size_t len,
	  const struct timespec *timeout)
{
	const unsigned char *p;
	size_t n;
	int r;

	if (!ch)
		return fail(-EINVAL);
	r = next_message(ch, &p, &n, timeout);
	if (r < 0)
		return fail(timeout_err(r, timeout));
	if (n > len)
		return fail(-EMSGSIZE); /* it stays, for a larger buffer */
	copy_msg(buf, p, n);
	consume(ch, &ch->views[ch->cur], rec_bytes(n));
	return (ssize_t)n;
}

/*
 * Until a record is sealed at the head of lane ch->cur (PADs stepped
 * over), looks at the other lanes and waits: 0 or -errno.
 */
static __attribute__((noinline)) int
recv_wait(struct ushm_chan *ch, const struct timespec *timeout)
{
	return find(ch) ? 0 : wait_data(ch, timeout);
}

USHM_API ssize_t ushm_chan_recv(struct ushm_chan *ch, void *buf, size_t len,
				const struct timespec *timeout)
{
	int waited = 0, r;

	if (!ch || ch->role != USHM_CHAN_CONSUMER || ch->peeked)
		return recv_slow(ch, buf, len, timeout); /* says why not */
	for (;;) {
		/*
		 * The common case, also right after a wait: a message that
		 * fits buf is sealed at the head of the lane whose turn it
		 * is (a PAD's length is no message's).
		 */
		struct view *v = &ch->views[ch->cur];
		uint64_t off = v->head & ch->mask;
		const struct rec *rec = rec_at(v->ring, off);
		size_t n;

		if (sealed(rec)) {
			n = rec->len;
			if (n <= len && n <= ch->max_msg &&
			    off + rec_bytes(n) <= ch->cap) {
				copy_msg(buf,
					 (const unsigned char *)rec + REC_HDR,
					 n);
				consume(ch, v, rec_bytes(n));
				return (ssize_t)n;
			}
		}
		/* Too long for buf, or a length that cannot be: which. */
		if (waited)
			return recv_slow(ch, buf, len, timeout);
		r = recv_wait(ch, timeout);
		if (r < 0)
			return fail(timeout_err(r, timeout));
		waited = 1;
	}
}
