/*
 * chan_consumer - creates the channel of key 0x4d4 (64 KiB ring, one
 * producer) and prints what arrives until every producer has gone
 * (EPIPE), waiting at most TIMEOUT seconds (default 10) for each
 * message.  It signals readiness by printing "ready" on stdout, then
 * removes the channel's segment at the end.
 *
 *   chan_consumer [TIMEOUT]   exit 0 after the producer closed
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <ushm.h>

#define CHAN_KEY 0x4d4

int main(int argc, char **argv)
{
	struct timespec timeout = { argc > 1 ? atoi(argv[1]) : 10, 0 };
	struct ushm_chan *ch;
	char buf[256];
	ssize_t n;
	int id, rc = 0;

	id = ushm_chan_create(CHAN_KEY, 65536, 1, 0600);
	if (id < 0) {
		perror("chan_consumer: ushm_chan_create");
		return 1;
	}
	ch = ushm_chan_open(CHAN_KEY, USHM_CHAN_CONSUMER);
	if (!ch) {
		perror("chan_consumer: ushm_chan_open");
		(void)ushm_ctl(id, IPC_RMID, NULL);
		return 1;
	}
	printf("chan_consumer: ready\n");
	fflush(stdout);
	while ((n = ushm_chan_recv(ch, buf, sizeof(buf), &timeout)) >= 0)
		printf("chan_consumer: got \"%.*s\"\n", (int)n, buf);
	if (errno == EPIPE) {
		printf("chan_consumer: the producer has gone (EPIPE)\n");
	} else {
		perror("chan_consumer: ushm_chan_recv");
		rc = 1;
	}
	if (ushm_chan_close(ch) < 0 || ushm_ctl(id, IPC_RMID, NULL) < 0) {
		perror("chan_consumer: cleanup");
		rc = 1;
	}
	return rc;
}
