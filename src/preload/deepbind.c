/*
 * deepbind.c - libraries loaded with RTLD_DEEPBIND reach ushm too.
 *
 * A library dlopen'ed with RTLD_DEEPBIND looks symbols up in itself and
 * its dependencies before the global scope, where the preloaded shim
 * is: its shmget binds to libc's, and the program quietly uses the
 * kernel (PHP loads its shmop and sysvshm extensions that way).
 *
 * Dropping RTLD_DEEPBIND would change how the library binds everything
 * else, so the shim keeps it and corrects only its own functions: the
 * dlopen wrapper loads the library as asked, then, holding the loader's
 * lock (dl_iterate_phdr), rewrites every GOT slot that names one of the
 * shim's functions (ushm__overrides) in the objects of the process, so
 * that they hold the shim's address.  An object bound the ordinary way
 * already resolves those names to the shim, so only deep-bound objects
 * change.  A slot in a RELRO page is made writable for the store and
 * read-only again.  Objects that define the functions (libc, the loader,
 * the shim, libushm) are left alone.
 *
 * dlopen looks at its caller (the RPATH it searches, $ORIGIN): the
 * wrapper is the caller now, so for a bare file name it first finds the
 * file the way the real caller's search path would (dlinfo
 * RTLD_DI_SERINFO of the caller), and only RTLD_DEEPBIND calls take this
 * path at all; every other dlopen goes straight to libc's.
 *
 * dlmopen is not wrapped: a new namespace has a libc of its own, whose
 * errno the shim cannot set, so redirecting its calls would lose their
 * errors.  ushm-run --trap catches those calls at the system call.
 */
#define _GNU_SOURCE
#include "deepbind.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define USHM_STR2(x) #x
#define USHM_STR(x) USHM_STR2(x)
/* RTLD_DEEPBIND (0x8) as a bit number, for aarch64's tbnz. */
#define RTLD_DEEPBIND_BIT 3
_Static_assert(RTLD_DEEPBIND == 1 << RTLD_DEEPBIND_BIT, "RTLD_DEEPBIND");

/* The ELF types of this process's word size (link.h's ElfW, spelled
 * out so that static analysers need no configuration). */
#if __SIZEOF_POINTER__ == 8
#define ELF_R_SYM ELF64_R_SYM
#define ELF_ST_TYPE ELF64_ST_TYPE
typedef Elf64_Addr elf_addr;
typedef Elf64_Dyn elf_dyn;
typedef Elf64_Sym elf_sym;
typedef Elf64_Rela elf_rela;
typedef Elf64_Phdr elf_phdr;
#else
#define ELF_R_SYM ELF32_R_SYM
#define ELF_ST_TYPE ELF32_ST_TYPE
typedef Elf32_Addr elf_addr;
typedef Elf32_Dyn elf_dyn;
typedef Elf32_Sym elf_sym;
typedef Elf32_Rela elf_rela;
typedef Elf32_Phdr elf_phdr;
#endif

typedef void *(*dlopen_fn)(const char *, int);

/* The function the shim puts in place of name, or NULL. */
static void *override_of(const char *name)
{
	for (const struct ushm__override *o = ushm__overrides; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o->fn;
	return NULL;
}

/* Does the object define one of the overridden functions (libc, the
 * shim, libushm, the loader)?  Those keep their own bindings. */
static int defines_overrides(const elf_sym *symtab, const char *strtab,
			     size_t nsyms)
{
	for (size_t i = 0; i < nsyms; i++)
		if (symtab[i].st_shndx != SHN_UNDEF &&
		    ELF_ST_TYPE(symtab[i].st_info) == STT_FUNC &&
		    override_of(strtab + symtab[i].st_name))
			return 1;
	return 0;
}

/* Stores fn in the slot, opening a read-only (RELRO) page for it. */
static void store_slot(void **slot, void *fn, uintptr_t relro_lo,
		       uintptr_t relro_hi)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t at = (uintptr_t)slot & ~(page - 1);
	int ro = (uintptr_t)slot >= relro_lo && (uintptr_t)slot < relro_hi;

	if (*slot == fn)
		return;
	if (ro && mprotect((void *)at, page, PROT_READ | PROT_WRITE) != 0)
		return; /* leave it: the library keeps libc's */
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	if (ro)
		mprotect((void *)at, page, PROT_READ);
}

