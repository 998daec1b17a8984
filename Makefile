# ushm - System V shared memory in user space.
#
#   make            build everything into build/
#   make check      build and run every test (TAP, under prove)
#   make demo       the writer/reader scenario on an auto-started daemon
#   make install    PREFIX=/usr/local DESTDIR=... ; make uninstall
#
# SANITIZE=1 builds everything with AddressSanitizer and UBSan into
# build-san/ (make SANITIZE=1 check runs the suite that way).

# The one version: it reaches ushm --version, ushmd --version,
# ushm-run --version, ushm_version(), the USHM_VERSION_* macros of
# include/ushm.h (the library does not build when they differ), the man
# pages, ushm.pc and debian/changelog (tests/cli/version.t checks those).
VERSION := 0.1.0
VERSION_PARTS := $(subst ., ,$(VERSION))
# Bump on purpose when the ABI changes incompatibly (tests/cli/abi.t).
SOVERSION := 1

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= cc
CXX ?= c++
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# LIBDIR as seen from BINDIR ("../lib/x86_64-linux-gnu"): ushm-run finds
# the shim there in a tree that was moved (an unpacked package).
LIBDIR_FROM_BINDIR := $(if $(filter $(PREFIX)/bin,$(BINDIR)),$(if \
	$(filter $(PREFIX)/%,$(LIBDIR)),../$(LIBDIR:$(PREFIX)/%=%)))
