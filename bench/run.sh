#!/usr/bin/env bash
# bench/run.sh - runs build/bench/bench on a private daemon, then the
# real programs (bench/real.sh: AFL++, PHP shmop, stress-ng, where they
# are installed), keeps their output and data in $BENCH_OUT (default
# build/bench/results/: a run never touches the committed bench/results/,
# which make bench-publish updates), and plots them (PNG) with gnuplot,
# which it installs from Debian's archive when missing.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
OUT=${BENCH_OUT:-$BUILD/bench/results}
mkdir -p "$OUT"

if ! command -v gnuplot >/dev/null; then
	echo "bench: installing gnuplot (Debian package gnuplot-nox)" >&2
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	if command -v apt-get >/dev/null; then
		$sudo apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			gnuplot-nox >/dev/null ||
			echo "bench: could not install gnuplot; no plot" >&2
	fi
fi

# A private daemon, as the tests use: nothing of the user's is touched.
dir=$(mktemp -d "${TMPDIR:-/tmp}/ushm-bench.XXXXXX")
export USHM_SOCKET=$dir/sock USHM_STATE_DIR=$dir/state
export USHM_DAEMON=$BUILD/bin/ushmd
cleanup() {
	"$BUILD/bin/ushm" daemon stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

{
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs:" \
	     "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
	     "kernel $(uname -r)"
	"$BUILD/bench/bench" "$OUT"
	BUILD=$BUILD BENCH_OUT=$OUT "$TOP/bench/real.sh"
} | tee "$OUT/bench.txt"

if command -v gnuplot >/dev/null; then
	gnuplot -e "dir='$OUT'" "$TOP/bench/plot.gp"
	echo "plot: $OUT/bench.png"
fi
