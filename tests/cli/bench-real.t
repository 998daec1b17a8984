#!/usr/bin/env bash
# bench-real.t - make bench's real-program section (bench/real.sh):
#  - on a machine without AFL++, PHP or stress-ng (a PATH without them,
#    installing turned off) every program is skipped with a reason that
#    names its Debian package, no ratio is printed, and it succeeds;
#  - with PHP's shmop, a short run prints the kernel's and ushm's rates
#    and their ratio: each ushm run was served by ushm-run's daemon
#    ($USHM_RUN; the script checks its served_* counters and that the
#    kernel allocated no segment in the run's IPC namespace);
#  - with the shim replaced by an empty library (USHM_PRELOAD), the same
#    run is reported invalid and gets no ratio: the check catches a run
#    the kernel served.
# The benchmark proper (three programs, three runs each) is make bench's.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
time_bound 120

REAL=$TOP/bench/real.sh
[ -x "$USHM_RUN" ] || skip_all "$USHM_RUN not built (make)"
[ "$(id -u)" = 0 ] || skip_all "needs root (unshare -i: an IPC namespace per run)"
unshare -i true 2>/dev/null || skip_all "unshare -i does not work here"

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-real-t.XXXXXX") || exit 1
at_exit 'rm -rf "$W"'

# real ARGS...: the section, short, its output (stdout) in $W/out.
real() {
	waiting_for "bench/real.sh $*"
	env BUILD="$BUILD" BENCH_OUT="$W/results" BENCH_REAL_INSTALL=0 \
		REAL_ROUNDS=1 REAL_SECONDS=1 "$@" \
		timeout 90 "$REAL" >"$W/out" 2>"$W/err"
}

# A PATH with every command of the machine but AFL++'s, PHP's and
# stress-ng's.
# (One ln per directory: a name already linked from an earlier one is
# refused, which is what PATH's order would do.)
mkdir "$W/path"
for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
	files=("$d"/*)
	[ -e "${files[0]}" ] && ln -s "${files[@]}" "$W/path/" 2>/dev/null
done
rm -f "$W/path"/afl-* "$W/path"/php* "$W/path/stress-ng"
real PATH="$W/path"
is $? 0 "without the programs: exit status 0"
for p in "afl_forkserver_execs_vs_kernel: .*(Debian package afl++)" \
	"php_shmop_ops_vs_kernel: .*(Debian package php-cli)" \
	"stress_ng_shm_sysv_ops_vs_kernel: .*(Debian package stress-ng)"; do
	grep -q "^skipped $p" "$W/out"
	is $? 0 "skipped ${p%%:*}, with the package to install"
done
grep -q '^ratio ' "$W/out"
is $? 1 "without the programs: no ratio"
sed 's/^/# /' "$W/out"

if ! command -v php >/dev/null ||
	! php -r 'exit(function_exists("shmop_open") ? 0 : 1);' 2>/dev/null; then
	echo "# skipped the runs: no PHP with shmop (Debian package php-cli)"
	done_testing
	exit
fi
# The sanitizer pass: ASan's runtime refuses PHP's RTLD_DEEPBIND dlopen
# of shmop under the preloaded shim (see tests/dropin/deepbind.t).
if ldd "$USHM_RUN" 2>/dev/null | grep -q libasan; then
	echo "# skipped the runs: ASan refuses RTLD_DEEPBIND (an ASan build)"
	done_testing
	exit
fi

real REAL_ONLY=php
is $? 0 "PHP shmop, one run per side: exit status 0"
for side in kernel ushm; do
	grep -Eq "^  PHP shmop open\+read\+close \($side\) +[0-9.]+ +[0-9.]+ +[0-9.]+  ops/s$" \
		"$W/out"
	is $? 0 "a row for the $side's rate"
done
ratio=$(sed -n 's/^ratio php_shmop_ops_vs_kernel //p' "$W/out")
awk -v r="$ratio" 'BEGIN { exit !(r + 0 > 0) }'
is $? 0 "a ratio, positive: ushm served the ushm run ($ratio)"
grep -q 'HIGHER is better' "$W/out"
is $? 0 "the output says which direction is better"
grep -q '^invalid\|^failed' "$W/out"
is $? 1 "no run invalid or failed"
sed 's/^/# /' "$W/out"

# The shim replaced by an empty library: PHP's calls go to the kernel.
echo '/* an empty stand-in for libushm-preload.so */' >"$W/empty.c"
"${CC:-cc}" -shared -fPIC -o "$W/empty.so" "$W/empty.c"
real REAL_ONLY=php USHM_PRELOAD="$W/empty.so"
is $? 0 "without the shim: exit status 0"
grep -q '^invalid php_shmop_ops_vs_kernel: run 1 (ushm): the kernel allocated' "$W/out"
is $? 0 "without the shim: the run is reported invalid"
grep -q '^ratio ' "$W/out"
is $? 1 "without the shim: no ratio"
sed 's/^/# /' "$W/out"

done_testing
