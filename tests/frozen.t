#!/usr/bin/env bash
# A stopped daemon (SIGSTOP: a debugger, an overloaded machine) never
# holds up fork, exec or exit (issue 10, item 11): a program that holds an
# attachment forks children that exit, exec and are killed while its
# daemon is stopped, each fork and each wait returning at once, and once
# the daemon runs again nattch and lpid are what the kernel gives; a
# child's shmdt made meanwhile is counted by its parent's next IPC_STAT.  A shm
# call that waits on the stopped daemon gives up with ETIMEDOUT after
# USHM_TIMEOUT seconds, signal handlers running meanwhile, and an attach
# that timed out is given back.  The same program runs on the kernel for
# the expected output; the daemon's counters prove ushm served the ushm
# runs.
. "$(dirname "$0")/lib.sh"
# The kernel's side in an IPC namespace of its own: a run that fails
# halfway leaves its segment there, not in the machine's table.
if [ -z "${USHM_FROZEN_NS:-}" ]; then
	command -v unshare >/dev/null || skip_all "unshare (util-linux) is needed"
	export USHM_FROZEN_NS=1
	reexec unshare --ipc -- "$BASH" "$0" "$@"
fi
ushm_env_setup
F=$BUILD/tests/progs/frozen
N=30

# Whatever happens, the daemon is not left stopped.
at_exit 'd=$(ushm_live_daemon_pid) && kill -CONT "$d" 2>/dev/null'

kernel=$(timeout 60 "$F" fork 0 $N)
is "$kernel" "$N forks, each returned in time: yes
exits, execs and kills, each reaped in time: yes
after the children: nattch 1, lpid == last child: yes" "the kernel's output"

"$USHM" daemon start >/dev/null
daemon=$(ushm_live_daemon_pid)
[ -n "$daemon" ]
ok $? "the daemon runs (pid $daemon)"

served_mark
out=$(timeout 60 "${USHM_RUN_CMD[@]}" "$F" fork "$daemon" $N)
kill -CONT "$daemon" # (the program continues it, unless it hung)
is "$out" "$kernel" "fork with the daemon stopped: the same as the kernel"
# Each child's inheritance was registered (the daemon applied them once
# it ran again), and the program's calls went to ushm.
served_at_least registered $N "every child's attachment was registered"
served_exactly shmat 1 "the attach went to ushm"
served_at_least shmctl 1 "the IPC_RMID went to ushm"
served_stat_at_least 3 "both IPC_STATs were answered by ushm"

# shmdt does not wait for the daemon either: a child detaches while the
# daemon is stopped, tells its parent, and the parent's IPC_STAT, queued
# behind the detach (the daemon is continued only then), must count it
# as Linux does.  The daemon takes the new connection, the detach on it
# and the request in one pass: the request was answered first.
kernel=$(timeout 60 "$F" detach 0)
is "$kernel" "child detached, daemon stopped: nattch 1, lpid == child: yes
child: exit 0" "the kernel's output (a child's detach)"
served_mark
out=$(timeout 60 "${USHM_RUN_CMD[@]}" "$F" detach "$daemon")
kill -CONT "$daemon"
is "$out" "$kernel" "a child's detach, the daemon stopped: the same as the kernel"
served_at_least shmdt 1 "the child's detach went to ushm"
served_at_least shmctl 1 "the IPC_STAT after it went to the daemon"

# A child that forks, then exits and is reaped, all while the daemon is
# stopped: the daemon then learns of the child only once it is gone, and
# must still count the grandchild's inheritance, which the child
# registered as a copy of its own (it did not, once: the child's
# connection was closed before the grandchild's was accepted).
kernel=$(timeout 60 "$F" grandchild 0)
is "$kernel" "child exit 0, reaped, daemon continued: nattch 2
grandchild exit 0: nattch 1" "the kernel's output (a grandchild)"
served_mark
out=$(timeout 60 "${USHM_RUN_CMD[@]}" "$F" grandchild "$daemon")
kill -CONT "$daemon"
is "$out" "$kernel" "a grandchild made while the daemon was stopped: the same as the kernel"
served_at_least registered 2 "the child's and the grandchild's inheritance went to ushm"

served_mark
out=$(USHM_TIMEOUT=1 timeout 60 "${USHM_RUN_CMD[@]}" "$F" timeout "$daemon")
kill -CONT "$daemon"
is "$out" "shmat as before with the daemon stopped: succeeded at once: yes
shmat with the daemon stopped: Connection timed out, after about 1 s: yes
IPC_STAT with the daemon stopped: Connection timed out, after about 1 s: yes
the timer's handler ran while they waited: yes
a child's IPC_STAT with the daemon stopped: Connection timed out, after about 1 s: yes
daemon continued: nattch 2" "a call on a stopped daemon gives up after USHM_TIMEOUT (a forked child's too); one it need not answer does not wait"
served_at_least shmat 2 "the attaches went to ushm"
done_testing
