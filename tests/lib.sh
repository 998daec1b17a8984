# tests/lib.sh - shared by the shell tests: paths, a private daemon, TAP.
#
# Source it, then call ushm_env_setup: every test gets its own socket and
# state directory (so tests run in parallel and never touch a user's
# segments) and its daemon is stopped and its files removed on exit.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$TOP/build}
USHMD=$BUILD/bin/ushmd
USHM=$BUILD/bin/ushm
USHM_RUN=$BUILD/bin/ushm-run
export USHM_DAEMON=$USHMD

# at_exit COMMAND: runs COMMAND (a string, evaluated then) when this
# shell exits, and only this shell.  bash runs a shell's EXIT trap in its
# background children too when one is killed between its fork and its
# exec ("sleep 60 & kill $!"): a plain trap would clean up under the
# feet of the shell that is still running.
at_exit() {
	trap "[ \"\$BASHPID\" = $BASHPID ] && { $1; }" EXIT
}

# A private daemon: USHM_SOCKET and USHM_STATE_DIR point into a fresh
# directory on a tmpfs; the library autostarts ushmd there on first use.
ushm_env_setup() {
	local base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	USHM_TEST_DIR=$(mktemp -d "$base/ushm-test.XXXXXX") || exit 1
	chmod 0755 "$USHM_TEST_DIR"
	export USHM_SOCKET=$USHM_TEST_DIR/sock
	export USHM_STATE_DIR=$USHM_TEST_DIR/state
	at_exit ushm_env_cleanup
}

# The daemon's pid, from the pid file it keeps in its state directory.
ushm_daemon_pid() {
	cat "$USHM_STATE_DIR/ushmd.pid" 2>/dev/null
}

# Has process PID ended?  A zombie has: where pid 1 does not reap
# (containers), a dead daemon stays a zombie and kill -0 still succeeds.
pid_gone() {
	local state
	state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" \
		2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

ushm_env_cleanup() {
	local pid
	pid=$(ushm_daemon_pid)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait_for 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	fi
	[ -n "${USHM_TEST_DIR:-}" ] && rm -rf "$USHM_TEST_DIR"
}

# as_uid UID COMMAND...: COMMAND as user UID with group UID and no other
# group (root only; the uid need not exist in /etc/passwd).
as_uid() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

# need_other_users: skips the test unless it can run commands as other
# users (as_uid).
need_other_users() {
	[ "$(id -u)" = 0 ] || skip_all "needs root to act as other users"
	command -v setpriv >/dev/null ||
		skip_all "setpriv (util-linux) is needed"
}

# summarize_stderr FILE: what processes wrote to FILE (failed calls and
# checks, a line each), counted by kind with the numbers masked, as TAP
# comments: a failure understood from the TAP output alone.
summarize_stderr() {
	[ -s "$1" ] || return 0
	echo "# $(wc -l <"$1") line(s) on stderr; by kind:"
	sed 's/\[[0-9]*\]//; s/[0-9][0-9]*/N/g' "$1" |
		sort | uniq -c | sort -rn | head -15 | sed 's/^/#   /'
}

# Minimal TAP: plan N; ok COND NAME; is GOT WANT NAME; done_testing.
TAP_N=0
TAP_FAILED=0
plan() { echo "1..$1"; }
ok() {
	local cond=$1; shift
	TAP_N=$((TAP_N + 1))
	if [ "$cond" = 0 ]; then
		echo "ok $TAP_N - $*"
	else
		echo "not ok $TAP_N - $*"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}
is() {
	local got=$1 want=$2; shift 2
	if [ "$got" = "$want" ]; then
		ok 0 "$@"
	else
		ok 1 "$@"
		printf '#   got:  %s\n#   want: %s\n' "$got" "$want"
	fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" = 0 ]; }

# The kernel's SysV table is one for the whole machine.  Tests that put
# segments in it hold this lock shared; a test that fills it (SHMMNI)
# holds it exclusively, so that parallel tests never see it full.
# It lives in /dev/shm when it can: nothing cleans that tmpfs behind our
# back, and every run on the machine (not only this one) must see it.
KERNEL_LOCK_DIR=/dev/shm
[ -d "$KERNEL_LOCK_DIR" ] && [ -w "$KERNEL_LOCK_DIR" ] ||
	KERNEL_LOCK_DIR=${TMPDIR:-/tmp}
KERNEL_LOCK=${USHM_TEST_KERNEL_LOCK:-$KERNEL_LOCK_DIR/ushm-tests-kernel.lock}
kernel_lock_shared() { exec 9>>"$KERNEL_LOCK" && flock -s 9; }
kernel_lock_exclusive() { exec 9>>"$KERNEL_LOCK" && flock -x 9; }

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds, for at most
# SECONDS; for conditions no event announces (a segment appearing).
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 50; i++)); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}
