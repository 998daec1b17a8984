# bench/bench.mk - make bench: ushm against the kernel and other IPC.
# Not part of make check.  bench/run.sh runs the program on a private
# daemon, writes bench/results/ (the output, the data, the PNG plot) and
# installs gnuplot first when it is missing (Debian).

BENCH_BIN := $(BUILD)/bench/bench

$(BENCH_BIN): bench/bench.c include/ushm.h $(LIBUSHM_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUSHM_A) $(LDLIBS)

.PHONY: bench
bench: all $(BENCH_BIN)
	BUILD=$(CURDIR)/$(BUILD) bench/run.sh
