#!/usr/bin/env bash
# A system-wide daemon (root's, socket 0666) attacked by other local
# users, one finding of the security review at a time: each attack is
# made as a real other uid, and where its harm would be a stall, another
# user's calls are timed while it runs (they must answer in < 50 ms).
. "$(dirname "$0")/lib.sh"
need_other_users
ushm_env_setup
export USHM_AUTOSTART=0
A=$BUILD/tests/progs/attack
T=$BUILD/tests/progs/shmtool
D=$USHM_TEST_DIR
ATTACKER=61041
OTHER=61042

# start_daemon FLAGS...: returns once it accepts clients (the byte on
# --ready-fd; the substitution ends when the daemon closes it).
start_daemon() {
	local ready
	ready=$(timeout 20 "$USHMD" --daemonize --socket "$USHM_SOCKET" \
		--state "$USHM_STATE_DIR" --ready-fd 3 "$@" \
		3>&1 >/dev/null 2>>"$D/daemon.err")
	[ "$ready" = 1 ]
}
stop_daemon() {
	local pid
	pid=$(ushm_daemon_pid)
	[ -n "$pid" ] || return 0
	kill -TERM "$pid"
	wait_for 10 pid_gone "$pid"
}
fds_of() { ls "/proc/$1/fd" | wc -l; }
# latency_ok: another user's 20 calls all answered within 50 ms.
latency_of_other() {
	as_uid $OTHER timeout 30 "$A" "$USHM_SOCKET" latency 20 |
		sed -n 's/^max_ms //p'
}

start_daemon
ok $? "root's daemon starts"
dpid=$(ushm_daemon_pid)

# ---- 2: a descriptor whose last close blocks (a TCP socket lingering
# on a peer that never reads) attached to a request ----
fds_before=$(fds_of "$dpid")
# linger SOCKET: the attacker sends such a descriptor to SOCKET while
# another user asks the daemon; sets SENT (what the attacker's send
# got) and MS (the other user's slowest answer meanwhile), then ends
# the attack.
linger() {
	local fifo lpid
	fifo=$(mktemp -u "$D/linger.XXXXXX")
	mkfifo "$fifo"
	# (setpriv itself in the background, not in a subshell: $! is the
	# attacker, and killing it ends the attack)
	setpriv --reuid=$ATTACKER --regid=$ATTACKER --clear-groups -- \
		timeout 60 "$A" "$1" linger 5 >"$fifo" &
	lpid=$!
	read -r SENT <"$fifo"
	MS=$(latency_of_other)
	kill "$lpid"
	wait "$lpid" 2>/dev/null
}
linger "$USHM_SOCKET"
sent=$SENT
ok $([ -n "$MS" ] && [ "$MS" -lt 50 ]; echo $?) \
	"another user is served in < 50 ms while a lingering descriptor is sent (${MS:-no answer} ms; sender: $sent)"
if [ "$sent" = EPERM ]; then
	ok 0 "the kernel refused the descriptor (SO_PASSRIGHTS)"
else
	ok 0 "# SKIP the kernel has no SO_PASSRIGHTS: closed by a thread"
fi
# The same at the fork socket, whose traffic the daemon gathers.
linger "$USHM_SOCKET.fork"
ok $([ -n "$MS" ] && [ "$MS" -lt 50 ]; echo $?) \
	"another user is served in < 50 ms while one is sent to the fork socket (${MS:-no answer} ms; sender: $SENT)"
is "$SENT" "$sent" "the fork socket takes it as the main socket does"
# Its connection closed, the daemon is back to the descriptors it had.
wait_for 5 eval '[ "$(fds_of "$dpid")" = "$fds_before" ]'
is "$(fds_of "$dpid")" "$fds_before" \
	"the daemon holds no descriptor it did not ask for"

# ---- 1: the group check uses the identity the kernel stamped on the
# request, not what /proc says when the daemon gets to it ----
GROUP=61050
id=$(setpriv --reuid=61044 --regid=$GROUP --clear-groups -- \
	"$USHM_RUN" "$T" create private 4096 0660)
cp "$(command -v sleep)" "$D/sgid-sleep"
chown root:$GROUP "$D/sgid-sleep"
chmod 2755 "$D/sgid-sleep"
# Three tries: the old daemon, which read the fsgid from /proc when it
# served the shmat, handed out the descriptor 5 times in 6.
got=$(for i in 1 2 3; do
	as_uid $ATTACKER timeout 20 "$A" "$USHM_SOCKET" groupexec "$id" \
		"$D/sgid-sleep"
done | sort | uniq -c | sed 's/^ *//')
is "$got" "3 error EACCES" \
	"a shmat sent before exec'ing a setgid program is refused (outside the 0660 segment's group)"
