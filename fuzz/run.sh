#!/usr/bin/env bash
# fuzz/run.sh - runs one libFuzzer target and sums the run up in a line.
#
#   fuzz/run.sh [-j JOBS] [-s SECONDS] [-o DIR] FUZZER
#
# First each input kept under fuzz/regressions/NAME/ is run once (a bug
# found before must stay fixed); then FUZZER fuzzes for SECONDS from its
# seeds (fuzz/corpus/NAME/) and the corpus DIR/corpus/NAME/ it grows,
# with JOBS processes (libFuzzer's -fork mode) when JOBS > 1.  The log
# goes to DIR/NAME.log, crash inputs to DIR/artifacts/NAME/.  Prints
#
#   NAME: EXECS executions in SECS s (RATE/s), cov COV, ft FT, corpus N; crashes: K
#
# and exits 1 if the fuzzer found anything (crash, leak, timeout, out of
# memory) or failed.  DIR defaults to the fuzzer's directory.
set -u

jobs=1 secs=60 out=
while getopts j:s:o: opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	s) secs=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-j JOBS] [-s SECONDS] [-o DIR] FUZZER" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 [-j JOBS] [-s SECONDS] [-o DIR] FUZZER" >&2
	exit 2
fi
bin=$1
name=$(basename "$bin")
top=$(cd "$(dirname "$0")/.." && pwd)
seeds=$top/fuzz/corpus/$name
regress=$top/fuzz/regressions/$name
out=${out:-$(dirname "$bin")}
corpus=$out/corpus/$name
art=$out/artifacts/$name
log=$out/$name.log
mkdir -p "$corpus" "$art" || exit 1
# Artifacts newer than this are this run's.
stamp=$out/.$name.stamp
: >"$stamp" || exit 1

: >"$log"
shopt -s nullglob
kept=("$regress"/*)
if [ ${#kept[@]} -gt 0 ] &&
   ! "$bin" -runs=1 "${kept[@]}" >>"$log" 2>&1; then
	echo "$name: a kept regression input fails again (see $log)"
	exit 1
fi

args=(-max_total_time="$secs" -artifact_prefix="$art/" -timeout=10
      -rss_limit_mb=2048 -print_final_stats=1)
[ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
[ -f "$top/fuzz/$name.dict" ] && args+=(-dict="$top/fuzz/$name.dict")
start=$SECONDS
"$bin" "${args[@]}" "$corpus" "$seeds" >>"$log" 2>&1
rc=$?
elapsed=$((SECONDS - start))
[ "$elapsed" -gt 0 ] || elapsed=1

# Executions: the final stats of one process, or the last status line
# of -fork mode ("#N: cov: C ft: F corp: K exec/s ...").
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1)
if [ -n "$last" ]; then
	execs=${last%%:*}
	execs=${execs#\#}
	cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
	ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
	corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
else
	last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' \
		"$log" | tail -1)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
fi
execs=${execs:-0}
found=$(find "$art" -type f -newer "$stamp" | sort)
crashes=$(grep -c . <<<"$found")
[ -n "$found" ] || crashes=0

echo "$name: $execs executions in $elapsed s ($((execs / elapsed))/s)," \
     "cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}; crashes: $crashes"
if [ "$crashes" -gt 0 ]; then
	echo "$name: inputs kept:" $found
	grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+: )' "$log" | head -5
fi
if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
	echo "$name: failed (exit $rc; log: $log)"
	exit 1
fi
exit 0
