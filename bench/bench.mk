# bench/bench.mk - make bench: ushm against the kernel and other IPC.
# Not part of make check.  bench/run.sh runs the program on a private
# daemon, then real programs on the kernel and on ushm (bench/real.sh:
# it installs AFL++, PHP and stress-ng when root on Debian, and skips
# what is missing), and writes its output, data and PNG plot into
# build/bench/results/ (it installs gnuplot first when it is missing, on
# Debian): a run leaves the tree as it was.  make bench-publish runs it
# and then copies the results over the committed ones in bench/results/,
# on purpose.

BENCH_BIN := $(BUILD)/bench/bench
BENCH_RESULTS := $(BUILD)/bench/results
BENCH_PUBLISHED := bench/results

$(BENCH_BIN): bench/bench.c include/ushm.h $(LIBUSHM_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBUSHM_A) $(LDLIBS)

.PHONY: bench bench-publish
bench: all $(BENCH_BIN)
	BUILD=$(abspath $(BUILD)) BENCH_OUT=$(abspath $(BENCH_RESULTS)) \
		bench/run.sh

bench-publish: bench
	cp $(BENCH_RESULTS)/bench.txt $(BENCH_RESULTS)/rtt.dat \
		$(BENCH_RESULTS)/tput.dat $(BENCH_PUBLISHED)/
	if [ -f $(BENCH_RESULTS)/bench.png ]; then \
		cp $(BENCH_RESULTS)/bench.png $(BENCH_PUBLISHED)/; fi
	@echo "bench-publish: $(BENCH_PUBLISHED)/ updated; update BENCHMARKS.md's table and commit"
