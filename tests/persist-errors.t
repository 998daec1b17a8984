#!/usr/bin/env bash
# A change whose record cannot be written is an error the caller sees
# (ENOSPC or ENOMEM), and the daemon keeps what the disk has: the next
# start shows the same.  The fault: the segment's record made immutable
# (chattr +i, which even root's daemon cannot write through).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (chattr +i)"
command -v chattr >/dev/null || skip_all "chattr (e2fsprogs) is needed"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
S=$USHM_STATE_DIR

run() { timeout 20 "$USHM_RUN" "$T" "$@" 2>&1; }
mode_of() { run stat "$1" | sed -n 's/.* mode=\([0-7]*\) .*/\1/p'; }

id=$(run create private 4096 0600)
ok $([[ $id =~ ^[0-9]+$ ]]; echo $?) "a segment ($id)"
meta=$S/seg-$((id % 32768)).meta
# Also the positive control: ushm, not the kernel, made it.
if [ -f "$meta" ]; then
	ok 0 "ushm keeps its record ($meta)"
else
	ok 1 "ushm keeps its record ($meta)"
	done_testing
	exit 1
fi
chattr +i "$meta" 2>/dev/null ||
	{ ok 0 "# SKIP chattr +i refused on $S's filesystem"; done_testing;
	  exit; }
at_exit "chattr -i '$meta' 2>/dev/null; ushm_env_cleanup"

err=$(run chmod "$id" 0640)
ok $([[ $err =~ IPC_SET:\ (ENOSPC|ENOMEM) ]]; echo $?) \
	"IPC_SET that cannot be written fails: $err"
is "$(mode_of "$id")" 600 "the mode stays as on disk"
err=$(run lock "$id")
ok $([[ $err =~ SHM_LOCK:\ (ENOSPC|ENOMEM) ]]; echo $?) \
	"SHM_LOCK that cannot be written fails: $err"
# An attach writes no record: its atime and lpid are stored into the
# segment's row of the published table, whose page exists from the
# segment's creation on, so it cannot fail (and survives the restart).
err=$(run fill "$id" 4)
is "$err" "" "shmat needs no record: it succeeds"
atime=$(run stat "$id" | sed -n 's/.* atime=\([0-9]*\).*/\1/p')
ok $([ "${atime:-0}" -gt 0 ]; echo $?) "its atime is set ($atime)"
err=$(run rmid "$id")
ok $([[ $err =~ IPC_RMID:\ (ENOSPC|ENOMEM) ]]; echo $?) \
	"IPC_RMID that cannot be written fails: $err"
is "$(run stat "$id" | sed -n 's/.* mode=\([0-7]*\) .*/\1/p')" 600 \
	"the segment is still there, unchanged"
grep -q "metadata not saved" "$S/ushmd.log" 2>/dev/null ||
	grep -q "the segment is kept" "$S/ushmd.log" 2>/dev/null
ok $? "the failures are logged"

# A restart (SIGKILL) shows what the disk has: what the calls answered.
pid=$(ushm_daemon_pid)
kill -KILL "$pid"
wait_for 10 pid_gone "$pid"
chattr -i "$meta"
is "$(mode_of "$id")" 600 "after a restart: the same mode"
is "$(run stat "$id" | sed -n 's/.* atime=\([0-9]*\).*/\1/p')" "$atime" \
	"and the attach's atime, from the table"
out=$(run chmod "$id" 0640; run rmid "$id")
is "$out" "" "with the record writable again, IPC_SET and IPC_RMID succeed"
done_testing
