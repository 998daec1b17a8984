# src/tools/ushm.mk - the ushm command line tool and its test helper.
# Included by the root Makefile, which provides BUILD, OBJ, CC, CFLAGS,
# LDFLAGS, LDLIBS and LIBUSHM_A; everything defined here is USHM_CLI*.

# ushm-run.c matches the pattern but is a program of its own.
USHM_CLI_SRCS := $(filter-out src/tools/ushm-run.c,\
		   $(wildcard src/tools/ushm*.c))
USHM_CLI_OBJS := $(patsubst src/tools/%.c,$(BUILD)/obj/cli/%.o,\
		   $(USHM_CLI_SRCS))
USHM_CLI_LIBA := $(BUILD)/lib/libushm.a
USHM_CLI := $(BUILD)/bin/ushm

# tests/cli/shmtool drives shmget/shmctl/shmat on the kernel or on ushm.
USHM_CLI_TESTPROGS := $(BUILD)/tests/cli/shmtool

all: $(USHM_CLI)
test-bins: $(USHM_CLI_TESTPROGS)

$(BUILD)/obj/cli/%.o: src/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(USHM_CLI): $(USHM_CLI_OBJS) $(USHM_CLI_LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(USHM_CLI_OBJS) $(USHM_CLI_LIBA) $(LDLIBS)

$(BUILD)/tests/cli/%: tests/cli/%.c $(USHM_CLI_LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(USHM_CLI_LIBA) $(LDLIBS)
