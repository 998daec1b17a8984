/*
 * writer - creates the tutorial's segment (key 1234, 4096 bytes, mode
 * 0666), attaches it once, writes a message and marks it ready.  The
 * segment stays after the writer exits, as System V segments do; a stale
 * one from an earlier run is replaced.
 *
 *   writer [TEXT]        exit 0 on success, 1 on any failure
 */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

static int create(void)
{
	int id = shmget(EXAMPLE_KEY, EXAMPLE_SIZE, IPC_CREAT | IPC_EXCL | 0666);

	if (id >= 0 || errno != EEXIST)
		return id;
	/* Left over from an earlier run: start afresh. */
	id = shmget(EXAMPLE_KEY, 0, 0);
	if (id < 0 || shmctl(id, IPC_RMID, NULL) < 0)
		return -1;
	return shmget(EXAMPLE_KEY, EXAMPLE_SIZE, IPC_CREAT | IPC_EXCL | 0666);
}

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "hello through shared memory";
	struct message *m;
	size_t len = strlen(text);
	int id;

	if (len >= sizeof(m->text)) {
		fprintf(stderr, "writer: message longer than %zu bytes\n",
			sizeof(m->text) - 1);
		return 1;
	}
	id = create();
	if (id < 0) {
		perror("writer: shmget");
		return 1;
	}
	m = shmat(id, NULL, 0);
	if (m == (void *)-1) {
		perror("writer: shmat");
		return 1;
	}
	memcpy(m->text, text, len + 1);
	m->len = (uint32_t)len;
	__atomic_store_n(&m->ready, 1, __ATOMIC_RELEASE);
	printf("writer: wrote %zu bytes to segment %d (key 0x%x)\n", len, id,
	       EXAMPLE_KEY);
	if (shmdt(m) < 0) {
		perror("writer: shmdt");
		return 1;
	}
	return 0;
}
