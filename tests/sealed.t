#!/usr/bin/env bash
# A segment's size is fixed for its life (issue 10, item 4): its memory
# is a sealed memfd, so another user who attached it read-write can
# neither shrink it (which would SIGBUS root's attacher) nor grow it
# (past the quotas), nor add a seal of its own; the keeper holds the
# memory while no daemon runs, so a SIGKILLed or stopped daemon finds
# every segment again, bytes and metadata; the keeper's own death is
# survived while the daemon runs, and costs the segments (logged, a clean
# start) while none does.  Last, the restart's scan of /proc maps is
# bounded beside a process with 65,000 mappings.
. "$(dirname "$0")/lib.sh"
need_other_users
ushm_env_setup
export USHM_AUTOSTART=0
T=$BUILD/tests/progs/shmtool
S=$BUILD/tests/progs/sealtool
D=$USHM_TEST_DIR
ATTACKER=61051
LOG=$USHM_STATE_DIR/ushmd.log

# start_daemon: root's daemon (socket 0666); returns once it accepts
# clients.
start_daemon() {
	local ready
	ready=$(timeout 60 "$USHMD" --daemonize --socket "$USHM_SOCKET" \
		--state "$USHM_STATE_DIR" --ready-fd 3 "$@" \
		3>&1 >/dev/null 2>>"$D/daemon.err")
	[ "$ready" = 1 ]
}
kill_daemon() {
	local pid
	pid=$(ushm_daemon_pid)
	kill -KILL "$pid" && wait_for 10 pid_gone "$pid"
}
keeper_pid() { cat "$USHM_STATE_DIR/keeper.pid" 2>/dev/null; }
segments() { "$USHM" daemon status | sed -n 's/^segments: //p'; }
# stat_all IDS...: every shmid_ds field of each, one line each.
stat_all() {
	local id
	for id in "$@"; do "$USHM_RUN" "$T" stat "$id"; done
}
field() { sed -n "s/^$1: //p" <<<"$2"; }
# The size ushm stat shows.
stat_size() { "$USHM" stat "$1" | sed -n 's/^size: *\([0-9]*\).*/\1/p'; }

start_daemon
ok $? "root's daemon starts"

# ---- another user's writable descriptor cannot change the size ----
seg=$("$USHM_RUN" "$T" create private 65536 0666)
"$USHM_RUN" "$T" fill "$seg" 4
mkfifo "$D/hold"
"$USHM_RUN" "$T" hold "$seg" 4 <"$D/hold" >"$D/hold.out" 2>&1 &
hpid=$!
exec 7>"$D/hold"
wait_for 20 grep -q held "$D/hold.out"
ok $? "root's holder is attached"
out=$(as_uid $ATTACKER timeout 20 "$S" "$USHM_SOCKET" at "$seg")
echo "$out" | sed 's/^/# attacker: /'
is "$(field mmap_rw "$out")" ok "another user attached it read-write"
is "$(field shrink "$out")" EPERM "its ftruncate to half the size fails"
is "$(field grow "$out")" EPERM "its ftruncate to twice the size fails"
is "$(field fallocate "$out")" EPERM "its fallocate past the end fails"
is "$(field seal "$out")" EPERM \
	"it cannot add a seal (F_SEAL_FUTURE_WRITE would stop others' writes)"
is "$(field size "$out")" 65536 "the size is unchanged"
exec 7>&-
wait "$hpid"
ok $? "root's holder, attached throughout, read every byte (no SIGBUS)"
"$USHM_RUN" "$T" fill "$seg" 5 && "$USHM_RUN" "$T" check "$seg" 5
ok $? "a new attach writes and reads the whole segment"
is "$(stat_size "$seg")" 65536 "ushm stat shows the size unchanged"

# ---- a restart after that: the segment is kept, bytes and all ----
kill_daemon
start_daemon
is "$(stat_size "$seg")" 65536 \
	"after a SIGKILL and a restart, the segment is there at its size"
"$USHM_RUN" "$T" check "$seg" 5
ok $? "with its bytes"
ok $(! grep -q "dropped\|set back\|damaged" "$LOG"; echo $?) \
	"nothing was repaired or dropped"

# ---- SIGKILL: every segment comes back ----
ids=("$seg")
for spec in "4096 0600" "1000000 0640" "12288 0604"; do
	ids+=("$("$USHM_RUN" "$T" create private $spec)")
