#!/usr/bin/env bash
# mixed.t - one library per process: a program linked with libushm.so and
# run under ushm-run has one attachment table and one connection, so
# ushm_at and shmdt (the shim's), shmat and ushm_dt find each other.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

prog=$BUILD/tests/dropin/mixed
[ -x "$prog" ] || skip_all "$prog not built (make test-bins)"
ushm_env_setup

readelf -d "$BUILD/lib/libushm-preload.so" 2>/dev/null |
	grep -q 'NEEDED.*libushm\.so'
is $? 0 "the shim needs libushm.so instead of holding a copy"

out=$(timeout 30 "$USHM_RUN" "$prog" 2>&1)
rc=$?
is "$rc" 0 "every step as on Linux under ushm-run"
[ "$rc" = 0 ] || printf '%s\n' "$out" | diag

# ushm served it: the daemon saw the connection (and, with two copies of
# the library, would have seen two).
status=$("$USHM" daemon status 2>&1)
printf '%s\n' "$status" | grep -q '^pid'
is $? 0 "the daemon that served the calls is there"

# Without ushm-run the SysV names are the kernel's: the shmdt of an
# address only ushm attached fails, so the test above can fail.
out=$(timeout 30 "$prog" 2>&1)
is "$(printf '%s\n' "$out" | sed -n 's/^shmdt of ushm_at.s attachment: //p')" \
	"Invalid argument" "without the shim, shmdt is the kernel's (EINVAL)"
"$USHM" ls >/dev/null 2>&1
done_testing
