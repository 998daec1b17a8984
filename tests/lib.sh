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
NOKERNEL=$BUILD/tests/progs/nokernel
export USHM_DAEMON=$USHMD

# A process group of its own for every test (a new session: prove runs
# tests in its own group), so that the watchdog can stop everything the
# test started, and nothing else.  setsid -w passes the exit status on.
# USHM_TEST_GROUP tells the C tests this shell runs (tests/tap.h) that
# they are in a test's group already.
if [ "$(cut -d' ' -f5 </proc/$$/stat 2>/dev/null)" != $$ ] &&
	[ "${USHM_TEST_SETSID:-}" != $$ ] && command -v setsid >/dev/null; then
	export USHM_TEST_SETSID=$$ # once: setsid -w forks when it must
	exec setsid -w "$0" "$@"
fi
export USHM_TEST_GROUP=$$

# at_exit COMMAND: runs COMMAND (a string, evaluated then) when this
# shell exits, and only this shell; commands given earlier run too, the
# latest first.  bash runs a shell's EXIT trap in its background children
# too when one is killed between its fork and its exec ("sleep 60 & kill
# $!"): a plain trap would clean up under the feet of the shell that is
# still running.  A subshell starts a list of its own: the commands of
# the shell it came from are that shell's to run, not the subshell's
# (conformance.t's scratch directory must not go with a run's daemon).
AT_EXIT_OWNER=
AT_EXIT_CMDS=
# A test told to stop (SIGTERM from the watchdog, mutation.t or timeout;
# SIGINT from a user) exits through its EXIT trap as a plain exit does:
# bash's own death-by-signal path was seen to cut that trap short, the
# test's daemon left running.
trap 'exit 143' TERM
trap 'exit 130' INT
at_exit() {
	if [ "$AT_EXIT_OWNER" != "$BASHPID" ]; then
		AT_EXIT_OWNER=$BASHPID
		AT_EXIT_CMDS=
	fi
	AT_EXIT_CMDS="$1${AT_EXIT_CMDS:+; $AT_EXIT_CMDS}"
	# TERM and INT are ignored while the commands run: a test that ends
	# as its group is told to stop (the watchdog, mutation.t) would
	# otherwise die half-way through its cleanup, its daemon left
	# running.  The commands are bounded (ushmd_stop_dir waits 5 s).
	trap "[ \"\$BASHPID\" = $BASHPID ] && { trap '' TERM INT; $AT_EXIT_CMDS; }" EXIT
}