got=$(setpriv --reuid=$ATTACKER --regid=$ATTACKER --groups=$GROUP -- \
	"$USHM_RUN" "$T" fill "$id" 5 2>&1)
is "$got" "" "a member of the group attaches it (the check still grants the group)"

# ---- 10: holder addresses only for who could read those maps ----
# hold UID ID: a process of UID holding segment ID until fd 7 closes.
mkfifo "$D/hold-in" "$D/hold-out"
seg=$("$USHM_RUN" "$T" create private 4096 0666)
# Both open the fifo before we do (an open for reading waits for a
# writer), so neither inherits our end of it.
setpriv --reuid=$ATTACKER --regid=$ATTACKER --clear-groups -- \
	"$USHM_RUN" "$T" hold "$seg" 0 <"$D/hold-in" >"$D/hold-out" 2>&1 &
hpid=$!
"$USHM_RUN" "$T" hold "$seg" 0 <"$D/hold-in" >"$D/hold-out2" 2>&1 &
rpid=$!
exec 7>"$D/hold-in"
read -r held <"$D/hold-out"
wait_for 10 eval '[ "$(as_uid $ATTACKER "$USHM" stat "$seg" |
	grep -c "^  [0-9]")" = 2 ]'
seen=$(as_uid $ATTACKER "$USHM" stat "$seg" | grep '^  [0-9]')
is "$(echo "$seen" | grep -c 0x)" 1 \
	"another user sees the addresses of its own process only ($held)"
is "$(echo "$seen" | grep -c 'maps not readable')" 1 \
	"and root's holder without an address"
is "$("$USHM" stat "$seg" | grep -c '^  [0-9].*0x')" 2 \
	"root sees both holders' addresses"
exec 7>&-
wait "$hpid" "$rpid"

# ---- 8: a flood of malformed requests cannot flood the log ----
log=$USHM_STATE_DIR/ushmd.log
before=$(wc -l <"$log")
sent=$(as_uid $ATTACKER timeout 30 "$A" "$USHM_SOCKET" flood 3)
after=$(wc -l <"$log")
lines=$((after - before))
# 10 lines a second for one uid, and a line saying how many were
# dropped: about 40 in 3 s, whatever the flood.
ok $([ "$lines" -le 60 ]; echo $?) \
	"$sent malformed requests in 3 s log $lines lines"
grep -q "uid $ATTACKER: [0-9]* log line(s) dropped" "$log"
ok $? "the dropped lines are counted in the log"

# ---- 4: a client that resizes a segment's file ----
# A segment's memory is sealed (F_SEAL_SHRINK | F_SEAL_GROW): a writer's
# ftruncate is refused, and a restart finds the segment as it was.
# tests/sealed.t has the rest (other attachers, fallocate, seals, the
# keeper).
seg=$("$USHM_RUN" "$T" create private 8192 0666)
"$USHM_RUN" "$T" fill "$seg" 6
for size in 4096 65536; do
	got=$(as_uid $ATTACKER timeout 20 "$A" "$USHM_SOCKET" resize "$seg" $size)
	is "$got" "ftruncate: EPERM" "another user's resize to $size is refused"
done
pid=$(ushm_daemon_pid)
kill -KILL "$pid"
wait_for 10 pid_gone "$pid"
start_daemon
out=$("$USHM_RUN" "$T" stat "$seg" 2>&1 | grep -o 'segsz=[0-9]*')
is "$out" segsz=8192 "after a restart, the segment is kept at its size"
"$USHM_RUN" "$T" check "$seg" 6
ok $? "with its bytes"

# ---- 3: REGISTER naming segments the caller does not map, from a
# process with 65,000 mappings: each claim is checked in O(1) ----
first=$("$USHM_RUN" "$T" create private 4096 0600)
for i in $(seq 2 48); do "$USHM_RUN" "$T" create private 4096 0600 >/dev/null; done
mkfifo "$D/reg"
setpriv --reuid=$ATTACKER --regid=$ATTACKER --clear-groups -- \
	timeout 60 "$A" "$USHM_SOCKET" register 3 "$first" >"$D/reg" &
rpid=$!
exec 8<"$D/reg"
read -r mapped <&8
ms=$(latency_of_other)
read -r result <&8
exec 8<&-
wait "$rpid"
ok $([ -n "$ms" ] && [ "$ms" -lt 50 ]; echo $?) \
	"another user is served in < 50 ms during a REGISTER flood (${ms:-no answer} ms; attacker: $mapped, $result)"
