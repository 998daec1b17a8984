#!/usr/bin/env bash
# bench.t - make bench writes into build/ only: its recipe sends the
# results to $(BUILD)/bench/results, and bench/run.sh, run as the recipe
# runs it (with a stand-in benchmark program and gnuplot that write what
# the real ones write), leaves the committed bench/results/ untouched;
# make bench-publish is what copies them there.  (The benchmark itself
# is not run: it takes half a minute and is not part of make check.)

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/ushm-bench-t.XXXXXX") || exit 1
at_exit 'rm -rf "$W"'
FAKE=$W/build

# commands TARGET: what make would run for it, continuation lines joined.
commands() {
	make -s -n -C "$TOP" BUILD="$FAKE" "$1" 2>/dev/null |
		sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta'
}
recipe=$(commands bench | grep 'bench/run.sh')
echo "$recipe" | grep -q "BENCH_OUT=$FAKE/bench/results "
is $? 0 "make bench: results go to \$(BUILD)/bench/results"
echo "$recipe" | grep -q "$TOP/bench/results\|BENCH_OUT=bench/results"
is $? 1 "make bench: nothing goes to the committed bench/results"
commands bench-publish | grep -q "^cp .*$FAKE/bench/results/bench.txt.* bench/results/"
is $? 0 "make bench-publish copies the results into bench/results"

# Stand-ins: the benchmark writes its data files into its argument,
# gnuplot its PNG, ushm (daemon stop) does nothing.
mkdir -p "$FAKE/bench" "$FAKE/bin" "$W/path"
cat >"$FAKE/bench/bench" <<'FAKEBENCH'
#!/bin/sh
echo "ratio stand-in 1"
echo "1 2" >"$1/rtt.dat" && echo "1 2" >"$1/tput.dat"
FAKEBENCH
printf '#!/bin/sh\nexit 0\n' >"$FAKE/bin/ushm"
cat >"$W/path/gnuplot" <<'FAKEPLOT'
#!/bin/sh
dir=$(echo "$2" | sed "s/^dir='\(.*\)'\$/\1/")
echo png >"$dir/bench.png"
FAKEPLOT
chmod +x "$FAKE/bench/bench" "$FAKE/bin/ushm" "$W/path/gnuplot"

snapshot() { (cd "$TOP/bench/results" && ls -la --time-style=+%s.%N &&
	md5sum -- *); }
before=$(snapshot)
# The recipe's command, run as make would run it.
out=$(cd "$TOP" && PATH=$W/path:$PATH timeout 60 sh -c "$recipe" 2>&1)
is $? 0 "bench/run.sh as make bench runs it: exit status 0"
[ -f "$FAKE/bench/results/bench.txt" ] &&
	[ -f "$FAKE/bench/results/tput.dat" ] &&
	[ -f "$FAKE/bench/results/bench.png" ]
is $? 0 "its output, data and plot are in \$(BUILD)/bench/results"
is "$(snapshot)" "$before" "the committed bench/results/ is untouched"
echo "$out" | sed 's/^/# /'

done_testing