MAN1 := man/ushm.1 man/ushm-run.1
MAN3 := $(sort $(wildcard man/*.3))
MAN8 := man/ushmd.8

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -Iinclude -fPIC $(SAN_FLAGS)
VERSION_DEFINES := -DUSHM_BUILD_VERSION='"$(VERSION)"' \
		   -DUSHM_BUILD_MAJOR=$(word 1,$(VERSION_PARTS)) \
		   -DUSHM_BUILD_MINOR=$(word 2,$(VERSION_PARTS)) \
		   -DUSHM_BUILD_PATCH=$(word 3,$(VERSION_PARTS))
# Preprocessor flags (a distribution's -D_FORTIFY_SOURCE) and the version.
CFLAGS += $(CPPFLAGS) $(VERSION_DEFINES)
# -fno-plt: the libraries call libc through their GOT, which a forked
# child inherits filled in, rather than through PLT stubs, a page of
# code that every child of a fork server would fault in again.
LIB_CFLAGS := -fvisibility=hidden -fno-plt -DUSHM_BUILDING \
	      -DUSHM_BINDIR='"$(BINDIR)"'
LDFLAGS += $(SAN_FLAGS)
LDLIBS += -lpthread
# The libraries bind every symbol when loaded (and keep their GOT
# read-only after): a forked child that calls a function its parent
# never did would otherwise look it up again in every child, a fork
# server's thousands of them, faulting in the loader's pages each time.
# -z noseparate-code: their headers, code and constants in one mapping
# (three per library, not five).  fork copies and exit tears down every
# mapping of the process, and these two are in every process ushm-run
# serves: a fork holding an attachment measured about 20 us faster on
# the benchmark's VM (BENCHMARKS.md).  The price: constants and headers
# are executable, as every library's were before binutils 2.31.  (A
# linker that lacks the option, gold, links them as before.)
NOSEPARATE_CODE := $(shell $(CC) $(LDFLAGS) -shared -Wl,-z,noseparate-code \
	-o /dev/null -x c /dev/null 2>/dev/null && echo -Wl,-z,noseparate-code)
LIB_LDFLAGS := -Wl,-z,now -Wl,-z,relro $(NOSEPARATE_CODE)

OBJ := $(BUILD)/obj

COMMON_SRCS := src/proto/proto.c src/common/paths.c src/common/dirs.c \
	       src/common/crc32.c src/common/ipcperm.c \
	       src/common/procmaps.c src/common/procfs.c src/common/spin.c
LIB_SRCS := src/lib/api.c src/lib/attach.c src/lib/session.c \
	    src/lib/transport.c src/lib/forkproto.c src/lib/mapwrap.c \
	    src/lib/pieces.c src/lib/spawn.c src/lib/version.c \
	    src/lib/table.c src/lib/shmat.c src/lib/usercopy.c \
	    src/lib/caps.c src/proto/proto.c \
	    src/common/paths.c src/common/dirs.c src/common/ipcperm.c \
	    src/common/procfs.c src/common/spin.c
DAEMON_SRCS := $(wildcard src/daemon/*.c) $(COMMON_SRCS)

LIB_OBJS := $(patsubst src/%.c,$(OBJ)/lib/%.o,$(LIB_SRCS))
DAEMON_OBJS := $(patsubst src/%.c,$(OBJ)/daemon/%.o,$(DAEMON_SRCS))
PRELOAD_OBJ := $(patsubst src/%.c,$(OBJ)/lib/%.o,$(wildcard src/preload/*.c))

LIBUSHM_SO := $(BUILD)/lib/libushm.so
LIBUSHM_A := $(BUILD)/lib/libushm.a
PRELOAD_SO := $(BUILD)/lib/libushm-preload.so
USHMD := $(BUILD)/bin/ushmd
USHM_RUN := $(BUILD)/bin/ushm-run

PROGRAMS := $(USHMD) $(USHM_RUN)
LIBS := $(LIBUSHM_SO) $(LIBUSHM_A) $(PRELOAD_SO)

.PHONY: all check demo install uninstall clean unit-bins test-bins
all: $(LIBS) $(PROGRAMS)

# Library objects are hidden by default; the daemon's are plain.
$(OBJ)/lib/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ)/daemon/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBUSHM_SO): $(LIB_OBJS) src/lib/libushm.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(LIB_LDFLAGS) -shared \
		-Wl,-soname,libushm.so.$(SOVERSION) \
		-Wl,--version-script=src/lib/libushm.map -o $@.$(VERSION) \
		$(LIB_OBJS) $(LDLIBS)
	ln -sf libushm.so.$(VERSION) $@.$(SOVERSION)
	ln -sf libushm.so.$(SOVERSION) $@

$(LIBUSHM_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# The shim holds no copy of the library: it needs libushm.so.1, found
# beside it (the build tree and the install directory alike), so that a
# process has one attachment table and one connection whichever entry
# point it uses.  -nostartfiles: without the C runtime's start and end
# files it has no destructor of its own (crtbeginS's, which every
# process's exit runs and which writes a page of the shim's data), which
# a fork server's every child paid two page faults for; its constructors
# are .init_array entries, which the loader runs all the same.
$(PRELOAD_SO): $(PRELOAD_OBJ) $(LIBUSHM_SO) src/preload/preload.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(LIB_LDFLAGS) -shared -nostartfiles \
		-Wl,--version-script=src/preload/preload.map \
		-Wl,-soname,libushm-preload.so -Wl,-rpath,'$$ORIGIN' \
		-o $@ $(PRELOAD_OBJ) $(LIBUSHM_SO).$(SOVERSION) $(LDLIBS)

$(USHMD): $(DAEMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

USHM_RUN_SRCS := src/tools/ushm-run.c src/tools/run_check.c \
		 src/tools/run_trap.c src/common/paths.c src/common/dirs.c
$(USHM_RUN): $(USHM_RUN_SRCS) src/tools/run_check.h src/tools/run_trap.h \
	     src/preload/trap.h src/common/paths.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DUSHM_LIBDIR='"$(LIBDIR)"' \
		-DUSHM_LIBDIR_FROM_BINDIR='"$(LIBDIR_FROM_BINDIR)"' \
		$(LDFLAGS) -o $@ $(USHM_RUN_SRCS)

# ---- parts with a fragment of their own ----
# A fragment adds to CHECK_BINS what make check must build first.
CHECK_BINS :=
-include src/tools/ushm.mk
-include src/chan/chan.mk
-include bench/bench.mk

# ---- tests ----
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
UNIT_DEPS := $(filter-out $(OBJ)/daemon/daemon/main.o,$(DAEMON_OBJS))

$(BUILD)/tests/unit/%: tests/unit/%.c tests/tap.h $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(UNIT_DEPS) $(LDLIBS)

# Programs the shell tests run: plain System V programs that know nothing
# of ushm (ushm-run puts them on ushm).
TESTPROG_SRCS := $(wildcard tests/progs/*.c)
TESTPROG_BINS := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(TESTPROG_SRCS))
$(BUILD)/tests/progs/%: tests/progs/%.c tests/progs/wire.h tests/progs/fds.h \
			 src/proto/cmsg.h \
			 $(OBJ)/daemon/proto/proto.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(OBJ)/daemon/proto/proto.o

-include tests/conformance/conformance.mk
-include tests/dropin/dropin.mk
-include fuzz/fuzz.mk
-include tests/quality/quality.mk
-include tests/namespace/namespace.mk

# The tutorial's two programs, compiled unmodified when a C++ compiler
# and the reference copy are present (tests/seeds.t otherwise uses the
# copies in tests/seeds/).
SEED_BINS := $(BUILD)/tests/seeds/first $(BUILD)/tests/seeds/second
$(BUILD)/tests/seeds/%: tests/seeds/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O2 -w -o $@ $<

EXAMPLE_BINS := $(BUILD)/examples/writer $(BUILD)/examples/reader
$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

test-bins: all $(UNIT_BINS) $(TESTPROG_BINS) $(CONFORMANCE_BINS) \
	   $(SEED_BINS) $(EXAMPLE_BINS) $(USHM_CLI) $(CHECK_BINS)

TESTS := $(UNIT_BINS) $(sort $(wildcard tests/*.t tests/*/*.t))
PROVE ?= prove
PROVE_FLAGS ?= -j2 --timer

