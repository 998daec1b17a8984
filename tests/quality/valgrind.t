#!/usr/bin/env bash
# The daemon under valgrind (memcheck): a workload of real clients, the
# daemon stopped with SIGTERM, restarted from the state it left and
# stopped again; each run must end with no memory error and no leak
# (definite or indirect; "still reachable" is not a leak).  Clients run
# under valgrind too: the ushm command (libushm.a) and a plain SysV
# program on the preload shim.  valgrind missing fails: it does not
# skip (Debian: valgrind).
#
# valgrind 3.19 (Debian 12) does not know pidfd_open (syscall 434): it
# warns "unhandled amd64-linux syscall: 434" and the call fails with
# ENOSYS.  The daemon then watches a connection's process only through
# its socket (it ends at hang-up, not at the exit), and after a restart
# it cannot adopt a live holder (its attachment is not counted).  The
# warning is not suppressed: it says the daemon ran a degraded path.
# The workload checks nothing that needs pidfd, and the adoption after
# the restart is a TODO test that passes on a valgrind that has it.
. "$(dirname "$0")/../lib.sh"
time_bound 600 # the whole test (lib.sh: the watchdog)
T=$BUILD/tests/progs/shmtool
HOSTILE=$BUILD/tests/progs/hostile

if ! command -v valgrind >/dev/null; then
	ok 1 "valgrind is installed (Debian package valgrind)"
	done_testing
	exit 1
fi
# An ASan build (make SANITIZE=1 check) cannot run under valgrind; the
# plain make check runs this test on the plain build.
ldd "$USHMD" 2>/dev/null | grep -q libasan &&
	skip_all "$USHMD is an ASan build; valgrind runs on the plain build"

ushm_env_setup
# Clients never start a daemon of their own: the one under valgrind is
# the only one.
export USHM_AUTOSTART=0
VG=(valgrind --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --num-callers=30)
run() { ushm_run "$T" "$@"; }

# Starts ushmd under valgrind in the foreground; its valgrind report in
# $USHM_TEST_DIR/vg-daemon.N, its own log in ushmd.N.err.
DAEMON_RUN=0
start_daemon() {
	DAEMON_RUN=$((DAEMON_RUN + 1))
	"${VG[@]}" --log-file="$USHM_TEST_DIR/vg-daemon.$DAEMON_RUN" \
		"$USHMD" --foreground --socket "$USHM_SOCKET" \
		--state "$USHM_STATE_DIR" \
		2>"$USHM_TEST_DIR/ushmd.$DAEMON_RUN.err" &
	VGPID=$!
	wait_for 60 "$USHM" ls >/dev/null 2>&1
	ok $? "daemon run $DAEMON_RUN: ushmd answers under valgrind"
}

