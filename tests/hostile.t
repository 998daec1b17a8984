#!/usr/bin/env bash
# A client that breaks the protocol gets an error reply or a closed
# connection; the daemon stays up, keeps no descriptor of it, and serves
# everyone else.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
T=$BUILD/tests/progs/shmtool
id=$(ushm_run "$T" create private 4096 0600)
ushm_run "$T" fill "$id" 9
fds() { "$USHM" daemon status | sed -n 's/^open_fds: //p'; }
before=$(fds)
pid=$(ushm_daemon_pid)

# A descriptor attached is refused by the kernel where it has
# SO_PASSRIGHTS (Linux 6.16), and makes the daemon hang up elsewhere:
# either way the request is not served.
out=$("$BUILD/tests/progs/hostile" "$USHM_SOCKET" |
	sed 's/^fd attached: not delivered (EPERM)$/fd attached: closed/')
expect="short: closed
oversized: closed
bad magic: closed
other version: error EPROTO
unknown op: error EINVAL
stray field: closed
size mismatch: closed
fd attached: closed
absurd id: error EINVAL
flood: closed
a good request afterwards: replied"
is "$out" "$expect" "each bad message is refused"
ok $(kill -0 "$pid"; echo $?) "the daemon is still running"
is "$(ushm_daemon_pid)" "$pid" "and was not restarted"
is "$(fds)" "$before" "it holds no descriptor of the hostile clients"
ushm_run "$T" check "$id" 9
ok $? "other clients' segments are untouched"
SERVED_BASE=([pid]=$pid) # from the start of this daemon
served_exactly shmget 1 "the create went to ushm"
served_at_least shmat 2 "the fill and the check attached through ushm"
done_testing