done
for i in 1 2 3; do "$USHM_RUN" "$T" fill "${ids[$i]}" $((10 + i)); done
"$USHM_RUN" "$T" lock "${ids[2]}"
before=$(stat_all "${ids[@]}")
kpid=$(keeper_pid)
kill_daemon
ok $(! pid_gone "$kpid"; echo $?) "the keeper ($kpid) outlives the daemon"
start_daemon
is "$(stat_all "${ids[@]}")" "$before" \
	"after a SIGKILL, every shmid_ds field of 4 segments is as it was"
bad=0
for i in 1 2 3; do
	"$USHM_RUN" "$T" check "${ids[$i]}" $((10 + i)) || bad=$((bad + 1))
done
"$USHM_RUN" "$T" check "$seg" 5 || bad=$((bad + 1))
is $bad 0 "and every byte"
before=$(stat_all "${ids[@]}") # (the checks attached them)
is "$(keeper_pid)" "$kpid" "the new daemon took them from the same keeper"

# ---- ushm daemon stop: the same ----
timeout 20 "$USHM" daemon stop >/dev/null
ok $? "ushm daemon stop"
start_daemon
is "$(stat_all "${ids[@]}")" "$before" "after a stop and a start, the same"

# ---- the keeper dies while the daemon runs: nothing is lost ----
kill -KILL "$kpid"
wait_for 10 grep -q "the keeper (pid $kpid) is gone" "$LOG"
ok $? "the daemon sees its keeper's end at once, and logs it"
wait_for 10 eval '[ -n "$(keeper_pid)" ] && [ "$(keeper_pid)" != "$kpid" ]'
kpid2=$(keeper_pid)
ok $([ "$kpid2" != "$kpid" ] && ! pid_gone "$kpid2"; echo $?) \
	"and starts another ($kpid2)"
kill_daemon
start_daemon
is "$(stat_all "${ids[@]}")" "$before" \
	"the new keeper had every segment: a SIGKILL later they are all back"
"$USHM_RUN" "$T" check "${ids[3]}" 13
ok $? "with their bytes"

# ---- the keeper dies while no daemon runs: as a reboot ----
timeout 20 "$USHM" daemon stop >/dev/null
kill -KILL "$kpid2"
wait_for 10 pid_gone "$kpid2"
start_daemon
ok $? "with no keeper left, the daemon still starts"
served_mark
is "$(segments)" 0 "the segments are gone, as after a reboot"
grep -q "4 segment(s) lost: their keeper ended while no daemon ran" "$LOG"
ok $? "and the daemon says so in its log"
ok $(! ls "$USHM_STATE_DIR" | grep -q '^seg-'; echo $?) \
	"their records are removed"
new=$("$USHM_RUN" "$T" create private 4096 0600)
"$USHM_RUN" "$T" fill "$new" 9 && "$USHM_RUN" "$T" check "$new" 9
ok $? "new segments work"
served_at_least shmget 1 "ushm served these calls"
"$USHM_RUN" "$T" rmid "$new"

# ---- the restart's scan is bounded ----
# 300 segments, one of them mapped by a holder, and another user's
# process with 65,000 mappings of one memfd page (the device of every
# segment's memory): a restart reads its maps once, each line one O(1)
# lookup.
for i in $(seq 1 300); do
	"$USHM" mk -M 4096 2>/dev/null | grep -o '[0-9]*$'
done >"$D/many"
is "$(segments)" 300 "300 segments"
first=$(head -n 1 "$D/many")
mkfifo "$D/hold2" "$D/maps"
"$USHM_RUN" "$T" fill "$first" 3
"$USHM_RUN" "$T" hold "$first" 3 <"$D/hold2" >"$D/hold2.out" 2>&1 &
hpid=$!
exec 7>"$D/hold2"
as_uid $ATTACKER timeout 120 "$S" maps 65000 - <"$D/maps" >"$D/maps.out" &
mpid=$!
exec 8>"$D/maps"
wait_for 60 grep -q mapped "$D/maps.out"
wait_for 20 grep -q held "$D/hold2.out"
ok $? "a holder and a process with 65,000 mappings are running"
kill_daemon
t0=$(date +%s%N)
start_daemon
ms=$((($(date +%s%N) - t0) / 1000000))
limit=$((3000 * ${USHM_TEST_TIME_SCALE:-1}))
ok $([ "$ms" -lt "$limit" ]; echo $?) \
	"the restart takes $ms ms (< $limit) beside them"
is "$("$USHM_RUN" "$T" nattch "$first")" 1 \
	"and it found the holder among them"
exec 7>&- 8>&-
wait "$hpid" "$mpid"
done_testing
