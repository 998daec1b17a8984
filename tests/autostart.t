#!/usr/bin/env bash
# The library starts a daemon when none answers; processes racing to start
# one get one; USHM_AUTOSTART=0 turns it off with ECONNREFUSED.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool

out=$(USHM_AUTOSTART=0 ushm_run "$T" create private 1 0600 2>&1)
is "$out" "shmtool: shmget: ECONNREFUSED" "USHM_AUTOSTART=0: no daemon, ECONNREFUSED"
ok $([ ! -e "$USHM_STATE_DIR/ushmd.pid" ]; echo $?) "and none was started"

# Eight processes start at once on a fresh socket.
pids=()
for i in $(seq 8); do
	ushm_run "$T" create private 4096 0600 >"$USHM_TEST_DIR/out.$i" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" "0" "all eight racing clients succeed"
# (its keeper, forked from it, has its command line: named ushmd-keeper)
daemons=0
for p in $(pgrep -f -- "--socket $USHM_SOCKET "); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = ushmd ] && daemons=$((daemons + 1))
done
is "$daemons" "1" "exactly one daemon runs"
is "$(sort -u "$USHM_TEST_DIR"/out.* | wc -l)" "8" "eight distinct segments"
is "$("$USHM" ls | awk '$2 ~ /^[0-9]+$/' | wc -l)" "8" "all in the one daemon"
SERVED_BASE=([pid]=$(ushm_daemon_pid)) # counts from this daemon's start
served_exactly shmget 8 "it served the eight shmgets"
done_testing
