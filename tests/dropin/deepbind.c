/*
 * deepbind.c - loads a library with RTLD_DEEPBIND (RTLD_LAZY or RTLD_NOW,
 * as argv says) and runs its System V round trip.
 *
 *   deepbind LIB now|lazy KEY [keep]
 *
 * Also checks that RTLD_DEEPBIND still holds for everything else: the
 * library's own definition of a name the program defines too wins
 * inside the library (deep_whoami).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

/* The program's; the library has its own, which it must still use. */
const char *deep_name(void)
{
	return "program";
}

int main(int argc, char **argv)
{
	int (*roundtrip)(key_t, int, FILE *);
	const char *(*whoami)(void);
	void *h;

	if (argc < 4) {
		fprintf(stderr, "usage: deepbind LIB now|lazy KEY [keep]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	h = dlopen(argv[1], RTLD_DEEPBIND |
			    (strcmp(argv[2], "now") == 0 ? RTLD_NOW : RTLD_LAZY));
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	roundtrip = (int (*)(key_t, int, FILE *))dlsym(h, "deep_roundtrip");
	whoami = (const char *(*)(void))dlsym(h, "deep_whoami");
	if (!roundtrip || !whoami) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	printf("deep binding kept: %s\n",
	       strcmp(whoami(), "library") == 0 ? "yes" : "no");
	return roundtrip((key_t)strtol(argv[3], NULL, 0),
			 argc > 4 && strcmp(argv[4], "keep") == 0,
			 stdout) == 0 ? 0 : 1;
}