# The tests' scratch files go under build/tmp, not /tmp: a machine that
# cleans /tmp while the suite runs (systemd-tmpfiles at boot) must not
# pull files from under a running test.
check: test-bins
	@mkdir -p $(BUILD)/tmp
	TOP=$(CURDIR) BUILD=$(CURDIR)/$(BUILD) TMPDIR=$(CURDIR)/$(BUILD)/tmp \
		$(PROVE) $(PROVE_FLAGS) --exec '' $(TESTS)

demo: all $(EXAMPLE_BINS)
	@BUILD=$(CURDIR)/$(BUILD) examples/demo.sh

# pc_rel DIR,VAR: DIR written from ${VAR} (prefix or exec_prefix, both
# PREFIX) in ushm.pc where it lies under PREFIX, so that pkg-config
# --define-variable=prefix=... moves it with the rest.
pc_rel = $(if $(filter $(PREFIX)/%,$(1)),$${$(2)}/$(patsubst \
	$(PREFIX)/%,%,$(1)),$(1))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(PROGRAMS) $(USHM_CLI) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(LIBUSHM_SO).$(VERSION) $(PRELOAD_SO) \
		$(DESTDIR)$(LIBDIR)/
	install -m 0644 $(LIBUSHM_A) $(DESTDIR)$(LIBDIR)/
	ln -sf libushm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libushm.so.$(SOVERSION)
	ln -sf libushm.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libushm.so
	install -m 0644 include/ushm.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR),exec_prefix)|' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR),prefix)|' \
	    packaging/ushm.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/ushm.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/ushm.pc
	install -m 0644 packaging/ushmd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|' packaging/ushmd.service.in \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/ushmd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/ushmd.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ushmd $(DESTDIR)$(BINDIR)/ushm \
	      $(DESTDIR)$(BINDIR)/ushm-run \
	      $(DESTDIR)$(LIBDIR)/libushm.so* $(DESTDIR)$(LIBDIR)/libushm.a \
	      $(DESTDIR)$(LIBDIR)/libushm-preload.so \
	      $(DESTDIR)$(INCLUDEDIR)/ushm.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/ushm.pc \
	      $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	      $(DESTDIR)$(SYSTEMDUNITDIR)/ushmd.socket \
	      $(DESTDIR)$(SYSTEMDUNITDIR)/ushmd.service

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
