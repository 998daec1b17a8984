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
id=$("$USHM_RUN" "$T" create private 4096 0600)
is "$("$USHM_RUN" "$T" closefds "$id")" "$kernel" "under ushm-run"
done_testing
