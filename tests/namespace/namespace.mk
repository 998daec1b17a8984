# tests/namespace/namespace.mk - the programs tests/namespace/*.t run:
# linked with the static libushm (a setuid program cannot be preloaded).

NS_TEST_SRCS := $(wildcard tests/namespace/*.c)
NS_TEST_BINS := $(patsubst tests/namespace/%.c,$(BUILD)/tests/namespace/%,\
		  $(NS_TEST_SRCS))

test-bins: $(NS_TEST_BINS)

$(BUILD)/tests/namespace/%: tests/namespace/%.c $(LIBUSHM_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUSHM_A) $(LDLIBS)
