/*
 * wait_reader - the tutorial's reader without polling: it creates the
 * segment if the writer has not yet (key 1235, as wait_writer), then
 * sleeps in ushm_wait until the ready flag is set, at most TIMEOUT
 * seconds (default 10), prints the message and removes the segment.
 *
 *   wait_reader [TIMEOUT]  exit 0 with the message, 1 on failure/timeout
 */
#include "message.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <ushm.h>

#define WAIT_KEY (EXAMPLE_KEY + 1)

int main(int argc, char **argv)
{
	struct timespec timeout = { argc > 1 ? atoi(argv[1]) : 10, 0 };
	ushm_atomic_u32 *ready;
	struct message *m;
	int id, rc = 0;

	id = ushm_get(WAIT_KEY, EXAMPLE_SIZE, IPC_CREAT | 0666);
	if (id < 0) {
		perror("wait_reader: ushm_get");
		return 1;
	}
	m = ushm_at(id, NULL, 0);
	if (m == (void *)-1) {
		perror("wait_reader: ushm_at");
		return 1;
	}
	ready = (ushm_atomic_u32 *)&m->ready;
	/*
	 * Sleep while the flag is 0.  The deadline is relative, so a
	 * spurious or early wake-up just waits again (good enough here).
	 */
	while (atomic_load(ready) == 0) {
		if (ushm_wait(ready, 0, &timeout) < 0 && errno != EINTR) {
			perror("wait_reader: ushm_wait");
			rc = 1;
			break;
		}
	}
	if (rc == 0)
		printf("wait_reader: received \"%.*s\"\n", (int)m->len,
		       m->text);
	if (ushm_dt(m) < 0 || ushm_ctl(id, IPC_RMID, NULL) < 0) {
		perror("wait_reader: cleanup");
		rc = 1;
	}
	return rc;
}
