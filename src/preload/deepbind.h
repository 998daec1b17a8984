/*
 * deepbind.h - the shim's answer to RTLD_DEEPBIND (see deepbind.c).
 */
#ifndef USHM_DEEPBIND_H
#define USHM_DEEPBIND_H

/* A function of libc's the shim replaces, and the shim's own. */
struct ushm__override {
	const char *name;
	void *fn;
};

/* The shim's table of overrides, ended by a NULL name (preload.c). */
extern const struct ushm__override ushm__overrides[];

/* Finds libc's dlopen; the shim's constructor calls it first thing. */
void ushm__deepbind_init(void);

#endif /* USHM_DEEPBIND_H */
