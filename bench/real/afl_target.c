/*
 * afl_target.c - the program AFL++ fuzzes in make bench's real-program
 * section (bench/real.sh).  It is built with afl-cc, which instruments
 * its branches and links AFL's fork server in: the server attaches the
 * coverage map, a System V segment named by __AFL_SHM_ID, once, then
 * forks one child per input.  No __AFL_LOOP, so no persistent mode:
 * every input costs a fork, which is the path being measured.  The work
 * per input is a few branches, so the fork server's own cost dominates.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	unsigned char buf[256];
	ssize_t len = read(STDIN_FILENO, buf, sizeof(buf));
	unsigned score = 0;

	if (len < 0)
		return 1;
	/* A few data-dependent branches for the fuzzer to discover. */
	for (ssize_t i = 0; i < len; i++) {
		if (buf[i] == 'u')
			score += 1;
		else if (buf[i] == 's' && score == 1)
			score += 2;
		else if (buf[i] == 'h' && score == 3)
			score += 4;
		else if (buf[i] == 'm' && score == 7)
			score += 8;
	}
	if (score == 15)
		puts("ushm");
	return 0;
}
