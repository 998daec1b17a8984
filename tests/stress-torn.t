#!/usr/bin/env bash
# Torn metadata, end to end: with the daemon stopped, one of the two
# 128-byte slots of a segment's seg-N.meta is garbled (see store.c).  The
# next daemon, started by the next call, says so in its log, loads the
# other slot, and rewrites the garbled one; the segment's shmid_ds is the
# good slot's, field by field.  With both slots garbled the segment is not
# loaded at all (store.c drops it, files and all) rather than loaded with
# wrong data.  Records hold what shmget and shmctl set; attach and detach
# times and lpid live in the published table (STATE_DIR/table), which the
# garbling leaves alone, so they are compared with what the daemon showed
# before it stopped.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
run() { ushm_run "$T" "$@"; }
LOG=$USHM_STATE_DIR/ushmd.log

stop_daemon() {
	local pid
	pid=$(ushm_daemon_pid)
	"$USHM" daemon stop >/dev/null
	wait_for 10 pid_gone "$pid"
}

# u32 / s64 at byte offset OFF of FILE (little-endian, as written).
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
s64() { od -An -td8 -j "$2" -N8 "$1" | tr -d ' '; }

# Slot S (0 or 1) of FILE as the fields "shmtool stat" prints (struct
# ushm__seg_meta after the 16-byte record header: id, key, uid, gid,
# cuid, cgid, mode, flags, segsz, atime, dtime, ctime, cpid, lpid), for
# a segment with no holders and neither SHM_DEST nor SHM_LOCKED.
slot_stat() {
	local f=$1 b=$(($2 * 128 + 16))
	printf 'key=%d uid=%u gid=%u cuid=%u cgid=%u mode=%o segsz=%s ' \
		"$(od -An -td4 -j $((b + 4)) -N4 "$f" | tr -d ' ')" \
		"$(u32 "$f" $((b + 8)))" "$(u32 "$f" $((b + 12)))" \
		"$(u32 "$f" $((b + 16)))" "$(u32 "$f" $((b + 20)))" \
		"$(u32 "$f" $((b + 24)))" "$(s64 "$f" $((b + 32)))"
	printf 'atime=%s dtime=%s ctime=%s cpid=%s lpid=%s nattch=0\n' \
		"$(s64 "$f" $((b + 40)))" "$(s64 "$f" $((b + 48)))" \
		"$(s64 "$f" $((b + 56)))" "$(u32 "$f" $((b + 64)))" \
		"$(u32 "$f" $((b + 68)))"
}
gen() { u32 "$1" $(($2 * 128 + 8)); }
# shmtool stat without seq, which the record does not hold (the id does).
stat_of() { run stat "$1" | sed 's/ seq=[0-9]*//'; }
# What a record holds, and what the table holds, of such a line.
rec_of() { sed -E 's/ (atime|dtime|lpid)=[0-9-]+//g'; }
times_of() { grep -oE '(atime|dtime|lpid)=[0-9-]+' | tr '\n' ' '; }

garble() {
	yes 'torn write!' | head -c 128 |
		dd of="$1" bs=128 seek="$2" count=1 conv=notrunc status=none
}
damaged() { grep -c 'damaged record' "$LOG"; }

id=$(run create 0x70e1 8192 0640)
ok $? "segment created"
run fill "$id" 5 && run check "$id" 5
ok $? "pattern written and read back"
# A second record (IPC_SET writes one; attaches do not).
run chmod "$id" 0640
other=$(run create private 4096 0600)
run fill "$other" 6
idx=$((id % 32768))
META=$USHM_STATE_DIR/seg-$idx.meta
times=$(stat_of "$id" | times_of)
stop_daemon
ok $? "daemon stopped"
new=$(( $(gen "$META" 1) > $(gen "$META" 0) ))
old=$((1 - new))
echo "# slot $new is generation $(gen "$META" $new), slot $old" \
	"generation $(gen "$META" $old)"
want=$(slot_stat "$META" $new | rec_of)

# 1. The older slot garbled: the newest record, exactly.
garble "$META" $old
got=$(stat_of "$id")
is "$(rec_of <<<"$got")" "$want" "older slot garbled: shmid_ds is the newest record's"
is "$(times_of <<<"$got")" "$times" "and the times the table kept"
is "$(damaged)" 1 "the daemon logged the damaged record"
stop_daemon
is "$(gen "$META" $old)" "$(($(gen "$META" $new) + 1))" \
	"the garbled slot was rewritten (the next generation)"
# The repair is a valid record: the slot that was good is garbled now.
garble "$META" $new
is "$(stat_of "$id" | rec_of)" "$want" "then the other slot garbled: the" \
	"repaired record gives the same shmid_ds"
is "$(damaged)" 2 "logged again"
run check "$id" 5
ok $? "the segment's bytes are intact"

# 2. The newest slot garbled: the record before it, field by field (a
#    write torn by a crash leaves the previous state).  The last write is
#    an IPC_SET (mode 0600) made while a holder is attached; the holder
#    keeps the segment mapped while no daemon runs, and the new daemon
#    counts it.  Its attach (lpid) is in the table.
rm -f "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
mkfifo "$USHM_TEST_DIR/in" "$USHM_TEST_DIR/out"
"${USHM_RUN_CMD[@]}" "$T" hold "$id" 5 <"$USHM_TEST_DIR/in" >"$USHM_TEST_DIR/out" &
holder=$!
exec 3>"$USHM_TEST_DIR/in" 4<"$USHM_TEST_DIR/out"
read -r -u 4 line
is "$line" "held" "a holder attached"
run chmod "$id" 0600
times=$(stat_of "$id" | times_of)
stop_daemon
new=$(( $(gen "$META" 1) > $(gen "$META" 0) ))
old=$((1 - new))
want=$(slot_stat "$META" $old | sed 's/nattch=0/nattch=1/' | rec_of)
ok $([ "$(u32 "$META" $((new * 128 + 40)))" = 384 ] &&
	[ "$(u32 "$META" $((old * 128 + 40)))" = 416 ]; echo $?) \
	"the newest record is the IPC_SET's (mode 0600), the other one not"
garble "$META" $new
got=$(stat_of "$id")
is "$(rec_of <<<"$got")" "$want" \
	"newest slot garbled: shmid_ds is the previous record's, nattch" \
	"counts the holder"
is "$(times_of <<<"$got")" "$times" "and the holder's attach is in the table"
is "$(damaged)" 3 "logged"
exec 3>&-
read -r -u 4 line
is "$line" "nattch 1 bad 0" "the holder's bytes are intact, it is counted"
wait "$holder"
ok $? "the holder detached and exited"
exec 4<&-
stop_daemon

# 3. Both slots garbled: nothing to trust.  store.c logs it and serves
#    the segment no more (it must not come back with made-up fields), but
#    keeps its bytes aside for the administrator.  The other segment is
#    untouched.
garble "$META" 0
garble "$META" 1
run stat "$id" >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "both slots garbled: the segment is not loaded"
run id 0x70e1 >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "nor found by its key"
is "$(grep -c "seg-$idx.meta: no valid record" "$LOG")" 1 "the daemon logged it"
ok $([ ! -e "$META" ] && [ ! -e "$USHM_STATE_DIR/seg-$idx.data" ]; echo $?) \
	"its files are no longer the segment's"
ok $([ -s "$USHM_STATE_DIR/seg-$idx.data.damaged" ]; echo $?) \
	"its bytes are kept aside in seg-$idx.data.damaged"
run check "$other" 6
ok $? "the other segment is intact"
is "$(run nattch "$other")" 0 "and listed as before"
done_testing
