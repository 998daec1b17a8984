#!/usr/bin/env bash
# mutation.t - every test that runs programs on ushm fails when ushm is
# absent.  The shim is replaced by an empty shared library (USHM_PRELOAD,
# which ushm-run honours), so every SysV call of those programs goes to
# the kernel, and the kernel is left reachable (USHM_TEST_NOKERNEL=0: no
# nokernel filter), so that what must catch the absence is each test's
# own positive control (the daemon's served_* counters, ushm ls, the
# daemon's state), not a call failing with ENOSYS.
#
# The tests are found by scanning tests/ for ushm_run, ushm_run_as,
# USHM_RUN_CMD or USHM_RUN (lib.sh's ways to run a program on ushm): a
# new test is covered without editing a list.  Each runs in an IPC
# namespace of its own (unshare --ipc), so that what its programs now
# create in the kernel's table goes with the namespace, whatever the
# test's cleanup does.  A test fails at its first "not ok": it is then
# stopped (SIGTERM to its process group, which runs its cleanup, SIGKILL
# a few seconds later), so that a long test costs little.
. "$(dirname "$0")/../lib.sh"
time_bound 900
[ "$(id -u)" = 0 ] || skip_all "needs root (unshare --ipc)"
unshare --ipc true 2>/dev/null || skip_all "unshare --ipc does not work here"
command -v "${CC:-cc}" >/dev/null || skip_all "no C compiler for the stand-in"
# Per test: how long it may run before it counts as hung.
MUT_TIMEOUT=$((${MUT_TIMEOUT:-180} * ${USHM_TEST_TIME_SCALE:-1}))

work=$(mktemp -d "${TMPDIR:-/tmp}/mutation.XXXXXX") || exit 1
at_exit 'rm -rf "$work"'
echo '/* an empty stand-in for libushm-preload.so */' >"$work/empty.c"
"${CC:-cc}" -shared -fPIC -o "$work/empty.so" "$work/empty.c"
rc=$?

tests=()
self=tests/quality/mutation.t
while IFS= read -r t; do
	[ "$t" = "$self" ] && continue
	# MUT_ONLY=REGEX: only the tests whose path matches (by hand).
	[[ -n "${MUT_ONLY:-}" && ! "$t" =~ $MUT_ONLY ]] && continue
	tests+=("$t")
done < <(cd "$TOP" && grep -lE 'ushm_run|USHM_RUN' tests/*.t tests/*/*.t |
	sort)

plan $((${#tests[@]} + 2))
is "$rc" 0 "the empty stand-in builds"
ok $([ ${#tests[@]} -ge 10 ] || [ -n "${MUT_ONLY:-}" ]; echo $?) \
	"tests that use ushm-run found (${#tests[@]})"

# run_mutated TEST OUT: runs TEST on the stand-in, its output in OUT;
# prints "failed", "passed", "skipped" or "hung".
run_mutated() {
	local t=$1 out=$2 pid line verdict=passed i base
	rm -f "$out.fifo"
	mkfifo "$out.fifo" || return 1
	# Its scratch files in a directory of ours: a test stopped before
	# its cleanup leaves nothing behind (removed with $work).
	mkdir -p "$out.tmp" || return 1
	# Its daemon's directory too (lib.sh puts it in /dev/shm): one of
	# ours there, short enough for a socket's path.
	base=$(mktemp -d /dev/shm/ushm-mut.XXXXXX 2>/dev/null) ||
		base=$(mktemp -d /tmp/ushm-mut.XXXXXX) || return 1
	TMPDIR=$out.tmp USHM_TEST_BASE=$base USHM_PRELOAD=$work/empty.so \
		USHM_TEST_NOKERNEL=0 \
		setsid unshare --ipc "$TOP/$t" >"$out.fifo" 2>"$out.err" \
		</dev/null &
	pid=$!
	exec 7<"$out.fifo"
	while :; do
		IFS= read -r -t "$MUT_TIMEOUT" -u 7 line
		i=$?
		# End of output: the test ended; or the time is up.
		[ $i -gt 128 ] && { verdict=hung; break; }
		[ $i = 0 ] || break
		printf '%s\n' "$line" >>"$out"
		case $line in
		"not ok"*) verdict=failed; break ;;
		"1..0 # SKIP"* | "1..0 #SKIP"*) verdict=skipped ;;
		esac
	done
	if [ "$verdict" != passed ] && [ "$verdict" != skipped ]; then
		# Its EXIT trap stops its daemon and removes its files.
		kill -TERM -- "-$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			IFS= read -r -t 0.1 -u 7 line
			[ $? = 1 ] && break # end of output
		done
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	exec 7<&-
	wait "$pid"
	local status=$?
	# A daemon it started, in a session of its own, outlives a test
	# stopped before its cleanup: found by its socket's path.
	pkill -TERM -f -- "--socket $base/" 2>/dev/null
	rm -rf "$base"
	# A test that printed no "not ok" but exited non-zero failed too.
	[ "$verdict" = passed ] && [ "$status" != 0 ] && verdict=failed
	rm -f "$out.fifo"
	echo "$verdict"
}

for t in "${tests[@]}"; do
	out=$work/$(echo "$t" | tr / _)
	waiting_for "$t on the empty stand-in"
	start=$SECONDS
	verdict=$(run_mutated "$t" "$out")
	took=$((SECONDS - start))
	case $verdict in
	failed)
		ok 0 "$t fails without ushm ($(grep -m1 '^not ok' "$out" |
			cut -c1-100); ${took} s)"
		;;
	skipped)
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N - $t # SKIP $(sed -n 's/^1\.\.0 # *SKIP *//p' \
			"$out")"
		;;
	*)
		ok 1 "$t fails without ushm: it $verdict (${took} s)"
		echo "# $t $verdict with the shim replaced by an empty library;"
		echo "# every test that runs programs under ushm-run must prove"
		echo "# that ushm served them (lib.sh: served_mark, served_*)."
		tail -n 15 "$out" | sed 's/^/#   /'
		;;
	esac
done
[ "$TAP_FAILED" = 0 ]
