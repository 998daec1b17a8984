#!/usr/bin/env bash
# SHMMAX, SHMALL and SHMMNI are the daemon's configuration (flags or a
# config file) and give the kernel's errnos: EINVAL, ENOSPC, ENOSPC.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
export USHM_AUTOSTART=0
page=$(getconf PAGESIZE)

cat >"$USHM_TEST_DIR/ushmd.conf" <<CONF
# limits for this test
shmmax = $((4 * page))
shmall = 6
shmmni = 3
CONF
ushmd_ready "$USHMD" --socket "$USHM_SOCKET" --state "$USHM_STATE_DIR" \
	--config "$USHM_TEST_DIR/ushmd.conf" --shmmni 4
ok $? "ushmd starts with a config file and flags"

create() { ushm_run "$T" create private "$1" 0600 2>&1 >/dev/null; }
info=$(ushm_run "$T" info)
is "$info" "$((4 * page)) 1 4 4 6" "IPC_INFO reports them (the flag beats the file)"
is "$(create $((4 * page + 1)))" "shmtool: shmget: EINVAL" "larger than SHMMAX: EINVAL"
is "$(create $((4 * page)))" "" "SHMMAX itself is fine"
is "$(create $((2 * page + 1)))" "shmtool: shmget: ENOSPC" "beyond SHMALL pages: ENOSPC"
is "$(create $((2 * page)))" "" "up to SHMALL"
is "$(create 1)" "shmtool: shmget: ENOSPC" "SHMALL full: ENOSPC"
"$USHM" rm -a >/dev/null
for i in 1 2 3 4; do create 1; done
is "$(create 1)" "shmtool: shmget: ENOSPC" "SHMMNI segments: ENOSPC"
"$USHMD" --socket "$USHM_SOCKET" --state "$USHM_STATE_DIR" --shmmni x \
	2>"$USHM_TEST_DIR/err"
is "$? $(cat "$USHM_TEST_DIR/err")" "2 ushmd: --shmmni: invalid value 'x'" \
	"a bad value is refused with a clear message"
done_testing
