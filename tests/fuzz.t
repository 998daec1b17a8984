#!/usr/bin/env bash
# The fuzzers, briefly: each libFuzzer target runs for a few seconds from
# its seed corpus (and first replays the inputs kept in fuzz/regressions/);
# any crash, leak, timeout or broken invariant fails.  The long run is
# make fuzz (fuzz/README.md).
#
# The binaries come from make check (CHECK_BINS, when clang can link a
# libFuzzer program).  Missing binaries fail rather than skip: CI installs
# clang and libclang-rt-dev, and a fuzzer that silently stopped being
# built would go unnoticed.
. "$(dirname "$0")/lib.sh"
time_bound 600 # the whole test (lib.sh: the watchdog)

# Seconds per target: the suite must stay fast.
secs=${FUZZ_TEST_SECONDS:-10}
out=$(mktemp -d "${TMPDIR:-/tmp}/ushm-fuzz-t.XXXXXX") || exit 1
at_exit 'rm -rf "$out"'

# The committed seeds are what gen_corpus writes today.  Seeds of an
# older protocol version reach nothing but the daemon's "another
# version" answer: the fuzzers then start from nowhere, and nothing
# says so (fuzz_serve's coverage doubled once they were made again).
gen=$BUILD/fuzz/gen_corpus
if [ -x "$gen" ] && "$gen" "$out/seeds" >"$out/gen.log" 2>&1; then
	# (Both directories must be there: diff fails on a missing one.)
	drift=$(diff -rq "$out/seeds" "$TOP/fuzz/corpus" 2>&1) ||
		drift=${drift:-"diff failed"}
	is "$drift" "" "the committed seeds are gen_corpus's output" \
		"(make fuzz-corpus writes them again)"
else
	cat "$out/gen.log" 2>/dev/null | diag
	ok 1 "the committed seeds are gen_corpus's output ($gen did not run:" \
	     "make check builds it)"
fi

for t in fuzz_proto fuzz_serve; do
	bin=$BUILD/fuzz/$t
	if [ ! -x "$bin" ]; then
		ok 1 "$t: built ($bin missing: make check builds it when" \
		     "clang and libclang-rt-dev are installed)"
		continue
	fi
	line=$(TMPDIR=$out "$TOP/fuzz/run.sh" -j 1 -s "$secs" -o "$out" "$bin")
	rc=$?
	echo "# $line"
	if [ "$rc" -ne 0 ]; then
		# The sanitizer's report, for whoever reads the test log.
		grep -E -A12 '^==[0-9]+==ERROR|^fuzz_[a-z]+: ' "$out/$t.log" |
			head -40 | diag
		# Kept beside the build, where the log says, for the bug report.
		mkdir -p "$BUILD/fuzz/artifacts/$t" &&
			cp "$out/artifacts/$t"/* "$BUILD/fuzz/artifacts/$t/" \
				2>/dev/null
	fi
	ok "$rc" "$t: no crash in ${secs}s from the seeds"
	execs=$(sed -nE 's/^[a-z_]+: ([0-9]+) executions.*/\1/p' <<<"$line")
	[ "${execs:-0}" -gt 0 ]
	ok $? "$t: it ran (${execs:-0} executions)"
done
done_testing
