#!/usr/bin/env bash
# Clients die: thousands of processes attach, write, detach, fork, create
# and remove segments and are SIGKILLed at random moments (in the middle
# of their calls too), while a few survivors work beside them.  Then
# every segment's nattch is what the survivors hold, every removed
# segment whose holders all died is gone, every byte the survivors wrote
# is intact, and the daemon holds no more descriptors and files than
# before.  USHM_STRESS_SEED replays a run; USHM_STRESS_VICTIMS sets how
# many processes are killed.
. "$(dirname "$0")/lib.sh"
time_bound 600
ushm_env_setup
S=$BUILD/tests/progs/stress
SEED=${USHM_STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
VICTIMS=${USHM_STRESS_VICTIMS:-4000}
echo "# seed $SEED (USHM_STRESS_SEED=$SEED replays this run)"

status() { "$USHM" daemon status | sed -n "s/^$1: //p"; }
proc_fds() { ls "/proc/$1/fd" | wc -l; }

# The baseline: a daemon that has served and removed a segment.
id=$(ushm_run "$BUILD/tests/progs/shmtool" create private 1 0600)
ushm_run "$BUILD/tests/progs/shmtool" rmid "$id"
pid=$(ushm_daemon_pid)
SERVED_BASE=([pid]=$pid) # from this daemon's start
served_exactly shmget 1 "ushm serves these programs (the baseline's shmget)"
base_fds=$(status open_fds)
# What /proc shows with no client connected: a status request costs the
# daemon two descriptors while it is served (the connection and the
# pidfd that watches the client); they go with the hang-up.
base_proc=$((base_fds - 2))
wait_for 10 [ "$(proc_fds "$pid")" = "$base_proc" ]
is "$(proc_fds "$pid")" "$base_proc" "the daemon's descriptors: the baseline"
# (Not seg-N.meta: a removal leaves it, cleared, for the next segment at
# index N; state_seg_files checks that every one is cleared.)
base_files=$(ls "$USHM_STATE_DIR" | grep -v '^seg-.*\.meta$' | tr '\n' ' ')

out=$(ushm_run "$S" clients "$SEED" "$VICTIMS" 12 4 2>"$USHM_TEST_DIR/stress.err")
ok $? "the driver ran to the end"
val() { sed -n "s/^$1 //p" <<<"$out"; }
echo "# $(val killed) processes SIGKILLed at random moments," \
	"and $(val children_killed) of their children with them"
is "$(val killed)" "$VICTIMS" "every victim was killed"
is "$(val victims_failed)" 0 "no victim got a wrong answer before it died"
is "$(val survivors_failed)" 0 "every survivor worked to the end"
is "$(val nattch_wrong)" 0 "every segment's nattch is what the survivors hold"
is "$(val dest_left)" 0 \
	"every removed segment whose holders all died is gone"
is "$(val bad)" 0 "every byte the survivors wrote is intact" \
	"($(val bytes) bytes verified)"
is "$(val errors)" 0 "no call failed, no check failed"

is "$(ushm_daemon_pid)" "$pid" "one daemon served the whole run"
is "$(status segments)" 0 "no segment is left"
is "$(status orphans)" 0 "no orphan record is left"
is "$(status open_fds)" "$base_fds" \
	"the daemon holds as many descriptors as before (its status)"
wait_for 10 [ "$(proc_fds "$pid")" = "$base_proc" ]
is "$(proc_fds "$pid")" "$base_proc" \
	"the daemon holds as many descriptors as before (/proc/PID/fd)"
is "$(ls "$USHM_STATE_DIR" | grep -v '^seg-.*\.meta$' | tr '\n' ' ')" \
	"$base_files" "the state directory holds the same files as before"
is "$(state_seg_files "$USHM_STATE_DIR")" 0 \
	"and no record that is not cleared"
summarize_stderr "$USHM_TEST_DIR/stress.err"
done_testing
