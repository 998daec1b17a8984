#!/usr/bin/env bash
# live-limits.t - shmmax, shmall and shmmni follow /proc/sys/kernel as
# they are at each call, as on Linux: written while a daemon runs, they
# apply to its next shmget and show in IPC_INFO at once; a daemon given
# its own limit keeps it.
#
# The sysctls are per IPC namespace, and every ushm daemon now follows
# them: changed in the machine's namespace, they would change the limits
# of every other test running at the time (the kernel lock covers only
# the kernel's table).  So the test runs in an IPC namespace of its own
# (unshare --ipc), and restores the values all the same.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${USHM_LIVE_LIMITS_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || skip_all "needs root for an IPC namespace"
	command -v unshare >/dev/null || skip_all "unshare (util-linux) is needed"
	export USHM_LIVE_LIMITS_NS=1
	reexec unshare --ipc -- "$BASH" "$0" "$@"
fi

tool=$BUILD/tests/progs/shmtool
[ -x "$tool" ] || skip_all "$tool not built (make test-bins)"
[ "$(id -u)" = 0 ] || skip_all "needs root to write /proc/sys/kernel"
[ -w /proc/sys/kernel/shmmax ] || skip_all "/proc/sys/kernel/shmmax is read-only here"

ushm_env_setup
old_max=$(cat /proc/sys/kernel/shmmax)
old_mni=$(cat /proc/sys/kernel/shmmni)
restore() {
	echo "$old_max" >/proc/sys/kernel/shmmax
	echo "$old_mni" >/proc/sys/kernel/shmmni
}
at_exit 'restore; ushm_env_cleanup'

# info FIELD: a field of IPC_INFO under ushm (shmmax shmmin shmmni ...).
info() {
	local -A pos=([shmmax]=1 [shmmni]=3 [shmall]=5)
	timeout 10 "$USHM_RUN" "$tool" info | awk -v f="${pos[$1]}" '{ print $f }'
}
create() { timeout 10 "$USHM_RUN" "$tool" create private "$1" 0600 2>&1; }

# The daemon starts with the kernel's values.
is "$(info shmmax)" "$old_max" "IPC_INFO shows the kernel's shmmax"
pid=$(ushm_daemon_pid)
[ -n "$pid" ]
is $? 0 "a daemon runs"

echo 1000000 >/proc/sys/kernel/shmmax
is "$(info shmmax)" 1000000 "a new shmmax shows in IPC_INFO at once"
out=$(create 1000001)
case $out in *EINVAL* | *"Invalid argument"*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "a segment over the new shmmax: EINVAL" || echo "# $out"
out=$(create 1000000)
case $out in [0-9]*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "a segment of exactly the new shmmax is made"
is "$(ushm_daemon_pid)" "$pid" "by the same daemon (no restart)"

echo 1 >/proc/sys/kernel/shmmni
is "$(info shmmni)" 1 "a new shmmni shows in IPC_INFO at once"
out=$(create 4096)
case $out in *ENOSPC* | *"No space"*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "one segment exists, shmmni 1: ENOSPC" || echo "# $out"
restore
out=$(create 4096)
case $out in [0-9]*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "restored, a segment is made again"
is "$(info shmmax)" "$old_max" "IPC_INFO shows the restored shmmax"
"$USHM" rm -a >/dev/null 2>&1

# A daemon given a limit of its own keeps it.
ushm_env_cleanup
ushm_env_setup
at_exit 'restore; ushm_env_cleanup'
USHM_AUTOSTART=0 "$USHMD" --daemonize --socket "$USHM_SOCKET" \
	--state "$USHM_STATE_DIR" --shmmax 500000 >/dev/null 2>&1
wait_for 5 test -S "$USHM_SOCKET"
echo 1000000 >/proc/sys/kernel/shmmax
is "$(info shmmax)" 500000 "--shmmax: the daemon's own limit stays"
is "$(info shmmni)" "$old_mni" "the others still follow the kernel"
restore
done_testing
