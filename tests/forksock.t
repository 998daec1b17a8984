#!/usr/bin/env bash
# The fork socket (src/daemon/server.c, src/lib/forkproto.c): a parent's
# fork handler connects for its child to SOCKET.fork, whose traffic the
# daemon gathers instead of waking for each message (src/daemon/loop.c).
# The daemon makes it beside its socket, with the same mode, and removes
# it when it stops; a child's connection is accepted there and leaves
# when the child has gone; nattch is exact right after fork() and right
# after waitpid() whether the parent reached the fork socket or, that
# socket gone, fell back to the main one.
. "$(dirname "$0")/lib.sh"
time_bound 60
ushm_env_setup
T=$BUILD/tests/progs/shmtool
F=$BUILD/tests/progs/forkhold
FS=$USHM_SOCKET.fork

# connected PATH: the connections the daemon has accepted on the socket
# bound at PATH (an accepted socket shows its listener's path in
# /proc/net/unix, in state 03).
connected() {
	awk -v p="$1" '$6 == "03" && $8 == p' /proc/net/unix | wc -l
}

# as_on_kernel SECONDS NAME PROGRAM ARGS...: runs the plain SysV PROGRAM
# on the kernel, then under ushm-run (each within SECONDS, after a
# served_mark for the caller's served_* check): the outputs must be the
# same.
as_on_kernel() {
	local secs=$1 name=$2 kernel under
	shift 2
	kernel=$(timeout "$secs" "$@" 2>&1)
	served_mark
	under=$(timeout "$secs" "${USHM_RUN_CMD[@]}" "$@" 2>&1)
	is "$under" "$kernel" "$name"
}

