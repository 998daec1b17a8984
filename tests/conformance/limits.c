/*
 * limits.c - SHMMAX, SHMMIN, SHMMNI (the table fills up: ENOSPC) and
 * SHMSEG (not enforced by Linux).  The limits come from IPC_INFO, and
 * how many segments fit from SHM_INFO's used_ids: nothing hard-coded,
 * nothing printed that depends on the machine's other segments.
 */
#include "conf.h"

#include <stdint.h>
#include <sys/mman.h>

static size_t page;

static void
sizes(const struct shminfo *si)
{
	say("shmget(shmmax + 1): %s",
	    R(xget(IPC_PRIVATE, si->shmmax + 1, IPC_CREAT | 0600)));
	say("shmget(shmmax + 1, SHM_NORESERVE): %s",
	    R(xget(IPC_PRIVATE, si->shmmax + 1,
		   IPC_CREAT | SHM_NORESERVE | 0600)));
	say("shmget(shmmin - 1): %s",
	    R(xget(IPC_PRIVATE, si->shmmin - 1, IPC_CREAT | 0600)));
	int id = xget(IPC_PRIVATE, si->shmmin, IPC_CREAT | 0600);

	say("shmget(shmmin): %s", R(id));
	if (id >= 0)
		rmseg(id);
}

/*
 * Fills the table.  The kernel's table is shared with the whole machine,
 * so this is done quickly and everything is removed right away.
 */
static void
fill(const struct shminfo *si)
{
	static int ids[65536];
	struct shm_info in;
	key_t k = conf_key(1), k2 = conf_key(2);
	int keyed, n = 0, want, id, e, used;

	/*
	 * Another process creating or removing a segment meanwhile spoils
	 * the count: then remove ours and try again, a few times.
	 */
	for (int attempt = 0; attempt < 3; attempt++) {
		if (shmctl(0, SHM_INFO, (struct shmid_ds *)&in) < 0)
			die("shmctl(SHM_INFO)");
		used = in.used_ids;
		keyed = mkseg(k, 1, 0600);
		want = (int)si->shmmni - used - 1;
		if (want < 0 || (size_t)want > sizeof(ids) / sizeof(ids[0]))
			die("shmmni %lu, used %d", si->shmmni, used);
		n = 0;
		for (;;) {
			id = xget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
			e = errno;
			if (id < 0)
				break;
			if (n == want) {
				rmseg(id); /* a limit above shmmni */
				id = 0;
				break;
			}
			ids[n++] = id;
		}
		if ((n == want && id < 0) || attempt == 2)
			break;
		while (n > 0)
			rmseg(ids[--n]);
		rmseg(keyed);
	}
	say("created shmmni - used_ids segments: %s", yesno(n == want));
	say("then shmget(IPC_PRIVATE): %s", res(id, e));
	say("full: shmget(new key, IPC_CREAT): %s",
	    R(xget(k2, 1, IPC_CREAT | 0600)));
	say("full: shmget(new key, 0): %s", R(xget(k2, 1, 0)));
	id = xget(k, 1, IPC_CREAT | 0600);
	say("full: shmget(existing key, IPC_CREAT): %s, same id: %s",
	    R(id), yesno(id == keyed));
	say("full: shmget(existing key, IPC_CREAT|IPC_EXCL): %s",
	    R(xget(k, 1, IPC_CREAT | IPC_EXCL | 0600)));
	if (shmctl(0, SHM_INFO, (struct shmid_ds *)&in) < 0)
		die("shmctl(SHM_INFO)");
	say("full: used_ids == shmmni: %s",
	    yesno((unsigned long)in.used_ids == si->shmmni));
	if (n > 0) {
		rmseg(ids[--n]);
		id = xget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
		say("one removed, shmget(IPC_PRIVATE): %s", R(id));
		if (id >= 0)
			ids[n++] = id;
	}
	/* Removal of an attached segment does not free its slot. */
	if (n > 0) {
		void *p = shmat(ids[n - 1], NULL, 0);

		if (p == (void *)-1)
			die("shmat");
		rmseg(ids[n - 1]);
		say("full, one removed while attached: shmget: %s",
		    R(xget(IPC_PRIVATE, 1, IPC_CREAT | 0600)));
		if (shmdt(p) != 0)
			die("shmdt");
		id = xget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
		say("after its last detach: shmget: %s", R(id));
		ids[n - 1] = id;
	}
	for (int i = 0; i < n; i++)
		if (ids[i] >= 0)
			rmseg(ids[i]);
	rmseg(keyed);
	if (shmctl(0, SHM_INFO, (struct shmid_ds *)&in) < 0)
		die("shmctl(SHM_INFO)");
	say("all removed: used_ids back: %s", yesno(in.used_ids == used));
}

/* Linux does not enforce SHMSEG: attach one more time than it says. */
static void
attaches(const struct shminfo *si)
{
	static void *at[65536];
	int id = mkseg(IPC_PRIVATE, 1, 0600);
	size_t n = si->shmseg + 1, i;

	if (n > sizeof(at) / sizeof(at[0]))
		n = sizeof(at) / sizeof(at[0]);
	for (i = 0; i < n; i++) {
		at[i] = shmat(id, NULL, SHM_RDONLY);
		if (at[i] == (void *)-1)
			break;
	}
	say("shmseg + 1 attachments: %s", i == n ? "ok" : res(-1, errno));
	say("nattch == shmseg + 1: %s", yesno(nattch(id) == n));
	while (i > 0)
		if (shmdt(at[--i]) != 0)
			die("shmdt");
	say("nattch after detaching all %lu", (unsigned long)nattch(id));
	rmseg(id);
}

int
main(void)
{
	struct shminfo si;

	conf_init();
	page = (size_t)sysconf(_SC_PAGESIZE);
	memset(&si, 0, sizeof(si));
	say("IPC_INFO: %s", R(shmctl(0, IPC_INFO, (struct shmid_ds *)&si)));
	say("shmmin %lu shmmni %lu shmseg %lu", si.shmmin, si.shmmni,
	    si.shmseg);
	say("shmmax %lu shmall %lu", si.shmmax, si.shmall);
	sizes(&si);
	fill(&si);
	attaches(&si);
	return 0;
}
