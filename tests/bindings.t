#!/usr/bin/env bash
# Language bindings users reach SysV shm through, unmodified, give the
# same outcome on the kernel and under ushm-run.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
kernel_lock_shared
DIR=$TOP/tests/bindings

compare() {
	local name=$1 kernel ushm
	shift
	kernel=$("$@" 2>&1)
	ok $? "$name runs on the kernel"
	ushm=$("$USHM_RUN" "$@" 2>&1)
	is "$ushm" "$kernel" "$name: same outcome under ushm-run"
}

compare "Perl IPC::SysV" perl "$DIR/perl_ipc_sysv.pl"
if /usr/bin/python3 -c 'import sysv_ipc' 2>/dev/null; then
	compare "Python sysv_ipc" /usr/bin/python3 "$DIR/py_sysv_ipc.py"
else
	echo "ok 3 # SKIP python3-sysv-ipc is not installed"
	echo "ok 4 # SKIP python3-sysv-ipc is not installed"
	TAP_N=4
fi
done_testing