is "$("$USHM_RUN" "$T" nattch "$first")" 0 \
	"and the claims were not counted"

stop_daemon
rm -rf "$USHM_STATE_DIR"

# ---- 6: default quotas are real limits ----
# create UID SIZE [MODE]: shmget as UID; prints the id or the error.
create() {
	as_uid "$1" timeout 20 "$USHM_RUN" "$T" create private "$2" \
		"${3:-0600}" 2>&1 | sed 's/^shmtool: shmget: //'
}
# fill_until_refused UID: creates one-page segments until refused;
# prints how many it got.
fill_until_refused() {
	local n=0
	while [ $n -lt 64 ]; do
		case $(create "$1" 4096) in
		[0-9]*) n=$((n + 1)) ;;
		*) break ;;
		esac
	done
	echo $n
}
start_daemon --shmmni 64
log=$USHM_STATE_DIR/ushmd.log
line=$(grep 'per user:' "$log" | tail -n 1)
ok $(echo "$line" | grep -q ' 18446744073709551615 bytes'; [ $? != 0 ]; echo $?) \
	"the start-up log shows a real per-user byte quota: ${line#*per user: }"
fs_bytes=$(($(stat -f -c '%b * %S' "$USHM_STATE_DIR")))
quota=$(echo "$line" | sed -n 's/.*segments, \([0-9]*\) bytes.*/\1/p')
ok $([ -n "$quota" ] && [ ${#quota} -lt 19 ] && [ "$quota" -le $((fs_bytes / 4)) ]; echo $?) \
	"no more than a quarter of the state filesystem ($quota of $fs_bytes)"
a=$(fill_until_refused $ATTACKER)
b=$(fill_until_refused 61043)
is "$a $b" "16 16" "two accounts get a quarter of shmmni 64 each"
id=$(create $OTHER 4096)
ok $([[ $id =~ ^[0-9]+$ ]]; echo $?) \
	"a third user can still create a segment ($id)"
stop_daemon
rm -rf "$USHM_STATE_DIR"

# ---- 5: SHM_NORESERVE cannot take the space reserved for others ----
# The state directory on an 8 MiB tmpfs of its own, in a mount namespace
# the daemon alone lives in (the segments are reached by descriptor).
mkdir -p "$USHM_STATE_DIR"
timeout 20 unshare -m --propagation private sh -c '
	mount -t tmpfs -o size=8m,mode=0700 ushm-test "$1" &&
	exec "$2" --daemonize --socket "$3" --state "$1" --quota-bytes 0' \
	sh "$USHM_STATE_DIR" "$USHMD" "$USHM_SOCKET"
wait_for 10 test -S "$USHM_SOCKET"
# Its pid file is on the private tmpfs: ask the daemon, and stop it by
# pid (here and on any exit).
nspid=$("$USHM" daemon status | sed -n 's/^pid: //p')
# Its keeper (which holds the segments while no daemon runs) is its
# child, in the same private mount namespace: stopped by pid too.
nskeeper=$(cat /proc/"$nspid"/task/*/children 2>/dev/null | tr -d ' ')
at_exit "[ -n '$nspid' ] && kill $nspid 2>/dev/null; [ -n '$nskeeper' ] && kill $nskeeper 2>/dev/null; ushm_env_cleanup"
mine=$(create $OTHER $((4 << 20)))
ok $([[ $mine =~ ^[0-9]+$ ]]; echo $?) "a user reserves 4 MiB of the 8 ($mine)"
theirs=$(create $ATTACKER $((6 << 20)) 010600)
is "$theirs" ENOSPC \
	"another user's 6 MiB SHM_NORESERVE segment does not fit beside it"
if [[ $theirs =~ ^[0-9]+$ ]]; then
	# What the attack does when it gets its segment: touch every page.
	as_uid $ATTACKER timeout 20 "$USHM_RUN" "$T" fill "$theirs" 7 \
		2>/dev/null
fi
as_uid $OTHER timeout 20 "$USHM_RUN" "$T" fill "$mine" 3 2>/dev/null
ok $? "the first user can write every page of its segment"
kill "$nspid"
wait_for 10 pid_gone "$nspid"
ok $? "that daemon stops"
ok $([ -n "$nskeeper" ] && kill "$nskeeper" && wait_for 10 pid_gone "$nskeeper"; echo $?) \
	"and its keeper ($nskeeper)"
done_testing