# ---- the watchdog: every test has a time bound ----
#
# time_bound SECONDS: the whole test must end within SECONDS (times
# USHM_TEST_TIME_SCALE, which a slow build such as the sanitizer pass
# sets); lib.sh arms USHM_TEST_TIMEOUT (300 s) by itself, a test that
# needs longer says so.  On expiry the watchdog prints a TAP failure
# naming what the test was waiting for (waiting_for), stops the test's
# process group with SIGTERM (its EXIT trap stops its daemons and
# removes its files), then, a few seconds later, with SIGKILL.
# It is a bash subshell blocked in "read -t" on a fifo: no sleep process
# to leave behind, and a line on the fifo disarms it.
#
# waiting_for TEXT: what the test waits for from now on (wait_for and
# ushm_run set it themselves).
USHM_WATCH_DIR=
USHM_WATCH_FD=
USHM_WATCHDOG=
waiting_for() {
	[ -n "$USHM_WATCH_DIR" ] && printf '%s\n' "$*" >"$USHM_WATCH_DIR/what"
	return 0
}
watchdog_disarm() {
	if [ -n "$USHM_WATCHDOG" ]; then
		# Through the test's own descriptor of the fifo: never
		# blocks, even if the watchdog is gone already (killed with
		# the test's group), and the line waits there for a watchdog
		# that has not begun to read yet.
		echo stop >&"$USHM_WATCH_FD" 2>/dev/null
		# A watchdog that fired waits for this shell to end.
		[ -e "$USHM_WATCH_DIR/fired" ] ||
			wait "$USHM_WATCHDOG" 2>/dev/null
		USHM_WATCHDOG=
	fi
}
watchdog_fire() {
	local limit=$1 main=$2 what i
	# Whoever reads the test's output (prove) may be gone, killed by
	# its own time bound: the report then raises SIGPIPE, which must
	# not stop the watchdog before it has killed the test.
	trap '' TERM PIPE
	what=$(cat "$USHM_WATCH_DIR/what" 2>/dev/null)
	echo "not ok - time bound of ${limit} s exceeded while waiting for:" \
		"${what:-the test to end} (killing the test's processes)" \
		2>/dev/null
	: >"$USHM_WATCH_DIR/fired"
	kill -TERM -- "-$main" 2>/dev/null
	# Bounded: the test's EXIT trap stops its daemons.
	for ((i = 0; i < 100; i++)); do
		pid_gone "$main" && break
		# (The test's EXIT trap removes the fifo as it ends.)
		[ -p "$USHM_WATCH_DIR/tick" ] || break
		read -r -t 0.1 _ 2>/dev/null <>"$USHM_WATCH_DIR/tick"
	done
	kill -KILL -- "-$main" 2>/dev/null
}
time_bound() {
	local limit scale=${USHM_TEST_TIME_SCALE:-1} main=$$
	limit=$(($1 * scale))
	watchdog_disarm
	if [ -z "$USHM_WATCH_DIR" ]; then
		USHM_WATCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ushm-watch.XXXXXX") ||
			return 1
		mkfifo "$USHM_WATCH_DIR/fifo" "$USHM_WATCH_DIR/tick" ||
			return 1
		exec {USHM_WATCH_FD}<>"$USHM_WATCH_DIR/fifo" || return 1
		at_exit 'watchdog_disarm; rm -rf "$USHM_WATCH_DIR"'
	fi
	(
		exec </dev/null
		read -r -t "$limit" -u "$USHM_WATCH_FD" _ && exit 0
		watchdog_fire "$limit" "$main"
	) &
	USHM_WATCHDOG=$!
}

# A private daemon: USHM_SOCKET and USHM_STATE_DIR point into a fresh
# directory on a tmpfs; the library autostarts ushmd there on first use.
ushm_env_setup() {
	# USHM_TEST_BASE: where a harness that may stop the test wants its
	# files (tests/quality/mutation.t), else /dev/shm.
	local base=${USHM_TEST_BASE:-/dev/shm}
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	# Named after the test, so that anything left behind names its
	# owner.
	USHM_TEST_DIR=$(mktemp -d "$base/ushm-test.$(basename "$0" .t).XXXXXX") ||
		exit 1
	chmod 0755 "$USHM_TEST_DIR"
	export USHM_SOCKET=$USHM_TEST_DIR/sock
	export USHM_STATE_DIR=$USHM_TEST_DIR/state
	at_exit ushm_env_cleanup
}

# The daemon's pid, from the pid file it keeps in its state directory.
ushm_daemon_pid() {
	cat "$USHM_STATE_DIR/ushmd.pid" 2>/dev/null
}

# How many files of segments the state directory DIR holds: seg-N.*,
# except a cleared record (a seg-N.meta of zeroes, which a removal leaves
# for the next segment at index N).
state_seg_files() {
	local f n=0
	for f in "$1"/seg-*; do
		[ -e "$f" ] || continue
		case $f in
		*.meta) [ -s "$f" ] && [ -z "$(tr -d '\0' <"$f")" ] && continue ;;
		esac
		n=$((n + 1))
	done
	echo "$n"
}

# Has process PID ended?  A zombie has: where pid 1 does not reap
# (containers), a dead daemon stays a zombie and kill -0 still succeeds.
pid_gone() {
	local state
	state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" \
		2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# The pid in the pid file, if that process is still our daemon: a
# daemon killed with SIGKILL leaves its pid file behind, and on a machine
# with pid_max 32768 a suite that forks tens of thousands of processes
# soon gives its number to another process (which a kill by the stale
# pid would then hit: a test's subshell, a scratch directory's owner).
ushm_live_daemon_pid() {
	local pid
	pid=$(ushm_daemon_pid)
	[ -n "$pid" ] && ! pid_gone "$pid" &&
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qxF -e "${USHM_SOCKET:-/nonexistent}" \
			-e "${USHM_STATE_DIR:-/nonexistent}" &&
		echo "$pid"
}

ushm_env_cleanup() {
	ushmd_stop_dir "$USHM_STATE_DIR"
	ushm_keeper_stop "$USHM_STATE_DIR"
	[ -n "${USHM_TEST_DIR:-}" ] && rm -rf "$USHM_TEST_DIR"
}

# ushm_keeper_stop STATE: ends the keeper of state directory STATE (the
# process that holds the segments while no daemon runs; it would end by
# itself once STATE is removed), by the pid in STATE/keeper.pid, only if
# that process is a keeper.
ushm_keeper_stop() {
	local pid
	[ -n "$1" ] || return 0
	pid=$(cat "$1/keeper.pid" 2>/dev/null)
	[ -n "$pid" ] && ! pid_gone "$pid" &&
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ushmd-keeper ] &&
		kill -TERM "$pid" 2>/dev/null && wait_for 5 pid_gone "$pid"
	return 0
}

