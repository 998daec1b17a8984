/*
 * clearexec - clears its environment, as sanitising programs do, then
 * executes PROGRAM ARGUMENT... (execv, so with the empty environment).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: clearexec PROGRAM [ARGUMENT]...\n");
		return 2;
	}
	if (clearenv() != 0) {
		perror("clearexec: clearenv");
		return 1;
	}
	execv(argv[1], argv + 1);
	perror("clearexec: execv");
	return 127;
}
