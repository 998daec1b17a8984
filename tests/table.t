#!/usr/bin/env bash
# The published segment table (README: "The control path"): a program
# looks existing keys up and reads IPC_STAT without asking the daemon,
# and the answers stay right when the daemon behind the table dies and
# another one takes over, and when a holder dies.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
K1=0x7ab1e1 K2=0x7ab1e2

id1=$(ushm_run "$T" create $K1 4096 0644)
ok $? "a segment with key $K1"

# The asking program, with its stdin on fd 3 and its stdout on fd 4.
mkfifo "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
"${USHM_RUN_CMD[@]}" "$BUILD/tests/progs/lookup" \
	<"$USHM_TEST_DIR/in" >"$USHM_TEST_DIR/out" &
ASKER=$!
exec 3>"$USHM_TEST_DIR/in" 4<"$USHM_TEST_DIR/out"
at_exit 'exec 3>&-; wait $ASKER 2>/dev/null'
ask() {
	waiting_for "the lookup program's answer to: $*"
	echo "$*" >&3
	read -r -u 4 ANSWER
}

ask get $K1
is "$ANSWER" "$id1" "the key is found"
served_mark
ask gets $K1 500
is "$ANSWER" "500 same $id1" "500 lookups give the same id"
served_exactly shmget 0 "none of them was a request: the table answered"
ask stat "$id1"
is "$ANSWER" "nattch 0" "IPC_STAT answers"
served_stat_at_least 1 "by ushm"

# A holder killed: the moment it is reaped, IPC_STAT no longer counts it.
mkfifo "$USHM_TEST_DIR/hin" "$USHM_TEST_DIR/hout"
"${USHM_RUN_CMD[@]}" "$T" hold "$id1" 0 \
	<"$USHM_TEST_DIR/hin" >"$USHM_TEST_DIR/hout" &
HOLDER=$!
exec 5>"$USHM_TEST_DIR/hin" 6<"$USHM_TEST_DIR/hout"
waiting_for "the holder to attach"
read -r -u 6 line
is "$line" "held" "a holder attached"
ask stat "$id1"
is "$ANSWER" "nattch 1" "IPC_STAT counts it"
kill -KILL "$HOLDER"
wait "$HOLDER" 2>/dev/null
exec 5>&- 6<&-
ask stat "$id1"
is "$ANSWER" "nattch 0" "killed and reaped: no longer counted"

# The daemon dies; the next call starts another one, which recovers the
# segments.  The table the program mapped is the dead daemon's: its
# answers must come from the new one.
pid=$(ushm_live_daemon_pid)
kill -KILL "$pid"
wait_for 10 pid_gone "$pid"
id2=$(ushm_run "$T" create $K2 4096 0644)
ok $? "after a restart, a segment with key $K2"
ushm_run "$T" rmid "$id1"
ok $? "and the first one removed"
ask get $K1
is "$ANSWER" "ENOENT" "the program no longer finds the removed key"
ask get $K2
is "$ANSWER" "$id2" "and finds the new one"
ask stat "$id1"
is "$ANSWER" "EINVAL" "IPC_STAT of the removed id: EINVAL"
ushm_run "$T" rmid "$id2"
done_testing