# Stops it with SIGTERM: its exit status must be 0 (99: valgrind found
# errors or leaks); the report goes into the TAP output when it is not.
stop_daemon() {
	local rc report=$USHM_TEST_DIR/vg-daemon.$DAEMON_RUN
	kill -TERM "$VGPID"
	if wait_for 60 pid_gone "$VGPID"; then
		wait "$VGPID"
		rc=$?
	else
		kill -KILL "$VGPID"
		wait "$VGPID"
		rc="timeout"
	fi
	is "$rc" 0 "daemon run $DAEMON_RUN: exits 0 on SIGTERM, no error, no leak"
	grep -q "ERROR SUMMARY: 0 errors" "$report"
	ok $? "daemon run $DAEMON_RUN: valgrind's error summary is 0"
	if [ "$rc" != 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$report"
	then
		sed 's/^/# /' "$report" | head -n 200
		sed 's/^/# ushmd: /' "$USHM_TEST_DIR/ushmd.$DAEMON_RUN.err" |
			tail -n 20
	fi
	# The one warning we know of (see the top); any other is shown.
	local unhandled
	unhandled=$(grep -c "unhandled .* syscall: 434" "$report")
	[ "$unhandled" = 0 ] ||
		echo "# valgrind has no pidfd_open: $unhandled call(s) failed" \
			"with ENOSYS (the daemon's fallback ran)"
	grep "WARNING" "$report" | grep -v "syscall: 434" | sed 's/^/# /'
}

# Runs a client under valgrind (no error, no definite/indirect leak).
VG_CLIENT=0
vg_client() {
	local name=$1 rc
	shift
	VG_CLIENT=$((VG_CLIENT + 1))
	"$@" >"$USHM_TEST_DIR/client.$VG_CLIENT.out" 2>&1
	rc=$?
	ok $rc "client under valgrind: $name"
	[ $rc = 0 ] || sed 's/^/# /' "$USHM_TEST_DIR/client.$VG_CLIENT.out" |
		head -n 100
}

start_daemon

# 1. Create, attach, write, read, IPC_STAT, on private and keyed segments.
id=$(run create private 65536 0600)
ok $? "create a private segment"
run fill "$id" 5 && run check "$id" 5
ok $? "attach, write, detach; attach, check"
key_id=$(run create 0x5157a1 4096 0644)
ok $? "create a keyed segment"
is "$(run id 0x5157a1)" "$key_id" "look it up by key"
stat=$(run stat "$id")
ok $? "IPC_STAT"
run info >/dev/null
ok $? "IPC_INFO"
echo "hello" | "$USHM" write "$key_id" && "$USHM" cat --hex "$key_id" \
	>/dev/null && "$USHM" ls >/dev/null && "$USHM" ls -t -p -c -u -l \
	>/dev/null && "$USHM" ls --json >/dev/null && "$USHM" stat "$id" \
	>/dev/null && "$USHM" daemon status >/dev/null
ok $? "the ushm command: write, cat, ls (views, json), stat, status"

# 2. Fork, threads, many processes, a program closing its descriptors.
out=$(run forkkill 20)
ok $? "attach, fork, kill the child (20 times)"
echo "# forkkill: $out (its counts need pidfd, not checked here)"
run threads 4 20 >/dev/null
ok $? "threads attach and detach one segment"
run churn 4 10 0x5157a2 >/dev/null
ok $? "four processes create, attach, detach and remove at once"
run closefds "$id" >/dev/null
ok $? "a client that closes every descriptor"

# 3. Hostile clients: every malformed message.
"$HOSTILE" "$USHM_SOCKET" >/dev/null
ok $? "the hostile client's messages are refused"
is "$(run check "$id" 5; echo $?)" 0 "and the daemon still serves"

# 4. Clients under valgrind: the ushm command, a SysV program on the shim.
vg_client "ushm ls, stat" "${VG[@]}" "$USHM" stat "$id"
vg_client "shmtool on the preload shim" env \
	LD_PRELOAD="$BUILD/lib/libushm-preload.so" "${VG[@]}" "$T" check \
	"$id" 5

# 5. A holder that outlives the daemon; RMID of the keyed segment.
mkfifo "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
run hold "$id" 5 <"$USHM_TEST_DIR/in" >"$USHM_TEST_DIR/out" &
HOLDER=$!
exec 3>"$USHM_TEST_DIR/in" 4<"$USHM_TEST_DIR/out"
read -r -u 4 line
is "$line" "held" "a holder attaches"
run rmid "$key_id"
ok $? "IPC_RMID"
stop_daemon

# 6. Restart from the state directory it left.
start_daemon
"$USHM" ls | grep -qw "$id"
ok $? "the segment survives the restart"
is "$(run check "$id" 5; echo $?)" 0 "with its bytes"
# TODO: needs pidfd_open, which valgrind 3.19 does not emulate (above).
n=$(run nattch "$id")
TAP_N=$((TAP_N + 1))
if [ "$n" = 1 ]; then
	echo "ok $TAP_N - the live holder is adopted (nattch $n) # TODO pidfd"
else
	echo "not ok $TAP_N - the live holder is adopted (nattch $n) # TODO" \
		"valgrind 3.19 has no pidfd_open"
fi
exec 3>&-
read -r -u 4 line
ok $([[ $line == *"bad 0" ]]; echo $?) "the holder kept working ($line)"
wait "$HOLDER"
exec 4<&-
run rmid "$id"
ok $? "IPC_RMID of the last segment"
"$USHM" rm -a >/dev/null 2>&1
stop_daemon
done_testing