# ushmd_stop_dir STATE: stops the daemon of state directory STATE, if one
# runs (SIGTERM, SIGKILL after 5 s), by the pid in its pid file, only if
# that process names STATE among its arguments (see ushm_live_daemon_pid).
ushmd_stop_dir() {
	local pid
	[ -n "$1" ] || return 0
	pid=$(USHM_STATE_DIR=$1 USHM_SOCKET=/nonexistent ushm_live_daemon_pid)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait_for 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

# ushmd_ready COMMAND...: runs COMMAND (ushmd and its arguments, perhaps
# behind as_uid or prlimit) with --daemonize --ready-fd 3, and returns
# once the daemon accepts clients (its ready byte), or fails at once when
# it exits without being ready.
ushmd_ready() {
	local byte
	waiting_for "ushmd to accept clients: $*"
	byte=$("$@" --daemonize --ready-fd 3 3>&1 >/dev/null | head -c1)
	[ -n "$byte" ]
}

# await_ready FIFO [SECONDS]: waits (60 s at most) for a byte that a
# process writes into FIFO (made by mkfifo) when it is ready.
await_ready() {
	local fd rc
	waiting_for "a byte in $1"
	exec {fd}<>"$1" || return 1
	read -r -N 1 -t "${2:-60}" -u "$fd" _
	rc=$?
	exec {fd}<&-
	return $rc
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
		echo "#   failed: $TAP_N - $*" >&2
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}
is() {
	local got=$1 want=$2; shift 2
	if [ "$got" = "$want" ]; then
		ok 0 "$@"
	else
		ok 1 "$@"
		# On stderr, like tap.h's: prove shows it without -v, so a
		# failure in CI can be read from its log.
		printf '#   got:  %s\n#   want: %s\n' "$got" "$want" >&2
	fi
}
# diag: its input as TAP comments on stderr, where prove shows them (a
# failure's details: the CI log must say what went wrong).
diag() { sed 's/^/# /' >&2; }
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
# SECONDS; only for conditions no event announces (a process that is not
# our child ending, a file another process writes).  It looks every
# 20 ms, and says what it waits for to the watchdog.
wait_for() {
	local limit=$1 i
	shift
	waiting_for "$*"
	for ((i = 0; i < limit * 50; i++)); do
		"$@" && return 0
		# A fifo nobody writes: the pause costs no process.
		read -r -t 0.02 _ <>"$USHM_WATCH_DIR/tick" 2>/dev/null ||
			sleep 0.02
	done
	return 1
}

# ---- programs under ushm, and the proof that ushm served them ----

# ushm_run PROGRAM [ARGUMENT]...: PROGRAM under ushm-run, with the
# kernel's shmget/shmat/shmdt/shmctl out of its reach (nokernel, a
# seccomp filter): a call that escapes the shim fails with ENOSYS
# instead of being served by the kernel.  Every test runs its programs
# through this (or ushm_run_as), never "$USHM_RUN" directly;
# tests/quality/mutation.t finds the tests that use ushm by it.
# USHM_TEST_NOKERNEL=0 leaves the kernel reachable: mutation.t sets it
# so that each test's own positive control (served_*) must catch an
# absent shim.
# USHM_RUN_CMD is the same command as an array, for what runs it in a
# command of its own (timeout, env), and for a program started in the
# background whose pid matters ($! of "ushm_run ... &" is a subshell's;
# nokernel and ushm-run exec, so $! of "${USHM_RUN_CMD[@]} ... &" is the
# program's).
if [ "${USHM_TEST_NOKERNEL:-1}" = 0 ]; then
	USHM_RUN_CMD=("$USHM_RUN")
else
	USHM_RUN_CMD=("$NOKERNEL" "$USHM_RUN")
fi
ushm_run() {
	waiting_for "ushm-run $*"
	"${USHM_RUN_CMD[@]}" "$@"
}

# ushm_run_as UID PROGRAM [ARGUMENT]...: the same as user UID (as_uid).
ushm_run_as() {
	local u=$1
	shift
	waiting_for "ushm-run $* (as uid $u)"
	as_uid "$u" "${USHM_RUN_CMD[@]}" "$@"
}

# The daemon counts the requests it serves, by kind (ushm daemon status:
# "served_KIND: N", KIND one of shmget shmat shmdt shmctl registered ...).
# served_mark remembers the counts of the daemon $USHM_SOCKET names now
# (none running: all 0); served_delta KIND prints how much KIND grew
# since (a daemon that replaced the marked one counts from 0).  A test
# whose daemon belongs to another user names in SERVED_VIA a command that
# runs its argument as that user (a user's daemon serves only its user).
declare -A SERVED_BASE=()
served_read() {
	local line k
	declare -gA SERVED=()
	while IFS= read -r line; do
		case $line in
		pid:*) SERVED[pid]=${line#pid: } ;;
		served_*:*)
			k=${line%%:*}
			SERVED[${k#served_}]=${line#*: }
			;;
		esac
	done < <(${SERVED_VIA:-} "$USHM" daemon status 2>/dev/null)
}
served_mark() {
	local k
	served_read
	SERVED_BASE=()
	for k in "${!SERVED[@]}"; do
		SERVED_BASE[$k]=${SERVED[$k]}
	done
}
served_delta() {
	local base=${SERVED_BASE[$1]:-0}
	served_read
	[ "${SERVED[pid]:-}" = "${SERVED_BASE[pid]:-}" ] || base=0
	echo $((${SERVED[$1]:-0} - base))
}
# served_at_least KIND N NAME: a test that KIND grew by N or more since
# served_mark (other requests may come meanwhile: a CLI call, a retry).
served_at_least() {
	local kind=$1 want=$2 got
	shift 2
	got=$(served_delta "$kind")
	if [ "$got" -ge "$want" ]; then
		ok 0 "$* (ushm served $got $kind)"
	else
		ok 1 "$* (ushm served $got $kind)"
		printf '#   served %s: got %s, want at least %s\n' \
			"$kind" "$got" "$want"
	fi
}
# served_stat_at_least N NAME: N IPC_STATs (or SHM_STATs) were answered
# by ushm: the daemon served them (shmctl), or the program took the
# daemon's published table (table), from which the library answers
# them itself when nothing the daemon has pending could change them.
served_stat_at_least() {
	local want=$1 ctl table
	shift
	ctl=$(served_delta shmctl)
	table=$(served_delta table)
	if [ "$ctl" -ge "$want" ] || [ "$table" -ge 1 ]; then
		ok 0 "$* (ushm served $ctl shmctl; table taken $table times)"
	else
		ok 1 "$* (ushm served $ctl shmctl; table taken $table times)"
		printf '#   want %s shmctl, or the table taken\n' "$want"
	fi
}
# served_exactly KIND N NAME: KIND grew by exactly N since served_mark.
served_exactly() {
	local kind=$1 want=$2
	shift 2
	is "$(served_delta "$kind")" "$want" "$* (served $kind)"
}

# reexec COMMAND...: runs COMMAND in place of this test (a test that
# re-runs itself in namespaces of its own).  The shell that COMMAND
# starts arms a watchdog of its own, and exec runs no EXIT trap: this
# shell's watchdog is stopped and its files removed first, or it would
# outlive the test and keep prove waiting for its time bound.
reexec() {
	watchdog_disarm
	[ -n "$USHM_WATCH_DIR" ] && rm -rf "$USHM_WATCH_DIR"
	exec "$@"
}

# Armed last, when every function the watchdog may call is defined (it
# is a subshell: it knows only what was defined before it started).
time_bound "${USHM_TEST_TIMEOUT:-300}"
