/*
 * wait_writer - the tutorial's writer without polling on either side:
 * it writes the message into the segment (key 1235; created by whichever
 * of writer and reader comes first), sets the ready flag and wakes the
 * reader with ushm_wake.
 *
 *   wait_writer [TEXT]     exit 0 on success, 1 on failure
 */
#include "message.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <ushm.h>

#define WAIT_KEY (EXAMPLE_KEY + 1)

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "hello, no polling";
	size_t len = strlen(text);
	struct message *m;
	int id, woken;

	if (len >= sizeof(m->text)) {
		fprintf(stderr, "wait_writer: message too long\n");
		return 1;
	}
	id = ushm_get(WAIT_KEY, EXAMPLE_SIZE, IPC_CREAT | 0666);
	if (id < 0) {
		perror("wait_writer: ushm_get");
		return 1;
	}
	m = ushm_at(id, NULL, 0);
	if (m == (void *)-1) {
		perror("wait_writer: ushm_at");
		return 1;
	}
	memcpy(m->text, text, len + 1);
	m->len = (uint32_t)len;
	/* The flag is a plain uint32_t in message.h; same representation. */
	atomic_store((ushm_atomic_u32 *)&m->ready, 1);
	woken = ushm_wake((ushm_atomic_u32 *)&m->ready, INT_MAX);
	if (woken < 0) {
		perror("wait_writer: ushm_wake");
		return 1;
	}
	printf("wait_writer: wrote %zu bytes, woke %d reader(s)\n", len,
	       woken);
	if (ushm_dt(m) < 0) {
		perror("wait_writer: ushm_dt");
		return 1;
	}
	return 0;
}
