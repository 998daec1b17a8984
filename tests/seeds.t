#!/usr/bin/env bash
# The tutorial's two programs, compiled unmodified, behave under ushm-run
# exactly as on the kernel: start the writer, then the reader within five
# seconds; the reader prints its line, and the segment (key 0x4d2, 4096
# bytes, mode 666) stays with nattch 0 after both exit.
. "$(dirname "$0")/lib.sh"
FIRST=$BUILD/tests/seeds/first
SECOND=$BUILD/tests/seeds/second
[ -x "$FIRST" ] && [ -x "$SECOND" ] || skip_all "no C++ compiler built the seeds"

# ls-style line for key 0x4d2 without the shmid column.
row() { awk '$1 == "0x000004d2" {print $1, $3, $4, $5, $6}'; }

# Does key 0x4d2 exist yet (on the kernel, or on ushm under a wrapper)?
seg_exists() {
	if [ $# -gt 0 ]; then "$USHM" ls; else ipcs -m; fi | grep -q 0x000004d2
}

# run_pair [WRAPPER]: the writer, then the reader once the writer has
# created the segment (the reader needs it); the writer sleeps 5 s before
# it writes, so the reader polls for the data as the tutorial shows.
run_pair() {
	local out
	"$@" "$FIRST" &
	local w=$!
	wait_for 5 seg_exists "$@" || echo "# the writer made no segment"
	out=$(timeout 30 "$@" "$SECOND")
	local rc=$?
	wait $w
	echo "$rc $out"
}

ushm_env_setup
kernel_lock_shared
# The tutorial's key is fixed: another run of this test on the machine
# (a second checkout) must not use it at the same time.
exec 8>>"$KERNEL_LOCK_DIR/ushm-tests-key-4d2.lock" && flock -x 8
# The kernel run needs key 0x4d2 free in the kernel's table.
ipcrm -M 0x4d2 2>/dev/null
ipcs -m | grep -q 0x000004d2 && skip_all "key 0x4d2 is taken on the kernel"
kernel=$(run_pair)
is "$kernel" "0 Receive data from shared memory!" "on the kernel"
krow=$(ipcs -m | row)
ipcrm -M 0x4d2
served_mark
ushm=$(run_pair "${USHM_RUN_CMD[@]}")
is "$ushm" "$kernel" "under ushm-run"
served_at_least shmget 2 "the writer's and the reader's shmget went to ushm"
served_at_least shmat 2 "and their shmat"
is "$("$USHM" ls | row)" "$krow" "the segment persists as on the kernel"
is "$(ipcs -m | grep -c 0x000004d2)" "0" "and the kernel never saw it"
done_testing
