/*
 * exec.c - the shim's exec family: a program keeps its namespace across
 * exec, even one that cleared its environment first.
 *
 * With the kernel, a program that calls clearenv() (or builds a fresh
 * environment) and executes another still shares its segments with it.
 * Under the shim, that child would lose LD_PRELOAD and USHM_SOCKET and
 * fall back to the kernel's table (or another daemon).  So when the
 * environment a program passes to exec has neither variable, the one
 * the shim was loaded with is put back: LD_PRELOAD as it was at load
 * time, USHM_SOCKET as the socket this process uses.  An environment
 * that sets either variable itself is left as the program made it.
 *
 * These run after vfork and in multithreaded children: no malloc, no
 * locks; the new array lives on the stack.
 */
#define _GNU_SOURCE
#include "../lib/client.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

/* Resolved once, by the constructor, before any thread. */
static execve_fn real_execve, real_execvpe;
/* LD_PRELOAD as the program started with it (a copy: the program may
 * change its environment), or NULL.  On the heap, not in a static
 * buffer: a .bss that outgrows the data page is one more mapping, and
 * each mapping costs every fork and exit of the program. */
#define PRELOAD_MAX 4096
static char *preload_saved;

__attribute__((constructor)) static void exec_setup(void)
{
	const char *v = getenv("LD_PRELOAD");

	real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
	real_execvpe = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
	if (v && strlen(v) < PRELOAD_MAX)
		preload_saved = strdup(v);
}

static int has_var(char *const envp[], const char *name, size_t n)
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return 1;
	return 0;
}

static size_t count(char *const v[])
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Calls fn with envp, plus the variables it lacks. */
static int exec_with(execve_fn fn, const char *path, char *const argv[],
		     char *const envp[])
{
	char sock[sizeof("USHM_SOCKET=") + 108];
	char pre[sizeof("LD_PRELOAD=") + PRELOAD_MAX];
	const char *s = ushm__used_socket();
	size_t n = count(envp), k = 0;
	char *v[n + 3];

	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v[k++] = envp[i];
	if (s && !has_var(envp, "USHM_SOCKET", 11)) {
		snprintf(sock, sizeof(sock), "USHM_SOCKET=%s", s);
		v[k++] = sock;
	}
	if (preload_saved && preload_saved[0] &&
	    !has_var(envp, "LD_PRELOAD", 10)) {
		snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", preload_saved);
		v[k++] = pre;
	}
	v[k] = NULL;
	return fn(path, argv, v);
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return exec_with(real_execve, path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return exec_with(real_execve, path, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return exec_with(real_execvpe, file, argv, envp);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return exec_with(real_execvpe, file, argv, environ);
}

/* The list forms: how many arguments (the first and the rest up to the
 * NULL), then the arguments into an array the caller has on its stack. */
static size_t list_count(va_list *ap)
{
	size_t n = 1;
	va_list c;

	va_copy(c, *ap);
	while (va_arg(c, char *))
		n++;
	va_end(c);
	return n;
}

static void list_fill(char **argv, const char *first, size_t n, va_list *ap)
{
	argv[0] = (char *)first;
	for (size_t i = 1; i <= n; i++)
		argv[i] = va_arg(*ap, char *); /* the last one is the NULL */
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	size_t n = list_count(&ap);
	char *argv[n + 1];

	list_fill(argv, arg, n, &ap);
	va_end(ap);
	return exec_with(real_execve, path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	size_t n = list_count(&ap);
	char *argv[n + 1];

	list_fill(argv, arg, n, &ap);
	va_end(ap);
	return exec_with(real_execvpe, file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	va_list ap;

	va_start(ap, arg);
	size_t n = list_count(&ap);
	char *argv[n + 1];

	list_fill(argv, arg, n, &ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return exec_with(real_execve, path, argv, envp);
}
