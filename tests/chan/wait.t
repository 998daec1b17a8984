#!/usr/bin/env bash
# ushm_wait/ushm_wake between processes, on ushm and on kernel segments.
# The kernel's table is held exclusively for this second: tests that
# compare whole listings of it (ipcs) must not see our segment come and go.
. "$(dirname "$0")/../lib.sh"
ushm_env_setup
kernel_lock_exclusive
"$BUILD/tests/chan/wait_test"