/* A d_ptr as an address: the loader has relocated those of the objects
 * it loaded in place, not those of the vdso (nor on every architecture). */
static uintptr_t dyn_addr(elf_addr base, elf_addr p)
{
	return p < base ? base + p : p;
}

/* The number of symbols, from the hash table (DT_HASH or DT_GNU_HASH). */
static size_t count_syms(const elf_dyn *dyn, elf_addr base)
{
	const uint32_t *h = NULL, *gh = NULL;

	for (const elf_dyn *d = dyn; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_HASH)
			h = (const uint32_t *)dyn_addr(base, d->d_un.d_ptr);
		else if (d->d_tag == DT_GNU_HASH)
			gh = (const uint32_t *)dyn_addr(base, d->d_un.d_ptr);
	}
	if (h)
		return h[1];
	if (gh) {
		uint32_t nbuckets = gh[0], symoff = gh[1], bloom = gh[2];
		const uint32_t *buckets =
			gh + 4 + bloom * (sizeof(elf_addr) / 4);
		const uint32_t *chain = buckets + nbuckets;
		uint32_t last = 0;

		for (uint32_t i = 0; i < nbuckets; i++)
			if (buckets[i] > last)
				last = buckets[i];
		if (last < symoff)
			return symoff;
		while (!(chain[last - symoff] & 1))
			last++;
		return last + 1;
	}
	return 0;
}

static void patch_relocs(elf_addr base, const elf_rela *r, size_t bytes,
			 const elf_sym *symtab, const char *strtab,
			 uintptr_t relro_lo, uintptr_t relro_hi)
{
	for (size_t i = 0; i < bytes / sizeof(*r); i++) {
		const elf_sym *s = &symtab[ELF_R_SYM(r[i].r_info)];
		void *fn;

		if (ELF_R_SYM(r[i].r_info) == 0 || s->st_shndx != SHN_UNDEF)
			continue;
		fn = override_of(strtab + s->st_name);
		if (fn)
			store_slot((void **)(base + r[i].r_offset), fn,
				   relro_lo, relro_hi);
	}
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data)
{
	const elf_dyn *dyn = NULL;
	const elf_sym *symtab = NULL;
	const char *strtab = NULL;
	const elf_rela *jmprel = NULL, *rela = NULL;
	size_t pltrelsz = 0, relasz = 0, nsyms;
	uintptr_t relro_lo = 0, relro_hi = 0;
	int is_rela = 1;

	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const elf_phdr *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const elf_dyn *)(info->dlpi_addr + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			relro_lo = info->dlpi_addr + ph->p_vaddr;
			relro_hi = relro_lo + ph->p_memsz;
		}
	}
	/* The program itself binds globally; the vdso has nothing to do
	 * with us. */
	if (!dyn || !info->dlpi_name || !info->dlpi_name[0] ||
	    strstr(info->dlpi_name, "linux-vdso") ||
	    strstr(info->dlpi_name, "linux-gate"))
		return 0;
	for (const elf_dyn *d = dyn; d->d_tag != DT_NULL; d++) {
		uintptr_t p = dyn_addr(info->dlpi_addr, d->d_un.d_ptr);

		switch (d->d_tag) {
		case DT_SYMTAB:
			symtab = (const elf_sym *)p;
			break;
		case DT_STRTAB:
			strtab = (const char *)p;
			break;
		case DT_JMPREL:
			jmprel = (const elf_rela *)p;
			break;
		case DT_PLTRELSZ:
			pltrelsz = d->d_un.d_val;
			break;
		case DT_PLTREL:
			is_rela = d->d_un.d_val == DT_RELA;
			break;
		case DT_RELA:
			rela = (const elf_rela *)p;
			break;
		case DT_RELASZ:
			relasz = d->d_un.d_val;
			break;
		}
	}
	if (!symtab || !strtab || !is_rela)
		return 0; /* REL targets (32-bit x86) are not handled */
	nsyms = count_syms(dyn, info->dlpi_addr);
	if (nsyms == 0 || defines_overrides(symtab, strtab, nsyms))
		return 0;
	if (jmprel)
		patch_relocs(info->dlpi_addr, jmprel, pltrelsz, symtab, strtab,
			     relro_lo, relro_hi);
	if (rela) /* GLOB_DAT: -fno-plt calls, function pointers */
		patch_relocs(info->dlpi_addr, rela, relasz, symtab, strtab,
			     relro_lo, relro_hi);
	return 0;
}

