#!/usr/bin/env bash
# ushmd --daemonize returns once the daemon serves: a program started
# right after it finds the daemon listening (it used to get ECONNREFUSED,
# or start a second daemon of its own), and a daemon that cannot start
# (another one uses the state directory) makes it exit non-zero, saying
# why.
. "$(dirname "$0")/lib.sh"
time_bound 60
ushm_env_setup
# A state directory a client does not find from the socket's path.
export USHM_STATE_DIR=$USHM_TEST_DIR/elsewhere

for i in 1 2 3 4 5; do
	"$USHMD" --socket "$USHM_SOCKET" --state "$USHM_STATE_DIR" --daemonize
	rc=$?
	# At once (no exec between), without autostart: only the daemon
	# just started may answer; and knowing only its socket, as a
	# user's program would (with the state directory too, a client
	# waits for a daemon that holds its lock).  (The test's time bound
	# covers a wait.)
	out=$(unset USHM_STATE_DIR; USHM_AUTOSTART=0 exec "$USHM" daemon status 2>&1)
	ok $? "round $i: a client started at once is answered ($(head -1 <<<"$out"))"
	ok $rc "round $i: ushmd --daemonize exited 0"
	pid=$(ushm_daemon_pid)
	"$USHM" daemon stop >/dev/null
	ok $? "round $i: the daemon stops"
	wait_for 10 pid_gone "$pid"
done

"$USHMD" --socket "$USHM_SOCKET" --state "$USHM_STATE_DIR" --daemonize
ok $? "a daemon runs"
err=$("$USHMD" --socket "$USHM_SOCKET.2" --state "$USHM_STATE_DIR" --daemonize 2>&1)
rc=$?
[ "$rc" != 0 ]
ok $? "a second one on the same state directory exits non-zero ($rc)"
case $err in *"another ushmd is using it"*) ok 0 "and says why ($err)" ;;
*) ok 1 "and says why ($err)" ;; esac
"$USHM" daemon stop >/dev/null
ok $? "the first one stops"
done_testing
