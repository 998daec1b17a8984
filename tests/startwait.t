#!/usr/bin/env bash
# No waiting for a daemon while holding the library's lock (issue 12): a
# thread whose call starts a daemon lets the process's other threads go
# on meanwhile.  The program attaches a segment, its daemon is killed
# (SIGKILL), then one thread creates a segment, which must start a new
# daemon (held back here by its starter until the program says go), while
# another detaches the first segment, which needs no daemon, and the
# main thread forks a child that exits: the detach and the fork must
# return while the daemon is still held back.  The same program runs
# on the kernel for the expected output; the new daemon's counters prove
# ushm started it and served the create.
. "$(dirname "$0")/lib.sh"
ushm_env_setup
kernel_lock_shared
P=$BUILD/tests/progs/startwait

kernel=$(timeout 60 "$P" 0)
is "$kernel" "shmdt while another thread's shmget waits for a daemon to start: returned in time: yes
fork meanwhile: returned in time: yes
shmdt: 0
the waiting shmget: a new id
nattch of the detached segment: 0" "the kernel's output"

# The daemon's starter: says it runs (a fifo the program reads), waits
# for the program's go (a bounded wait: without one it starts nothing),
# then runs the real daemon.  Both fifos are opened read-write, which
# never blocks: the starter never waits for the program to open them.
export STARTWAIT_STARTED=$USHM_TEST_DIR/started STARTWAIT_GO=$USHM_TEST_DIR/go
mkfifo "$STARTWAIT_STARTED" "$STARTWAIT_GO"
STARTER=$USHM_TEST_DIR/starter
cat >"$STARTER" <<EOS
#!/usr/bin/env bash
exec 7<>"\$STARTWAIT_STARTED" 8<>"\$STARTWAIT_GO"
printf x >&7
read -r -t 30 _ <&8 || exit 1
exec 7>&- 8>&-
exec "$USHMD" "\$@"
EOS
chmod 0755 "$STARTER"

"$USHM" daemon start >/dev/null
first=$(ushm_live_daemon_pid)
[ -n "$first" ]
ok $? "the daemon runs (pid $first)"

served_mark
out=$(USHM_DAEMON=$STARTER timeout 60 "${USHM_RUN_CMD[@]}" "$P" "$first")
is "$out" "$kernel" "a detach and a fork go on while another thread's call starts a daemon"
second=$(ushm_live_daemon_pid)
ok $([ -n "$second" ] && [ "$second" != "$first" ]; echo $?) \
	"the call started a new daemon (pid ${second:-none})"
served_exactly shmget 1 "the new daemon served the waiting shmget"
served_at_least shmctl 2 "and the IPC_STAT and IPC_RMIDs"
done_testing
