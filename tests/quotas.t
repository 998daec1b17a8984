#!/usr/bin/env bash
# Per-user quotas and connection limits: one user of a daemon that serves
# several cannot take its segments, its memory or its connections from
# the others.  Real users: the clients run under other uids (setpriv).
. "$(dirname "$0")/lib.sh"
need_other_users
ushm_env_setup
export USHM_AUTOSTART=0
T=$BUILD/tests/progs/shmtool
C=$BUILD/tests/progs/conns
D=$USHM_TEST_DIR
page=$(getconf PAGESIZE)

ushmd_ready "$USHMD" --socket "$USHM_SOCKET" --state "$USHM_STATE_DIR" \
	--quota-segments 3 --quota-bytes $((5 * page)) --max-conns-per-uid 4
ok $? "ushmd starts with quotas"

# create UID PAGES: shmget as UID; prints the error, if any.
create() {
	ushm_run_as "$1" "$T" create private $(($2 * page)) 0600 \
		2>&1 >/dev/null
}

for i in 1 2 3; do
	is "$(create 61001 1)" "" "user A: segment $i of 3"
done
is "$(create 61001 1)" "shmtool: shmget: ENOSPC" \
	"user A: a fourth segment is over quota_segments: ENOSPC"
is "$(create 61002 1)" "" "user B is not charged for A's segments"
n=0
for i in 1 2 3 4 5; do [ -z "$(create 0 1)" ] && n=$((n + 1)); done
is "$n" 5 "root is exempt"
grep -q "uid 61001: shmget refused: quota_segments reached" \
	"$USHM_STATE_DIR/ushmd.log"
ok $? "the refusal is logged, naming the user and the quota"

# A segment is charged to its creator until it is gone.
victim=$(as_uid 61001 "$USHM" ls | awk '$3 == "61001" { print $2; exit }')
ushm_run_as 61001 "$T" rmid "$victim"
ok $? "user A removes one of its segments"
is "$(create 61001 1)" "" "and may create one again"

is "$(create 61003 4)" "" "user C: 4 pages of 5"
is "$(create 61003 2)" "shmtool: shmget: ENOSPC" \
	"user C: 2 more pages are over quota_bytes: ENOSPC"
is "$(create 61003 1)" "" "user C: the fifth page fits"
grep -q "uid 61003: shmget refused: quota_bytes reached" \
	"$USHM_STATE_DIR/ushmd.log"
ok $? "the bytes refusal is logged"

# Connections: user D holds 6 at once, 4 are allowed.
mkfifo "$D/hold"
as_uid 61004 "$C" "$USHM_SOCKET" 6 <"$D/hold" >"$D/conns.out" &
holder=$!
exec 7>"$D/hold"
wait_for 20 grep -q served "$D/conns.out"
is "$(cat "$D/conns.out")" "served 4 refused-ENOMEM 2 other 0" \
	"user D: connections beyond max_conns_per_uid are refused with ENOMEM"
is "$(create 61004 1)" "shmtool: shmget: ENOMEM" \
	"user D's next process gets ENOMEM from shmget, not a hang"
is "$(create 61005 1)" "" "user E still connects"
is "$(create 0 1)" "" "root still connects"
exec 7>&-
wait "$holder"
# The daemon sees D's connections go at its own pace.
wait_for 10 test -z "$(create 61004 1)"
ok $? "user D connects again once its connections are closed"
grep -q "uid 61004: connection refused: max_conns_per_uid reached" \
	"$USHM_STATE_DIR/ushmd.log"
ok $? "the connection refusal is logged"
done_testing
