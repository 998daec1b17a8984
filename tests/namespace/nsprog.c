/*
 * nsprog - libushm calls for the namespace tests, linked with the static
 * library so that it also runs as a setuid program (no preloading).
 *
 *   nsprog get KEY              create KEY (4096 bytes, 0600) or find it;
 *                               print its id, or the errno's name
 *   nsprog at ID                attach ID and print its first byte, or
 *                               the errno's name
 *   nsprog forkdrop KEY UID     create KEY (0666) holding 'R', fork; the
 *                               child drops every id to UID and looks
 *                               KEY up; prints "parent ID" and
 *                               "child ID BYTE" (or the errno's name)
 *   nsprog repoint KEY SOCKET   create KEY, then set USHM_SOCKET to
 *                               SOCKET, fork, and look KEY up in both
 *                               processes: prints "before ID", "after ID"
 *                               and "child ID" (the daemon is kept)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ushm.h"

static const char *ename(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return strerror(e);
	}
}

/* Prints the id and the first byte of the segment with key. */
static int show(const char *who, key_t key)
{
	int id = ushm_get(key, 0, 0);
	char *p;

	if (id < 0) {
		printf("%s %s\n", who, ename(errno));
		return 1;
	}
	p = ushm_at(id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		printf("%s %d %s\n", who, id, ename(errno));
		return 1;
	}
	printf("%s %d %c\n", who, id, p[0]);
	return ushm_dt(p) < 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(cmd, "get") == 0 && argc == 3) {
		int id = ushm_get((key_t)strtol(argv[2], NULL, 0), 4096,
				  IPC_CREAT | 0600);

		if (id < 0) {
			printf("%s\n", ename(errno));
			return 1;
		}
		printf("%d\n", id);
		return 0;
	}
	if (strcmp(cmd, "at") == 0 && argc == 3) {
		char *p = ushm_at((int)strtol(argv[2], NULL, 0), NULL,
				  SHM_RDONLY);

		if (p == (void *)-1) {
			printf("%s\n", ename(errno));
			return 1;
		}
		printf("byte %d\n", p[0]);
		return ushm_dt(p) < 0;
	}
	if (strcmp(cmd, "forkdrop") == 0 && argc == 4) {
		key_t key = (key_t)strtol(argv[2], NULL, 0);
		uid_t uid = (uid_t)strtoul(argv[3], NULL, 0);
		int id = ushm_get(key, 4096, IPC_CREAT | 0666), st;
		char *p;
		pid_t pid;

		if (id < 0 || (p = ushm_at(id, NULL, 0)) == (void *)-1) {
			printf("parent %s\n", ename(errno));
			return 1;
		}
		p[0] = 'R';
		ushm_dt(p);
		printf("parent %d\n", id);
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			if (setgroups(0, NULL) < 0 ||
			    setresgid(uid, uid, uid) < 0 ||
			    setresuid(uid, uid, uid) < 0)
				_exit(2);
			_exit(show("child", key));
		}
		if (waitpid(pid, &st, 0) < 0)
			return 1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (strcmp(cmd, "repoint") == 0 && argc == 4) {
		key_t key = (key_t)strtol(argv[2], NULL, 0);
		int id = ushm_get(key, 4096, IPC_CREAT | 0600), st;
		pid_t pid;

		printf("before %d\n", id);
		if (id < 0 || setenv("USHM_SOCKET", argv[3], 1) < 0)
			return 1;
		printf("after %d\n", ushm_get(key, 0, 0));
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			printf("child %d\n", ushm_get(key, 0, 0));
			_exit(0);
		}
		if (waitpid(pid, &st, 0) < 0)
			return 1;
		return !WIFEXITED(st) || WEXITSTATUS(st);
	}
	fprintf(stderr, "usage: see the comment in nsprog.c\n");
	return 2;
}
