#!/usr/bin/env bash
# The daemon dies: it is SIGKILLed over and over at random moments (idle,
# in the middle of requests and of its metadata writes, while it starts
# and recovers) under idle holders and busy workers.  After every restart
# every shmid_ds field of the idle segments is as it was and nattch
# counts the holders that make no call; the workers' calls keep getting
# right answers, their long-held attachments keep working and are
# counted once; no segment a live process maps is destroyed; every byte
# is intact.  USHM_STRESS_SEED replays a run; USHM_STRESS_KILLS sets how
# many times the daemon is killed.
. "$(dirname "$0")/lib.sh"
time_bound 600
ushm_env_setup
S=$BUILD/tests/progs/stress
SEED=${USHM_STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
KILLS=${USHM_STRESS_KILLS:-120}
echo "# seed $SEED (USHM_STRESS_SEED=$SEED replays this run)"

# First, that ushm serves these programs at all (a long run on the
# kernel would prove nothing).
id=$(ushm_run "$BUILD/tests/progs/shmtool" create private 1 0600)
ushm_run "$BUILD/tests/progs/shmtool" rmid "$id"
SERVED_BASE=([pid]=$(ushm_daemon_pid)) # from this daemon's start
served_exactly shmget 1 "ushm serves these programs (a first shmget)"

out=$(ushm_run "$S" daemon "$SEED" "$KILLS" 4 2>"$USHM_TEST_DIR/stress.err")
ok $? "the driver ran to the end"
val() { sed -n "s/^$1 //p" <<<"$out"; }
echo "# $(val kills) daemon kills survived ($(val startup_kills) of them" \
	"while it started), $(val gens) rounds of the workers"
is "$(val kills)" "$KILLS" "the daemon was killed $KILLS times"
is "$(val stat_diffs)" 0 "after every restart every shmid_ds field is as" \
	"it was, nattch counting holders that make no call"
is "$(val nattch_wrong)" 0 "holders that call again are counted once"
is "$(val workers_failed)" 0 "every worker and holder worked to the end"
is "$(val worker_errors)" 0 "no call got a wrong answer, no check failed" \
	"(long-held attachments counted once, removed segments live while held)"
is "$(val bad)" 0 "every byte is intact ($(val bytes) bytes verified)"
is "$(val extra)" 0 "no request sent again to a new daemon made a second" \
	"segment"
is "$(val errors)" 0 "the driver's own calls and checks"
# The library sends a request cut short once more, to a new daemon; when
# that one dies too (or is refused its state directory, still locked by
# the one dying) the call fails with EPIPE or ECONNREFUSED.
is "$(val calls_without_daemon)" 0 "no call failed for want of a daemon" \
	"($(val extra_after_failed_get) segment(s) made by a shmget that" \
	"reported such a failure)"

is "$("$USHM" daemon status | sed -n 's/^segments: //p')" 0 \
	"no segment is left"
# (seg-N.meta of a removed segment stays, cleared, for the next segment
# at index N: state_seg_files counts every other seg-N file.)
is "$(ls "$USHM_STATE_DIR" | grep -v '^seg-.*\.meta$' | tr '\n' ' ')" \
	"ids keeper.pid keeper.sock lock table ushmd.log ushmd.pid " \
	"no file is left in the state directory"
is "$(state_seg_files "$USHM_STATE_DIR")" 0 \
	"and every record left is cleared"
# Each create's memory is given to the keeper ahead of it, and a kill
# often comes between: the next daemon drops such a spare without a word.
keeper_memory() {
	ls -l "/proc/$(cat "$USHM_STATE_DIR/keeper.pid")/fd" 2>/dev/null |
		grep -c 'memfd:ushm-segment'
}
wait_for 10 eval '[ "$(keeper_memory)" = 0 ]'
is "$(keeper_memory)" 0 "the keeper holds no memory: no spare is left"
ok $(! grep -q "is not sealed memory" "$USHM_STATE_DIR/ushmd.log"; echo $?) \
	"no daemon warned of unsealed memory: spares are dropped quietly"
summarize_stderr "$USHM_TEST_DIR/stress.err"
done_testing