# forkhold ID[,call] CHECK...: runs forkhold on segment ID under
# ushm-run (with "call", the child makes a call of its own first); runs
# CHECK while the child holds the attachment, then lets it go.  Sets
# FORKED and REAPED (nattch as the parent saw it), CHILD (the child's
# exit status) and CHECKED (CHECK's status).
forkhold() {
	local id=${1%,*} mode= d pid line
	[ "$1" = "$id,call" ] && mode=call
	shift
	d=$(mktemp -d "$USHM_TEST_DIR/fh.XXXXXX")
	mkfifo "$d/in" "$d/out"
	ushm_run "$F" "$id" $mode <"$d/in" >"$d/out" &
	pid=$!
	exec {fin}>"$d/in" {fout}<"$d/out"
	FORKED= REAPED=
	read -r -u "$fout" line && FORKED=${line#forked }
	read -r -u "$fout" line
	"$@"
	CHECKED=$?
	echo go >&"$fin"
	read -r -u "$fout" line && REAPED=${line#reaped }
	read -r -u "$fout" line && CHILD=${line#child exit }
	exec {fin}>&- {fout}<&-
	wait "$pid"
}

id=$(ushm_run "$T" create private 4096 0600)
ok $? "a segment is made (the daemon starts)"
[ -S "$USHM_SOCKET" ] && [ -S "$FS" ]
ok $? "the daemon listens at SOCKET.fork beside SOCKET"
is "$(stat -c %a "$FS")" "$(stat -c %a "$USHM_SOCKET")" \
	"with the main socket's mode"

served_mark
forkhold "$id" wait_for 5 eval '[ "$(connected "$FS")" -ge 1 ]'
ok $CHECKED "the child's connection was accepted on the fork socket"
is "$FORKED" 2 "nattch counts the child right after fork()"
is "$REAPED" 1 "and no longer right after waitpid()"
served_at_least registered 1 "the child's attachment was registered by ushm"
wait_for 5 eval '[ "$(connected "$FS")" -eq 0 ]'
ok $? "the connection leaves with the child"

# What comes on the fork socket is gathered, not woken for: a child's
# calls go on a connection of its own, made at its first, which takes
# its attachment over.
# (No client left from before: the daemon has let their connections go.)
wait_for 5 eval '[ "$(connected "$USHM_SOCKET")" -eq 0 ]'
served_mark
forkhold "$id,call" wait_for 5 eval \
	'[ "$(connected "$USHM_SOCKET")" -ge 2 ] &&
	 [ "$(connected "$FS")" -eq 0 ]'
ok $CHECKED "the child's call made it a connection to the main socket, and it left the fork socket's"
is "$CHILD" 0 "the child's call was answered"
is "$FORKED" 2 "nattch counts the child right after fork()"
is "$REAPED" 1 "and no longer right after waitpid()"
served_at_least registered 2 "the child's attachment was registered, then taken over"

"$USHM" daemon stop >/dev/null
ok $? "the daemon stops"
[ ! -e "$USHM_SOCKET" ] && [ ! -e "$FS" ]
ok $? "and removes both sockets"

# Without a fork socket (an older daemon, or the file removed), parents
# connect to the main socket for their children.
ushm_run "$T" stat "$id" >/dev/null
ok $? "the segment is still there (the daemon starts again)"
rm -f "$FS"
wait_for 5 eval '[ "$(connected "$USHM_SOCKET")" -eq 0 ]'
served_mark
forkhold "$id" wait_for 5 eval \
	'[ "$(connected "$USHM_SOCKET")" -ge 2 ]'
ok $CHECKED "without it, the child's connection was made to the main socket"
is "$FORKED" 2 "nattch counts the child right after fork()"
is "$REAPED" 1 "and no longer right after waitpid()"
served_at_least registered 1 "the child's attachment was registered by ushm"
is "$(connected "$FS")" 0 "nothing reached the removed fork socket"
ushm_run "$T" rmid "$id"

# Connecting ahead: a parent that forks again and again makes its next
# child's connection as the fork returns (src/lib/forkproto.c), which
# waits, idle, on the fork socket.  The next fork takes it only while it
# is still the library's: not once the program has closed the number and
# put a socket of its own there (nothing may be sent to that one), not
# in a child made without fork handlers (which inherits a copy), nor
# once the daemon that took it has died; and it goes when nothing is
# attached any more.
AHEAD=$BUILD/tests/progs/forkahead
AHEAD_CMDS=$'fork 3\ntakeover\nfork 2\nwritten\nfork 3\nrawfork\nfork 2\ndetach\nattach\nfork 3\nfork 2\nexit'
kernel=$(timeout 20 "$AHEAD" <<<"$AHEAD_CMDS" 2>&1)
d=$(mktemp -d "$USHM_TEST_DIR/fa.XXXXXX")
mkfifo "$d/in" "$d/out"
# (A daemon with its fork socket: the one above has lost it.)
"$USHM" daemon stop >/dev/null
ushm_run "$T" rmid "$(ushm_run "$T" create private 4096 0600)" &&
	[ -S "$FS" ]
ok $? "a daemon with a fork socket runs"
served_mark
timeout 30 "${USHM_RUN_CMD[@]}" "$AHEAD" <"$d/in" >"$d/out" 2>&1 &
apid=$!
exec {ain}>"$d/in" {aout}<"$d/out"
under=
# ask CMD: sends one command, keeps its answer.
ask() {
	local line
	echo "$1" >&"$ain"
	read -r -u "$aout" line
	under+=$line$'\n'
}
ask "fork 3"
wait_for 5 eval '[ "$(connected "$FS")" -eq 1 ]'
ok $? "after its forks, a connection made ahead waits on the fork socket"
ask takeover
ask "fork 2"
ask written
ask "fork 3"
ask rawfork
ask "fork 2"
wait_for 5 eval '[ "$(connected "$FS")" -eq 1 ]'
ok $? "and after more forks, one waits again"
ask detach
wait_for 5 eval '[ "$(connected "$FS")" -eq 0 ]'
ok $? "nothing attached: the connection made ahead is gone"
ask attach
ask "fork 3"
served_at_least registered 14 "ushm registered the children"
pid=$(ushm_live_daemon_pid)
kill -KILL "$pid"
wait_for 10 pid_gone "$pid"
ok $? "the daemon that took it is killed"
ushm_run "$T" rmid "$(ushm_run "$T" create private 4096 0600)"
ok $? "and another one started"
served_mark
ask "fork 2"
echo exit >&"$ain"
exec {ain}>&- {aout}<&-
wait "$apid"
ok $? "the program under ushm-run exits cleanly"
is "${under%$'\n'}" "$kernel" "forks with a connection made ahead, taken over, inherited without handlers, or left by a dead daemon: as on the kernel"
served_at_least registered 2 "the new daemon registered the last children"

# The fork handlers tell the shim's forks from a fork it does not see
# (libc's own, as inside daemon()): one made before any call, then
# libc's, whose parent goes on calling.  The program registered fork
# handlers of its own first thing, which call shmctl before the fork,
# in the parent and in the child: ushm's, installed when the library
# was loaded, must have let go of the client lock by then.
as_on_kernel 20 "a fork before any call, libc's own, a handler that calls: as on the kernel" \
	"$BUILD/tests/progs/forklibc"
served_at_least shmget 1 "ushm served it"

# A thread forks through the shim again and again while the main thread
# forks through libc's own fork: each such child, where the other
# thread does not exist (its stack unmapped), forks once more.
as_on_kernel 30 "a fork beside another thread's: the child uses nothing of that thread" \
	"$BUILD/tests/progs/forkthreads" 300
served_at_least shmget 1 "ushm served it"
# The same with no call before the threads fork.
as_on_kernel 30 "and when no call came before the forks" \
	"$BUILD/tests/progs/forkthreads" 300 nocall
served_at_least shmget 1 "ushm served it"

# A fork while another thread's is between ushm's fork handler and the
# end of the shim's fork wrapper (held there by a handler of the
# program's own): the connection made for the other child is open in
# the process then, and this child must not keep it.
as_on_kernel 30 "a child made during another thread's fork holds only its own connection" \
	"$BUILD/tests/progs/forkgap"
served_at_least shmget 1 "ushm served it"
# Many children ending at once: more hang-ups and exits pending than
# the daemon takes in one look (64), all applied before the parent's
# IPC_STAT that follows its last waitpid.
as_on_kernel 30 "300 children ending at once: nattch as on the kernel once they are reaped" \
	"$BUILD/tests/progs/manyexit" 300
served_at_least registered 300 "ushm registered them"
done_testing
