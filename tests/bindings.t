#!/usr/bin/env bash
# Language bindings users reach SysV shm through, unmodified, give the
# same outcome on the kernel and under ushm-run, where ushm (the
# daemon's counters say) served their calls.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
kernel_lock_shared
DIR=$TOP/tests/bindings

compare() {
	local name=$1 kernel ushm
	shift
	kernel=$("$@" 2>&1)
	ok $? "$name runs on the kernel"
	served_mark
	ushm=$(ushm_run "$@" 2>&1)
	is "$ushm" "$kernel" "$name: same outcome under ushm-run"
}

# The Perl script: new (shmget), write and read (shmat+shmdt each), stat
# twice, attach, detach, remove.
compare "Perl IPC::SysV" perl "$DIR/perl_ipc_sysv.pl"
served_exactly shmget 1 "Perl: its shmget went to ushm"
served_at_least shmat 3 "Perl: its shmats went to ushm"
served_at_least shmdt 3 "Perl: its shmdts went to ushm"
served_stat_at_least 3 "Perl: its shmctls were answered by ushm"
# The Python script: create, attach, fork (the child writes), stat
# (number_attached, last_pid), detach, remove.
if /usr/bin/python3 -c 'import sysv_ipc' 2>/dev/null; then
	compare "Python sysv_ipc" /usr/bin/python3 "$DIR/py_sysv_ipc.py"
	served_at_least shmget 1 "Python: its shmget went to ushm"
	served_at_least shmat 1 "Python: its shmat went to ushm"
	served_at_least shmdt 1 "Python: its shmdt went to ushm"
	served_stat_at_least 3 "Python: its shmctls were answered by ushm"
	# The fork: the prepare handler registers the child's attachment
	# on a connection of its own, and the child names itself on it
	# (HELLO) before it writes and exits (a child that calls also
	# registers it again, on the connection its first call makes).
	# The shim's FORKED, the parent's naming of a child killed before
	# its HELLO, is not counted: a parent that runs again only after
	# its child said HELLO and exited finds that connection closed
	# (the daemon let the dead child's connection go), and FORKED is
	# then not needed.
	served_at_least registered 1 \
		"Python: its fork registered the child's attachment with ushm"
	served_exactly hello 1 "Python: its child announced itself to ushm"
else
	for i in 1 2 3 4 5 6 7 8; do
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N # SKIP python3-sysv-ipc is not installed"
	done
fi
done_testing
