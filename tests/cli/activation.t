#!/usr/bin/env bash
# activation.t - ushmd started the way systemd's ushmd.socket starts it:
# it serves the listening socket it inherits (LISTEN_FDS/LISTEN_PID)
# instead of binding one, answers the clients that connected before it
# ran, leaves the socket in place when it stops (the next connection
# would start it again), ignores variables meant for another process,
# and refuses a descriptor that is no listening socket.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

ACT=$TOP/tests/cli/activate.pl
[ -x "$USHM" ] && [ -x "$USHMD" ] || skip_all "build ushm and ushmd first"
ushm_env_setup
export USHM_AUTOSTART=0		# only the activated daemon may answer
WORK=$USHM_TEST_DIR/work
mkdir "$WORK" || exit 1
DAEMONS=()
cleanup() {
	local pid
	for pid in "${DAEMONS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ushm_env_cleanup
}
at_exit cleanup

# activate: a daemon on $USHM_SOCKET, as socket activation starts it;
# its pid in $DPID.  Its output goes to a file, not to our stdout.
activate() {
	rm -f "$WORK/ready"
	READY=$WORK/ready perl "$ACT" "$USHM_SOCKET" "$USHMD" --foreground \
		--state "$USHM_STATE_DIR" "$@" >>"$WORK/log" 2>&1 &
	DPID=$!
	DAEMONS+=("$DPID")
	wait_for 5 test -e "$WORK/ready" ||
		{ echo "activate.pl did not get ready" >&2; exit 1; }
}
field() { sed -n "s/^$1: //p" "$WORK/out"; }

activate
# The socket listens before the daemon runs: this request waits in its
# backlog until the daemon serves it.
"$USHM" daemon status >"$WORK/out" 2>"$WORK/err"
is $? 0 "status through the inherited socket"
is "$(field pid)" "$DPID" "served by the activated daemon"
is "$(field socket_path)" "$USHM_SOCKET" "it reports the socket's path"
id=$("$USHM" mk -M 4096 | awk '{ print $NF }')
[ -n "$id" ]
is $? 0 "a segment made through it"
echo activated | "$USHM" write "$id"
"$USHM" daemon stop 2>"$WORK/err"
is $? 0 "daemon stop"
wait_for 5 pid_gone "$DPID"
is $? 0 "the daemon exits"
[ -S "$USHM_SOCKET" ]
is $? 0 "the socket stays for the next activation"

activate
"$USHM" cat "$id" | head -c 9 >"$WORK/out"
is "$(cat "$WORK/out")" activated "reactivated: the segment is back"
"$USHM" daemon stop 2>/dev/null
wait_for 5 pid_gone "$DPID"

# LISTEN_PID of another process: the variables are not ours; the daemon
# binds its own socket (here, another path) and serves there.
WRONG_PID=1 activate --socket "$USHM_TEST_DIR/own.sock"
USHM_SOCKET=$USHM_TEST_DIR/own.sock wait_for 5 \
	"$USHM" daemon status >"$WORK/out" 2>/dev/null
is "$(field socket_path)" "$USHM_TEST_DIR/own.sock" \
	"LISTEN_PID not ours: binds its own socket"
USHM_SOCKET=$USHM_TEST_DIR/own.sock "$USHM" daemon stop 2>/dev/null
wait_for 5 pid_gone "$DPID"

# The same with systemd's own tool, where there is one: it listens,
# and execs the daemon on the first connection.
if command -v systemd-socket-activate >/dev/null; then
	: >"$WORK/sa.log"
	systemd-socket-activate --seqpacket -l "$USHM_SOCKET" "$USHMD" \
		--foreground --state "$USHM_STATE_DIR" >"$WORK/sa.log" 2>&1 &
	DPID=$!
	DAEMONS+=("$DPID")
	wait_for 5 grep -q '^Listening on' "$WORK/sa.log"
	"$USHM" daemon status >"$WORK/out" 2>"$WORK/err"
	is "$(field pid)" "$DPID" "systemd-socket-activate: ushmd serves"
	"$USHM" cat "$id" | head -c 9 >"$WORK/out"
	is "$(cat "$WORK/out")" activated \
		"systemd-socket-activate: the segment is there"
	"$USHM" daemon stop 2>/dev/null
	wait_for 5 pid_gone "$DPID"
else
	ok 0 "# SKIP no systemd-socket-activate"
fi

# Descriptor 3 is no socket: refuse to run rather than serve nothing.
: >"$WORK/log"
FDS=file activate
wait "$DPID"
is $? 1 "descriptor 3 not a socket: exit status 1"
is "$(grep -c 'LISTEN_FDS' "$WORK/log")" 1 "and one line saying why"

done_testing