/*
 * A bare file name as the real caller's dlopen would find it: the first
 * directory of its search path (RPATH, LD_LIBRARY_PATH, RUNPATH, the
 * system directories) that has the file.  0 and the path in out, or -1
 * (then dlopen searches from the wrapper, with the cache as well).
 */
static int caller_search(const void *caller, const char *file, char *out,
			 size_t len)
{
	struct link_map *lm = NULL;
	Dl_serinfo size, *si;
	Dl_info info;
	int found = -1;

	if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm ||
	    dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) != 0)
		return -1;
	si = malloc(size.dls_size);
	if (!si)
		return -1;
	memcpy(si, &size, sizeof(size));
	if (dlinfo(lm, RTLD_DI_SERINFO, si) == 0) {
		for (unsigned i = 0; i < si->dls_cnt && found < 0; i++) {
			if ((size_t)snprintf(out, len, "%s/%s",
					     si->dls_serpath[i].dls_name,
					     file) < len &&
			    access(out, F_OK) == 0)
				found = 0;
		}
	}
	free(si);
	return found;
}

/* libc's dlopen, set by the shim's constructor (ushm__deepbind_init). */
__attribute__((visibility("hidden"))) dlopen_fn ushm__real_dlopen;

/*
 * Entered by a jump from the dlopen stub below, with the stack as the
 * program's call left it: the return address is the real caller's.
 */
__attribute__((visibility("hidden"), noinline)) void *
ushm__dlopen_deep(const char *file, int mode)
{
	const void *caller = __builtin_return_address(0);
	dlopen_fn real = ushm__real_dlopen;
	char path[4096];
	void *h;

	if (!real)
		real = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	if (!real)
		return NULL;
	if ((mode & RTLD_DEEPBIND) && file && !strchr(file, '/') &&
	    caller_search(caller, file, path, sizeof(path)) == 0)
		file = path;
	h = real(file, mode);
	if (h && (mode & RTLD_DEEPBIND))
		/* Under the loader's lock: no load or unload meanwhile. */
		dl_iterate_phdr(patch_object, NULL);
	return h;
}

void ushm__deepbind_init(void)
{
	ushm__real_dlopen = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
}

/*
 * dlopen itself: every call without RTLD_DEEPBIND jumps straight into
 * libc's, so that libc sees the program's caller (its RPATH, $ORIGIN,
 * namespace) exactly as without the shim; a RTLD_DEEPBIND call jumps to
 * ushm__dlopen_deep, which sees the same caller.  A jump, not a call, is
 * the point: hence assembly.  Other architectures call through C, and
 * dlopen then sees the shim as its caller.
 */
#if defined(__x86_64__)
__asm__(".text\n"
	".globl dlopen\n"
	".type dlopen, @function\n"
	"dlopen:\n"
	"	testl $" USHM_STR(RTLD_DEEPBIND) ", %esi\n"
	"	jnz 1f\n"
	"	movq ushm__real_dlopen(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 1f\n"
	"	jmp *%rax\n"
	"1:	jmp ushm__dlopen_deep\n"
	".size dlopen, .-dlopen\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl dlopen\n"
	".type dlopen, %function\n"
	"dlopen:\n"
	"	tbnz w1, #" USHM_STR(RTLD_DEEPBIND_BIT) ", 1f\n"
	"	adrp x16, ushm__real_dlopen\n"
	"	ldr x16, [x16, :lo12:ushm__real_dlopen]\n"
	"	cbz x16, 1f\n"
	"	br x16\n"
	"1:	b ushm__dlopen_deep\n"
	".size dlopen, .-dlopen\n");
#else
EXPORT void *dlopen(const char *file, int mode)
{
	return ushm__dlopen_deep(file, mode);
}
#endif
