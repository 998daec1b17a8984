# src/chan/chan.mk - wait/notify and channels, part of libushm; their tests.
# Included by the root Makefile after LIB_OBJS and the library rules are
# read, so the objects are added both to LIB_SRCS/LIB_OBJS (the recipes
# expand them late) and as prerequisites of the libraries.

CHAN_SRCS := $(wildcard src/chan/*.c)
CHAN_OBJS := $(patsubst src/%.c,$(OBJ)/lib/%.o,$(CHAN_SRCS))
LIB_SRCS += $(CHAN_SRCS)
LIB_OBJS += $(CHAN_OBJS)

$(LIBUSHM_SO) $(LIBUSHM_A) $(PRELOAD_SO): $(CHAN_OBJS)

# C test programs under tests/chan/, linked with the static library; the
# .t scripts there run them.
CHAN_TEST_SRCS := $(wildcard tests/chan/*.c)
CHAN_TEST_BINS := $(patsubst tests/chan/%.c,$(BUILD)/tests/chan/%,\
		    $(CHAN_TEST_SRCS))

test-bins: $(CHAN_TEST_BINS)

$(BUILD)/tests/chan/%: tests/chan/%.c tests/chan/chantest.h tests/tap.h $(LIBUSHM_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUSHM_A) $(LDLIBS)

# The examples: waiting writer/reader and a channel producer/consumer.
CHAN_EXAMPLES := $(BUILD)/examples/wait_writer $(BUILD)/examples/wait_reader \
		 $(BUILD)/examples/chan_producer $(BUILD)/examples/chan_consumer
CHAN_EXAMPLES := $(filter $(patsubst examples/%.c,$(BUILD)/examples/%,\
		   $(wildcard examples/*.c)),$(CHAN_EXAMPLES))

$(CHAN_EXAMPLES): $(BUILD)/examples/%: examples/%.c $(LIBUSHM_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUSHM_A) $(LDLIBS)

all: $(CHAN_EXAMPLES)
demo: $(CHAN_EXAMPLES)
test-bins: $(CHAN_EXAMPLES)
