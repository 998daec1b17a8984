/*
 * run_check.c - can ushm-run serve this program?  The shim reaches a
 * program only through the dynamic loader, which reads LD_PRELOAD: a
 * statically linked program, one whose interpreter is another loader, or
 * one of another ELF class or machine (the loader ignores a shim it
 * cannot load, with a warning) would make its System V calls on the
 * kernel, silently.  So ushm-run reads the ELF headers first and refuses
 * such a program, with the reason.  A "#!" script is judged by its
 * interpreter, as the kernel follows it.
 */
#define _GNU_SOURCE
#include "run_check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#if __SIZEOF_POINTER__ == 8
#define NATIVE_CLASS ELFCLASS64
typedef Elf64_Ehdr Ehdr;
typedef Elf64_Phdr Phdr;
#else
#define NATIVE_CLASS ELFCLASS32
typedef Elf32_Ehdr Ehdr;
typedef Elf32_Phdr Phdr;
#endif

/* Scripts may name scripts; the kernel gives up after a few levels. */
#define MAX_DEPTH 4

int run_find_program(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, F_OK) == 0 ? 0 : -errno;
	}
	if (!path || !*path)
		path = "/bin:/usr/bin";
	for (p = path;; p = end + 1) {
		struct stat st;
		size_t n;

		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (n == 0)
			snprintf(out, len, "%s", name);
		else
			snprintf(out, len, "%.*s/%s", (int)n, p, name);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		if (!*end)
			return -ENOENT;
	}
}

/* Is path the loader this program itself runs under (AT_BASE's file,
 * by our own PT_INTERP), or one by a name glibc's loaders have? */
static int is_dynamic_loader(const char *path)
{
	char want[PATH_MAX], got[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld64.so", 7) == 0)
		return 1;
	if (!realpath(path, got))
		return 0;
	/* Our own interpreter, from our program headers in memory. */
	{
		const Phdr *ph = (const Phdr *)getauxval(AT_PHDR);
		unsigned long n = getauxval(AT_PHNUM);
		uintptr_t bias = 0;

		for (unsigned long i = 0; ph && i < n; i++)
			if (ph[i].p_type == PT_PHDR)
				bias = (uintptr_t)ph - ph[i].p_vaddr;
		for (unsigned long i = 0; ph && i < n; i++)
			if (ph[i].p_type == PT_INTERP &&
			    realpath((const char *)(bias + ph[i].p_vaddr),
				     want))
				return strcmp(want, got) == 0;
	}
	return 0;
}

static int refuse(char *why, size_t len, const char *fmt, const char *a)
{
	snprintf(why, len, fmt, a);
	return -1;
}

/* The machine this program (and so the shim beside it) is built for. */
static int native_machine(void)
{
	Ehdr eh;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &eh, sizeof(eh), 0);
	close(fd);
	return n == (ssize_t)sizeof(eh) ? eh.e_machine : -1;
}

/* The ELF file at fd (path for messages): 0 or -1 with why. */
static int check_elf(int fd, const char *path, char *why, size_t len)
{
	char interp[PATH_MAX];
	int machine = native_machine();
	Ehdr eh;
	Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    eh.e_ident[EI_CLASS] != NATIVE_CLASS ||
	    (machine >= 0 && eh.e_machine != machine))
		return refuse(why, len,
			      "%s is built for another architecture or word "
			      "size than ushm's library: the loader would skip "
			      "the shim and its calls would reach the kernel; "
			      "build ushm for that architecture", path);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		off_t at = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;
		ssize_t n;

		if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph))
			break;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(interp))
			break;
		n = pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset);
		if (n != (ssize_t)ph.p_filesz)
			break;
		interp[n] = '\0';
		if (!is_dynamic_loader(interp))
			return refuse(why, len,
				      "%s names an interpreter that is not the "
				      "dynamic loader, which alone applies "
				      "LD_PRELOAD: its System V calls would "
				      "reach the kernel", path);
		return 0;
	}
	return refuse(why, len,
		      "%s is statically linked: no dynamic loader runs to "
		      "put ushm's library in front of libc, so its System V "
		      "calls would reach the kernel; link it dynamically, or "
		      "link it with libushm and call ushm_get & co. "
		      "(libushm(3))", path);
}

static int check(const char *path, int depth, char *why, size_t len)
{
	char head[PATH_MAX + 2], *nl, *interp;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) /* exec will say why (permission, say) */
		return 0;
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n >= 4 && memcmp(head, ELFMAG, SELFMAG) == 0) {
		r = check_elf(fd, path, why, len);
		close(fd);
		return r;
	}
	close(fd);
	if (n < 2 || head[0] != '#' || head[1] != '!' || depth >= MAX_DEPTH)
		return 0; /* not ours to judge: exec decides */
	head[n] = '\0';
	nl = strchr(head, '\n');
	if (nl)
		*nl = '\0';
	interp = head + 2;
	interp += strspn(interp, " \t");
	interp[strcspn(interp, " \t")] = '\0';
	if (!*interp)
		return 0;
	r = check(interp, depth + 1, why, len);
	if (r < 0) {
		char inner[512];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, len, "%s: by its \"#!\" line, %s", path, inner);
	}
	return r;
}

int run_check_program(const char *path, char *why, size_t len)
{
	return check(path, 0, why, len);
}
