#!/usr/bin/env bash
# The daemon dies (SIGKILL) and the next call starts a new one: every
# segment, every byte and every shmid_ds field is back, processes that
# still map a segment are counted at once (even if they make no call),
# they keep working, and a removed segment lives until its last holder
# detaches or dies.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
run() { ushm_run "$T" "$@"; }

# Kills the daemon with SIGKILL and waits until it is gone.
kill_daemon() {
	local pid
	pid=$(ushm_live_daemon_pid)
	kill -KILL "$pid"
	wait_for 10 pid_gone "$pid"
}

# Starts "shmtool hold ID SEED" with its stdin and stdout on fifos:
# fd 3 writes its stdin, fd 4 reads its stdout; waits until it holds.
start_holder() {
	rm -f "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
	mkfifo "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
	"${USHM_RUN_CMD[@]}" "$T" hold "$1" "$2" <"$USHM_TEST_DIR/in" \
		>"$USHM_TEST_DIR/out" &
	HOLDER=$!
	exec 3>"$USHM_TEST_DIR/in" 4<"$USHM_TEST_DIR/out"
	read -r -u 4 line
	is "$line" "held" "holder attached"
}

id=$(run create 0x5eed 65536 0640)
ok $? "segment created"
run fill "$id" 7
ok $? "pattern written"

# 1. A holder that makes no call while the daemon restarts.
start_holder "$id" 7
before=$(run stat "$id")
old=$(ushm_daemon_pid)
kill_daemon
after=$(run stat "$id")
new=$(ushm_daemon_pid)
ok $([ -n "$new" ] && [ "$new" != "$old" ]; echo $?) \
	"a new daemon was started ($old -> $new)"
is "$after" "$before" "every shmid_ds field survives, nattch counts the holder"
run check "$id" 7
ok $? "every byte survives"
exec 3>&-
read -r -u 4 line
is "$line" "nattch 1 bad 0" "the holder keeps working and is counted once"
wait "$HOLDER"
ok $? "the holder exits cleanly"
exec 4<&-
is "$(run nattch "$id")" "0" "its detach is counted"
lpid=$(run stat "$id" | sed 's/.* lpid=\([0-9]*\).*/\1/')
is "$lpid" "$HOLDER" "lpid is the holder's"
orphans=$("$USHM" daemon status | sed -n 's/^orphans: //p')
is "$orphans" "0" "no orphan record is left"

# 2. Removed while attached, daemon killed: the segment lives until the
#    holder detaches, then goes, files and all.
start_holder "$id" 7
run rmid "$id"
ok $? "IPC_RMID while attached"
kill_daemon
mode=$(run stat "$id" | sed 's/.* mode=\([0-7]*\).*/\1/')
is "$mode" "1640" "after the restart the segment is still there, SHM_DEST"
exec 3>&-
read -r -u 4 line
is "$line" "nattch 1 bad 0" "its holder still reads its bytes"
wait "$HOLDER"
exec 4<&-
run stat "$id" 2>/dev/null
ok $([ $? -ne 0 ]; echo $?) "gone after the last detach"
# (A removal clears seg-N.meta, zeroes, and leaves it for the next
# segment at that index: state_seg_files does not count it.)
is "$(state_seg_files "$USHM_STATE_DIR")" "0" \
	"its files are gone, its record cleared"

# 3. A holder that dies while no daemon runs: the new daemon does not count
#    it, and destroys a removed segment it held.
id=$(run create 0x5eee 4096 0600)
run fill "$id" 3
id2=$(run create private 8192 0600)
run fill "$id2" 4
start_holder "$id" 3
"${USHM_RUN_CMD[@]}" "$T" hold "$id2" 4 </dev/null >/dev/null &
other=$!
run rmid "$id"
kill_daemon
{ kill -KILL "$HOLDER" && wait "$HOLDER"; } 2>/dev/null
exec 3>&- 4<&-
wait "$other"
run stat "$id" 2>/dev/null
ok $([ $? -ne 0 ]; echo $?) "a removed segment whose holder died meanwhile is gone"
is "$(run nattch "$id2")" "0" "a dead holder is not counted"
run check "$id2" 4
ok $? "other segments are intact"

# 4. Stopped cleanly instead: the same recovery.
"$USHM" daemon stop >/dev/null
run check "$id2" 4
ok $? "after 'ushm daemon stop' the next call finds the segment"

# 5. No id is made twice: segments made and removed just before a kill
# (the ids record is written only when the sequence moves) and those the
# next daemon makes have different ids.
old_ids=()
for i in 1 2 3; do
	old_ids+=("$(run create private 4096 0600)")
	run rmid "${old_ids[-1]}"
done
kill_daemon
again=0
for i in 1 2 3; do
	new=$(run create private 4096 0600)
	for o in "${old_ids[@]}"; do [ "$new" = "$o" ] && again=$((again + 1)); done
	run rmid "$new"
done
is "$again" 0 "after a SIGKILL, no new segment has the id of one made before" \
	"(${old_ids[*]})"

done_testing
