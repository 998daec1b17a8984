# ushm - System V shared memory in user space.
#
#   make            build everything into build/
#   make check      build and run every test (TAP, under prove)
#   make demo       the writer/reader scenario on an auto-started daemon
#   make install    PREFIX=/usr/local DESTDIR=... ; make uninstall
#
# SANITIZE=1 builds everything with AddressSanitizer and UBSan into
# build-san/ (make SANITIZE=1 check runs the suite that way).

VERSION := 0.1.0
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
MAN1 := man/ushm.1 man/ushm-run.1
MAN3 := man/libushm.3 man/ushm_get.3 man/ushm_at.3 man/ushm_dt.3 \
	man/ushm_ctl.3
MAN8 := man/ushmd.8

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -Iinclude -fPIC $(SAN_FLAGS)
LIB_CFLAGS := -fvisibility=hidden -DUSHM_BUILDING \
	      -DUSHM_BINDIR='"$(BINDIR)"'
LDFLAGS += $(SAN_FLAGS)
LDLIBS += -lpthread

OBJ := $(BUILD)/obj

COMMON_SRCS := src/proto/proto.c src/common/paths.c src/common/crc32.c \
	       src/common/procmaps.c
LIB_SRCS := src/lib/api.c src/lib/attach.c src/lib/client.c src/lib/maps.c \
	    src/lib/spawn.c \
	    src/proto/proto.c src/common/paths.c src/common/procmaps.c
DAEMON_SRCS := $(wildcard src/daemon/*.c) $(COMMON_SRCS)

LIB_OBJS := $(patsubst src/%.c,$(OBJ)/lib/%.o,$(LIB_SRCS))
DAEMON_OBJS := $(patsubst src/%.c,$(OBJ)/daemon/%.o,$(DAEMON_SRCS))
PRELOAD_OBJ := $(OBJ)/lib/preload/preload.o

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
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libushm.so.$(SOVERSION) \
		-Wl,--version-script=src/lib/libushm.map -o $@.$(VERSION) \
		$(LIB_OBJS) $(LDLIBS)
	ln -sf libushm.so.$(VERSION) $@.$(SOVERSION)
	ln -sf libushm.so.$(SOVERSION) $@

$(LIBUSHM_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(PRELOAD_SO): $(PRELOAD_OBJ) $(LIB_OBJS) src/preload/preload.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=src/preload/preload.map \
		-o $@ $(PRELOAD_OBJ) $(LIB_OBJS) $(LDLIBS)

$(USHMD): $(DAEMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(USHM_RUN): src/tools/ushm-run.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DUSHM_LIBDIR='"$(LIBDIR)"' $(LDFLAGS) -o $@ $<

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
$(BUILD)/tests/progs/%: tests/progs/%.c $(OBJ)/daemon/proto/proto.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(OBJ)/daemon/proto/proto.o

-include tests/conformance/conformance.mk
-include fuzz/fuzz.mk
-include tests/quality/quality.mk

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
PROVE_FLAGS ?= -j2

# The tests' scratch files go under build/tmp, not /tmp: a machine that
# cleans /tmp while the suite runs (systemd-tmpfiles at boot) must not
# pull files from under a running test.
check: test-bins
	@mkdir -p $(BUILD)/tmp
	TOP=$(CURDIR) BUILD=$(CURDIR)/$(BUILD) TMPDIR=$(CURDIR)/$(BUILD)/tmp \
		$(PROVE) $(PROVE_FLAGS) --exec '' $(TESTS)

demo: all $(EXAMPLE_BINS)
	@BUILD=$(CURDIR)/$(BUILD) examples/demo.sh

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
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
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
