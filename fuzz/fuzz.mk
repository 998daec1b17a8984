# fuzz/fuzz.mk - libFuzzer targets (clang): make fuzz.
# Included by the root Makefile, which provides BUILD, WARN, DAEMON_SRCS
# and CHECK_BINS; everything defined here is FUZZ_*.
#
#   make fuzz                  each target for FUZZ_SECONDS (300) with
#                              FUZZ_JOBS (2) workers; prints executions
#                              and crashes, fails on a crash
#   make fuzz-bins             only builds them, into $(BUILD)/fuzz/
#   make fuzz-corpus           regenerates the seeds in fuzz/corpus/
#
# The daemon's sources are compiled here again, by clang, with coverage
# instrumentation and ASan/UBSan: gcc's objects in $(BUILD)/obj cannot
# feed libFuzzer.  Debian: clang and libclang-rt-dev (or clang-14 and
# libclang-rt-14-dev; FUZZ_CC=clang-14).

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_JOBS ?= 2
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_TARGETS := fuzz_proto fuzz_serve
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
FUZZ_GEN := $(FUZZ_DIR)/gen_corpus

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 -std=gnu11 $(WARN) -Iinclude -Isrc -Ifuzz \
	       -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_LDFLAGS := -fsanitize=fuzzer $(FUZZ_SAN)

# Everything ushmd is made of but its main().
FUZZ_DAEMON_SRCS := $(filter-out src/daemon/main.c,$(DAEMON_SRCS))
FUZZ_DAEMON_OBJS := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_DAEMON_SRCS))
FUZZ_PROTO_OBJ := $(FUZZ_DIR)/obj/proto/proto.o

# Can clang link a libFuzzer program here?  (clang alone is not enough:
# the runtime is in libclang-rt-*-dev.)  The probe takes a link, so only
# the goals that build the fuzzers pay for it.
FUZZ_GOALS := check test-bins
ifneq ($(filter $(FUZZ_GOALS),$(MAKECMDGOALS)),)
FUZZ_AVAILABLE := $(shell t=$$(mktemp 2>/dev/null) || exit 0; \
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' | \
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o "$$t" \
		>/dev/null 2>&1 && echo yes; rm -f "$$t")
endif

ifeq ($(FUZZ_AVAILABLE),yes)
CHECK_BINS += $(FUZZ_BINS)
endif
# The seed generator needs no clang: tests/fuzz.t compares its output
# with the committed seeds wherever the suite runs (not in build-san,
# whose make says FUZZ_AVAILABLE=no: fuzz.t does not run there).
ifneq ($(FUZZ_AVAILABLE),no)
CHECK_BINS += $(FUZZ_GEN)
endif

.PHONY: fuzz fuzz-bins fuzz-corpus
fuzz-bins: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_proto: $(FUZZ_DIR)/fuzz_proto.o $(FUZZ_PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^

$(FUZZ_DIR)/fuzz_serve: $(FUZZ_DIR)/fuzz_serve.o $(FUZZ_DAEMON_OBJS)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^

# The seed generator is a plain program (any compiler).
$(FUZZ_GEN): fuzz/gen_corpus.c fuzz/serve_input.h src/proto/proto.c \
	     src/proto/proto.h
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -std=gnu11 $(WARN) -Isrc -Ifuzz -o $@ fuzz/gen_corpus.c \
		src/proto/proto.c

# Written from nothing: a seed gen_corpus no longer makes goes too.
fuzz-corpus: $(FUZZ_GEN)
	rm -rf fuzz/corpus
	$(FUZZ_GEN) fuzz/corpus

# Each target in turn, for FUZZ_SECONDS, from its seeds and the corpus a
# previous run grew in $(BUILD)/fuzz/corpus/.
fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		fuzz/run.sh -j $(FUZZ_JOBS) -s $(FUZZ_SECONDS) -o $(FUZZ_DIR) \
			$(FUZZ_DIR)/$$t || exit 1; \
	done

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
