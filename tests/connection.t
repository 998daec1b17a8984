#!/usr/bin/env bash
# The library keeps its books when a program takes its connection away:
# a program that closes every descriptor above 2 (as daemons do) still
# has its attachment counted and can detach it, and the library never
# touches the descriptors the program put where its own used to be.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
kernel_lock_shared
T=$BUILD/tests/progs/shmtool

kid=$("$T" create private 4096 0600)
kernel=$("$T" closefds "$kid")
"$T" rmid "$kid"
is "$kernel" "nattch 1 then 0, program's fds intact, not written to" "on the kernel"
served_mark
id=$(ushm_run "$T" create private 4096 0600)
is "$(ushm_run "$T" closefds "$id")" "$kernel" "under ushm-run"
# The ushm side must have been served by ushm, not by the kernel.
served_exactly shmget 1 "the create went to ushm"
served_exactly shmat 1 "the attach went to ushm"
served_exactly shmdt 1 "the detach went to ushm"
served_stat_at_least 2 "both IPC_STATs were answered by ushm"
"$USHM" ls -i "$id" >/dev/null 2>&1
ok $? "the segment is in ushm's table"
done_testing
