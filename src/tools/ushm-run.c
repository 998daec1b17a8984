/*
 * ushm-run - run a program, and the programs it executes, on ushm.
 *
 * Puts libushm-preload.so in front of LD_PRELOAD and executes the
 * program; its shmget/shmat/shmdt/shmctl then go to ushmd.  The library
 * is found at $USHM_PRELOAD, else ../lib/libushm-preload.so beside this
 * executable, else the install directory as seen from this executable's
 * (../lib/x86_64-linux-gnu: so a moved tree, an unpacked package, finds
 * its own), else the install directory.
 */
#define _GNU_SOURCE
#include "../common/paths.h"
#include "run_check.h"
#include "run_trap.h"
#include "../preload/trap.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRELOAD_NAME "libushm-preload.so"

#ifdef __SANITIZE_ADDRESS__
#include <dlfcn.h>
#include <sanitizer/asan_interface.h>

/* A sanitizer build (make SANITIZE=1): the shim is linked with the ASan
 * runtime, which refuses to run unless it is the first library loaded,
 * and a preloaded library comes before the program's own.  This program
 * is built the same way, so the runtime it uses is put in front. */
static const char *asan_runtime(void)
{
	Dl_info info;

	if (dladdr((void *)__asan_poison_memory_region, &info) &&
	    info.dli_fname && strchr(info.dli_fname, '/'))
		return info.dli_fname;
	return NULL;
}
#else
static const char *asan_runtime(void)
{
	return NULL;
}
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ushm-run [--trap] PROGRAM [ARGUMENT]...\n"
		"Run PROGRAM with its System V shared memory calls (shmget, shmat,\n"
		"shmdt, shmctl) served by ushm instead of the kernel.  Programs it\n"
		"executes inherit this.  The daemon is $USHM_SOCKET, else the system\n"
		"daemon (/run/ushm/ushmd.sock: always for root, for others when it\n"
		"answers), else the per-user one; it is started when none runs, and\n"
		"its socket is passed on in USHM_SOCKET so that every process of\n"
		"PROGRAM's tree uses the same daemon.\n"
		"\n"
		"  --trap         also serve the System V system calls PROGRAM\n"
		"                makes without libc (syscall(SYS_shmget, ...)):\n"
		"                a seccomp filter traps them to the shim; see\n"
		"                ushm-run(1) for what that costs\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"A statically linked PROGRAM (or one whose interpreter is not the\n"
		"dynamic loader) cannot be served and is refused before it runs.\n"
		"\n"
		"Exit status: PROGRAM's, or 125 (ushm-run failed), 126 (PROGRAM\n"
		"cannot run, or cannot be served by ushm), 127 (PROGRAM not\n"
		"found).\n");
}

static int find_preload(char *out, size_t len)
{
	const char *env = getenv("USHM_PRELOAD");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, R_OK) == 0 ? 0 : -1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		const char *dir = dirname(self);

		snprintf(out, len, "%s/../lib/" PRELOAD_NAME, dir);
		if (access(out, R_OK) == 0)
			return 0;
#ifdef USHM_LIBDIR_FROM_BINDIR
		if (USHM_LIBDIR_FROM_BINDIR[0]) {
			snprintf(out, len, "%s/%s/" PRELOAD_NAME, dir,
				 USHM_LIBDIR_FROM_BINDIR);
			if (access(out, R_OK) == 0)
				return 0;
		}
#endif
	}
#ifdef USHM_LIBDIR
	snprintf(out, len, "%s/" PRELOAD_NAME, USHM_LIBDIR);
	if (access(out, R_OK) == 0)
		return 0;
#endif
	return -1;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX], prog[PATH_MAX], why[1024], *value;
	const char *old, *asan;
	int argi = 1, trap = 0, err;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
			 strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argi < argc && (strcmp(argv[argi], "-V") == 0 ||
			    strcmp(argv[argi], "--version") == 0)) {
		printf("ushm-run %s\n", USHM_BUILD_VERSION);
		return 0;
	}
	if (argi < argc && strcmp(argv[argi], "--trap") == 0) {
		trap = 1;
		argi++;
	}
	if (argi < argc && strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc) {
		fprintf(stderr, "ushm-run: no program given\n"
				"Try 'ushm-run --help' for more information.\n");
		return 125;
	}
	if (run_find_program(argv[argi], prog, sizeof(prog)) == 0 &&
	    run_check_program(prog, why, sizeof(why)) < 0) {
		fprintf(stderr, "ushm-run: %s\n", why);
		return 126;
	}
	if (find_preload(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "ushm-run: cannot find %s; set USHM_PRELOAD "
				"to its path\n", PRELOAD_NAME);
		return 125;
	}
	asan = asan_runtime();
	if (asan) {
		char first[PATH_MAX];

		if ((size_t)snprintf(first, sizeof(first), "%s:%s", asan,
				     lib) >= sizeof(first)) {
			fprintf(stderr, "ushm-run: path too long\n");
			return 125;
		}
		memcpy(lib, first, sizeof(lib));
	}
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&value, "%s:%s", lib, old) < 0) {
			fprintf(stderr, "ushm-run: out of memory\n");
			return 125;
		}
	} else {
		value = lib;
	}
	if (setenv("LD_PRELOAD", value, 1) < 0) {
		fprintf(stderr, "ushm-run: setenv: %s\n", strerror(errno));
		return 125;
	}
	/* The program and everything it runs keep one daemon, even one
	 * that changes its uid: discovery runs once, here, and its answer
	 * is passed on.  When it fails, the library says why at the first
	 * call. */
	if (!getenv("USHM_SOCKET")) {
		char sock[108];

		if (ushm__socket_path(sock, sizeof(sock)) == 0 &&
		    setenv("USHM_SOCKET", sock, 1) < 0) {
			fprintf(stderr, "ushm-run: setenv: %s\n",
				strerror(errno));
			return 125;
		}
	}
	if (trap) {
		if (setenv(USHM_TRAP_ENV, "1", 1) < 0) {
			fprintf(stderr, "ushm-run: setenv: %s\n",
				strerror(errno));
			return 125;
		}
		err = run_trap_install();
		if (err < 0) {
			fprintf(stderr, "ushm-run: --trap: cannot install the "
					"seccomp filter: %s%s\n", strerror(-err),
				err == -ENOSYS ? " (not on this architecture)"
					       : "");
			return 125;
		}
	}
	execvp(argv[argi], argv + argi);
	fprintf(stderr, "ushm-run: %s: %s\n", argv[argi], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
