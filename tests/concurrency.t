#!/usr/bin/env bash
# Several processes create, attach, write, detach and remove at once; at
# the end nothing is leaked (threads of one process too): no segment, no backing file, no descriptor
# in the daemon.  The same program runs on the kernel for comparison; the
# daemon's counters prove that ushm served every call of the ushm runs.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
kernel_lock_shared
T=$BUILD/tests/progs/shmtool
PROCS=4
ROUNDS=150

fds() { "$USHM" daemon status | sed -n 's/^open_fds: //p'; }

ushm_run "$T" create private 1 0600 >/dev/null  # starts the daemon
first=$("$USHM" ls | awk '$2 ~ /^[0-9]+$/ {print $2}')
ushm_run "$T" rmid "$first"
base=$(fds)

key=$(( (($$ & 0xffff) << 8) | 0x5a ))
kernel=$("$T" churn $PROCS $ROUNDS $key)
is "$kernel" "failed 0 count $((PROCS * ROUNDS))" "the kernel runs the churn"
served_mark
out=$(ushm_run "$T" churn $PROCS $ROUNDS $key)
is "$out" "$kernel" "ushm runs it with the same outcome"
n=$((PROCS * ROUNDS))
served_exactly shmget $((n + 1)) "churn: every shmget went to ushm"
served_exactly shmat $((2 * n + 1)) "churn: every shmat"
served_exactly shmdt $((2 * n + 1)) "churn: every shmdt"
served_exactly shmctl $((n + 1)) "churn: every IPC_RMID"

kernel=$("$T" threads 4 $ROUNDS)
is "$kernel" "failed 0 count $((4 * ROUNDS)) nattch 0" "threads on the kernel"
served_mark
out=$(ushm_run "$T" threads 4 $ROUNDS)
is "$out" "$kernel" "threads on ushm: the same (the library is thread-safe)"
served_exactly shmget $((4 * ROUNDS + 1)) "threads: every shmget went to ushm"
served_exactly shmat $((2 * 4 * ROUNDS + 1)) "threads: every shmat"
served_at_least shmctl $((4 * ROUNDS)) "threads: every shmctl"

# A child killed the moment fork returns, before it runs at all: its
# exit still detaches its inherited attachment, as that child (lpid).
kernel=$("$T" forkkill 300)
is "$kernel" "wrong 0 of 300" "fork, SIGKILL at once: the kernel"
served_mark
is "$(ushm_run "$T" forkkill 300)" "$kernel" "the same on ushm"
served_exactly shmget 300 "forkkill: every shmget went to ushm"
served_at_least shmctl 300 "forkkill: every IPC_RMID"
served_stat_at_least 600 "forkkill: and every IPC_STAT"
served_at_least forked 1 "forkkill: the forks were announced to ushm"

is "$("$USHM" ls | awk '$2 ~ /^[0-9]+$/' | wc -l)" "0" "no segment left"
is "$(state_seg_files "$USHM_STATE_DIR")" "0" \
	"no backing file or record left"
is "$(fds)" "$base" "the daemon holds no more descriptors than before"
done_testing
