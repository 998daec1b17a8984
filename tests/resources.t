#!/usr/bin/env bash
# Resources run out: thousands of connections are served; a daemon out
# of descriptors turns new clients away with ENOMEM (not a hang-up, not
# a crash) and serves them again once descriptors return; a full tmpfs
# under the state directory gives ENOSPC at shmget, never SIGBUS later.
# Existing segments keep every byte throughout.
. "$(dirname "$0")/lib.sh"
T=$BUILD/tests/progs/shmtool
C=$BUILD/tests/progs/conns
page=$(getconf PAGESIZE)
export USHM_AUTOSTART=0

start_daemon() {
	ushmd_ready "$@" "$USHMD" --socket "$USHM_SOCKET" \
		--state "$USHM_STATE_DIR"
}
open_fds() { "$USHM" daemon status | sed -n 's/^open_fds: //p'; }
create() { ushm_run "$T" create private "$1" "${2:-0600}" 2>&1; }

# hold N: N connections held open by a conns process (fd 7 releases
# them); its summary line in $HOLD_OUT.
hold() {
	rm -f "$USHM_TEST_DIR/hold" "$USHM_TEST_DIR/hold.out"
	mkfifo "$USHM_TEST_DIR/hold"
	HOLD_OUT=$USHM_TEST_DIR/hold.out
	"$C" "$USHM_SOCKET" "$1" <"$USHM_TEST_DIR/hold" >"$HOLD_OUT" &
	HOLDER=$!
	exec 7>"$USHM_TEST_DIR/hold"
	wait_for 60 grep -q served "$HOLD_OUT"
}
release() {
	exec 7>&-
	wait "$HOLDER"
}

# ---- thousands of connections ----
thousands() {
	local id base n hard
	ushm_env_setup
	start_daemon || { ok 1 "the daemon starts"; return; }
	id=$(create $((16 * page))) && ushm_run "$T" fill "$id" 3
	base=$(open_fds)
	n=3000
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] && [ "$hard" -lt $((n + 200)) ] &&
		n=$((hard - 200))
	hold "$n"
	is "$(cat "$HOLD_OUT")" "served $n refused-ENOMEM 0 other 0" \
		"$n connections at once are all served"
	ok $(("$(open_fds)" >= base + n ? 0 : 1)) \
		"the daemon holds them all ($(open_fds) descriptors)"
	ushm_run "$T" check "$id" 3
	ok $? "meanwhile another client reads its segment"
	release
	wait_for 20 test "$(open_fds)" = "$base"
	is "$(open_fds)" "$base" "every descriptor is released after them"
}

# ---- the daemon out of descriptors ----
out_of_fds() {
	local id pid served refused other out
	ushm_env_setup
	# 96 descriptors: 32 kept back for its own work, the rest for
	# clients; it cannot raise a hard limit.
	start_daemon prlimit --nofile=96:96 || exit 1
	id=$(create $((16 * page))) && ushm_run "$T" fill "$id" 5
	pid=$(ushm_daemon_pid)
	hold 120
	read -r _ served _ refused _ other <"$HOLD_OUT"
	ok $((served > 0 && refused > 0 && other == 0 ? 0 : 1)) \
		"out of descriptors: $served served, $refused refused with ENOMEM, none dropped silently"
	is "$(create $page)" "shmtool: shmget: ENOMEM" \
		"a new client's shmget fails with ENOMEM"
	ok $(kill -0 "$pid" && ! pid_gone "$pid"; echo $?) "the daemon is up"
	grep -q "connection refused: the daemon is low on descriptors" \
		"$USHM_STATE_DIR/ushmd.log"
	ok $? "and says why in its log"
	release
	wait_for 20 ushm_run "$T" check "$id" 5
	ok $? "descriptors back: the segment is intact"
	out=$(create $page)
	ok $([ -n "$out" ] && [ "$out" -ge 0 ] 2>/dev/null; echo $?) \
		"and new segments can be made"
	is "$(ushm_daemon_pid)" "$pid" "the same daemon throughout"
}

# ---- a full tmpfs under the state directory ----
SMALL=
cleanup_small() {
	local p
	p=$(ushm_live_daemon_pid)
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait_for 5 pid_gone "$p"
	ushm_keeper_stop "$USHM_STATE_DIR"
	umount "$SMALL"
	ushm_env_cleanup
}
tmpfs_full() {
	local mib a b c d
	ushm_env_setup
	SMALL=$USHM_TEST_DIR/small
	mkdir "$SMALL"
	if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$SMALL"; then
		echo "ok $((TAP_N += 1)) # SKIP cannot mount a tmpfs here"
		return
	fi
	at_exit cleanup_small
	export USHM_STATE_DIR=$SMALL/state
	start_daemon || { ok 1 "the daemon starts"; return; }
	mib=$((1024 * 1024))
	a=$(create $((2 * mib)))
	ushm_run "$T" fill "$a" 7
	ok $? "a 2 MiB segment on a 4 MiB tmpfs, every page touched"
	is "$(create $((3 * mib)))" "shmtool: shmget: ENOSPC" \
		"3 MiB more do not fit: ENOSPC at shmget"
	b=$(create $mib)
	ok $([ "$b" -ge 0 ] 2>/dev/null; echo $?) "1 MiB more fits"
	is "$(create $((3 * mib / 2)))" "shmtool: shmget: ENOSPC" \
		"1.5 MiB do not: the untouched 1 MiB segment keeps its room"
	c=$(create $((3 * mib / 2)) 010600)
	ok $([ "$c" -ge 0 ] 2>/dev/null; echo $?) \
		"with SHM_NORESERVE it is made, as Linux makes it"
	ushm_run "$T" rmid "$c"
	ushm_run "$T" fill "$b" 8
	ok $? "the 1 MiB segment is filled: its room was kept (no SIGBUS)"
	ushm_run "$T" check "$a" 7 && ushm_run "$T" check "$b" 8
	ok $? "both segments hold their bytes"
	grep -q "the state directory's filesystem is full" \
		"$USHM_STATE_DIR/ushmd.log"
	ok $? "the refusal is logged with what to do"
	ushm_run "$T" rmid "$a"
	d=$(create $((3 * mib / 2)))
	ok $([ "$d" -ge 0 ] 2>/dev/null; echo $?) \
		"room made: 1.5 MiB fit again"
}

thousands
ushm_env_cleanup
out_of_fds
ushm_env_cleanup
tmpfs_full
done_testing
