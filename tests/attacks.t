#!/usr/bin/env bash
# A system-wide daemon (root's, socket 0666) attacked by other local
# users, one finding of the security review at a time: each attack is
# made as a real other uid, and where its harm would be a stall, another
# user's calls are timed while it runs (they must answer in < 50 ms).
. "$(dirname "$0")/lib.sh"
need_other_users
ushm_env_setup
export USHM_AUTOSTART=0
A=$BUILD/tests/progs/attack
T=$BUILD/tests/progs/shmtool
D=$USHM_TEST_DIR
ATTACKER=61041
OTHER=61042

start_daemon() {
	timeout 20 "$USHMD" --daemonize --socket "$USHM_SOCKET" \
		--state "$USHM_STATE_DIR" "$@" || return 1
	wait_for 10 test -S "$USHM_SOCKET"
}
stop_daemon() {
	local pid
	pid=$(ushm_daemon_pid)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid"
	wait_for 10 pid_gone "$pid"
}
fds_of() { ls "/proc/$1/fd" | wc -l; }
# latency_ok: another user's 20 calls all answered within 50 ms.
latency_of_other() {
	as_uid $OTHER timeout 30 "$A" "$USHM_SOCKET" latency 20 |
		sed -n 's/^max_ms //p'
}

start_daemon
ok $? "root's daemon starts"
dpid=$(ushm_daemon_pid)

# ---- 2: a descriptor whose last close blocks (a TCP socket lingering
# on a peer that never reads) attached to a request ----
mkfifo "$D/linger"
fds_before=$(fds_of "$dpid")
# (setpriv itself in the background, not in a subshell: $! is the
# attacker, and killing it ends the attack)
setpriv --reuid=$ATTACKER --regid=$ATTACKER --clear-groups -- \
	timeout 60 "$A" "$USHM_SOCKET" linger 5 >"$D/linger" &
lpid=$!
read -r sent <"$D/linger"
ms=$(latency_of_other)
ok $([ -n "$ms" ] && [ "$ms" -lt 50 ]; echo $?) \
	"another user is served in < 50 ms while a lingering descriptor is sent (${ms:-no answer} ms; sender: $sent)"
if [ "$sent" = EPERM ]; then
	ok 0 "the kernel refused the descriptor (SO_PASSRIGHTS)"
else
	ok 0 "# SKIP the kernel has no SO_PASSRIGHTS: closed by a thread"
fi
kill "$lpid"
wait "$lpid" 2>/dev/null
# Its connection closed, the daemon is back to the descriptors it had.
wait_for 5 eval '[ "$(fds_of "$dpid")" = "$fds_before" ]'
is "$(fds_of "$dpid")" "$fds_before" \
	"the daemon holds no descriptor it did not ask for"

stop_daemon
done_testing
