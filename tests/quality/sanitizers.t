#!/usr/bin/env bash
# The whole suite again on the AddressSanitizer + UBSan build (build-san/,
# made by make check through CHECK_BINS: tests/quality/quality.mk): the
# daemon, the library, the shim, the tools and the test programs all
# instrumented.  It must pass, and no process may leave a sanitizer
# report: reports go to files (log_path), not to stderr, because most
# of them would come from daemons started in the background, whose
# stderr no test reads.  LeakSanitizer runs at every exit, the daemon's
# included (the tests stop it with SIGTERM, and it exits cleanly).
#
# ushm-run of an ASan build preloads the ASan runtime ahead of the shim
# (src/tools/ushm-run.c), so uninstrumented programs (the C++ seeds,
# perl, python, the conformance programs) run on it too.
#
# Not run here (each with its reason):
#  - tests/quality/*.t: this test and its siblings.
#  - tests/postgres.t: pg_ctl, uninstrumented, with the ASan runtime
#    preloaded never gets its server up (it hangs before the log file is
#    even created); PostgreSQL exercises the same shim code as the
#    instrumented programs do.
#  - tests/fuzz.t: the fuzz targets are ASan+UBSan builds of their own
#    (by clang, in the plain build directory); build-san has none.
# tests/cli/install.t skips itself on a sanitized build (nothing to
# install).  tests/quality/san-exec.sh sets the options of the tests
# that need other ones.
. "$(dirname "$0")/../lib.sh"
time_bound 1500 # the whole test (lib.sh: the watchdog)
SAN=$TOP/build-san
QDIR=$TOP/tests/quality

plan 3
ldd "$SAN/bin/ushmd" 2>/dev/null | grep -q libasan
ok $? "build-san is an ASan build (make check builds it: make san-bins)"
if [ "$TAP_FAILED" != 0 ]; then
	ok 1 "the suite passes under ASan and UBSan"
	ok 1 "no sanitizer report"
	exit 1
fi

mkdir -p "$SAN/tmp"
logs=$(mktemp -d "$SAN/tmp/san-reports.XXXXXX") || exit 1
out=$logs.prove
at_exit 'rm -rf "$logs" "$out"'
# Tests run programs as other users (quotas, security, postgres): they
# must be able to write their reports.
chmod 1777 "$logs"

# halt_on_error: the first error ends the process (UBSan's checks are
# built not to recover: -fno-sanitize-recover=undefined).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
# The stress tests' own knobs: the same scenarios, fewer rounds (ASan
# makes every process several times slower).  stress-clients.t's 4000
# victims took 190 s of this pass's 200 and a third of make check's CPU
# time; 1000 still kill clients in every call the driver makes.
export USHM_STRESS_KILLS=${USHM_STRESS_KILLS:-30}
export USHM_STRESS_VICTIMS=${USHM_STRESS_VICTIMS:-1000}

tests=("$SAN"/tests/unit/*)
for t in "$TOP"/tests/*.t "$TOP"/tests/*/*.t; do
	case ${t#"$TOP"/} in
	tests/quality/* | tests/postgres.t | tests/fuzz.t) continue ;;
	esac
	tests+=("$t")
done

(cd "$TOP" && TOP=$TOP BUILD=$SAN TMPDIR=$SAN/tmp \
	prove -j2 --timer --exec "$QDIR/san-exec.sh" "${tests[@]}") \
	>"$out" 2>&1
rc=$?
ok $rc "the suite passes under ASan and UBSan (${#tests[@]} tests)"
# On failure the inner run's output is kept, and its failures go to
# stderr, which prove shows without -v (make check's log in CI): with the
# diagnostics the failed tests wrote (conformance.t's diff of a program
# and both runs' stderr come to some 250 lines), since build-san/tmp is
# gone with CI's machine.
if [ $rc != 0 ]; then
	cp "$out" "$SAN/tmp/sanitizers-last.log"
	{
		grep -E '^(not ok|#)|Dubious|Failed|^Test Summary' "$out" |
			head -n 500
		echo "# the whole run: $SAN/tmp/sanitizers-last.log"
	} | sed 's/^#*/# /' >&2
fi
# Each test's result and time, for the record.
grep -E '^\[[0-9:]+\]' "$out" | sed 's/^/# /'

reports=$(find "$logs" -type f | sort)
[ -z "$reports" ]
ok $? "no sanitizer report"
for r in $reports; do
	echo "# --- $(basename "$r")"
	head -n 60 "$r" | sed 's/^/# /'
done >&2
[ "$TAP_FAILED" = 0 ]
