/*
 * chan_producer - sends COUNT numbered messages (default 5) through the
 * channel of key 0x4d4 (created by chan_consumer), one of them written
 * in place with ushm_chan_reserve/ushm_chan_commit, then closes: the
 * consumer then sees EPIPE, its end of the stream.
 *
 *   chan_producer [COUNT]  exit 0 on success
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ushm.h>

#define CHAN_KEY 0x4d4

int main(int argc, char **argv)
{
	struct timespec five = { 5, 0 };
	int count = argc > 1 ? atoi(argv[1]) : 5, i, n;
	struct ushm_chan *ch;
	char msg[64];

	ch = ushm_chan_open(CHAN_KEY, USHM_CHAN_PRODUCER);
	if (!ch) {
		perror("chan_producer: ushm_chan_open");
		return 1;
	}
	for (i = 1; i <= count; i++) {
		n = snprintf(msg, sizeof(msg), "message %d of %d", i, count);
		if (i == count) {
			/* Zero copy: format straight into the ring. */
			char *p = ushm_chan_reserve(ch, sizeof(msg), &five);

			if (!p) {
				perror("chan_producer: ushm_chan_reserve");
				return 1;
			}
			n = snprintf(p, sizeof(msg), "message %d of %d "
				     "(in place)", i, count);
			if (ushm_chan_commit(ch, (size_t)n) < 0) {
				perror("chan_producer: ushm_chan_commit");
				return 1;
			}
		} else if (ushm_chan_send(ch, msg, (size_t)n, &five) < 0) {
			perror("chan_producer: ushm_chan_send");
			return 1;
		}
	}
	printf("chan_producer: sent %d messages\n", count);
	if (ushm_chan_close(ch) < 0) {
		perror("chan_producer: ushm_chan_close");
		return 1;
	}
	return 0;
}
