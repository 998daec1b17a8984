#!/usr/bin/env bash
# One machine, one namespace (issue 9) and the discovery parts of the
# security review (10.7 setuid programs, 10.9 squatted directories).
# Everything runs with the default settings (no USHM_SOCKET), so the test
# re-runs itself in private mount and IPC namespaces with tmpfs on /run,
# /tmp and /dev/shm: the machine's own /run/ushm, /tmp/ushm-UID and kernel
# SysV table are never touched.
. "$(dirname "$0")/../lib.sh"
need_other_users
command -v unshare >/dev/null || skip_all "unshare (util-linux) is needed"

if [ -z "${USHM_NS_INSIDE:-}" ]; then
	export USHM_NS_INSIDE=1
	reexec timeout 300 unshare -m -i --propagation private \
		bash "$0" "$@"
fi
# The checkout may itself lie under one of them (a clone in /tmp): it
# stays reachable at its own path, bound back from a descriptor taken
# before the tmpfs hides it.
keep=()
declare -A keep_fd=()
for p in "$TOP" "$BUILD"; do
	case $p in
	/run/* | /tmp/* | /dev/shm/*)
		exec {fd}<"$p" || { echo "Bail out! cannot open $p"; exit 1; }
		keep+=("$p")
		keep_fd[$p]=$fd
		;;
	esac
done
# Never go on with the machine's own directories.
for d in /run /tmp /dev/shm; do
	mode=0755
	[ "$d" = /run ] || mode=1777
	mount -t tmpfs -o "mode=$mode" ushm-ns-test "$d" ||
		{ echo "Bail out! cannot mount a private $d"; exit 1; }
done
for p in "${keep[@]}"; do
	mkdir -p "$p" && mount --no-canonicalize --bind \
		"/proc/self/fd/${keep_fd[$p]}" "$p" ||
		{ echo "Bail out! cannot keep $p reachable"; exit 1; }
done
unset USHM_SOCKET USHM_STATE_DIR XDG_RUNTIME_DIR USHM_AUTOSTART
export USHM_DAEMON=$USHMD
D=$(mktemp -d /tmp/ns.XXXXXX) && chmod 0755 "$D" || exit 1
T=$BUILD/tests/progs/shmtool
N=$BUILD/tests/namespace/nsprog
U1=61090 U2=61091 SQ=61092 NOBODY=65534

# Every daemon started here keeps its pid in its state directory.
stop_all() {
	local f pid
	for f in /run/ushm/state/ushmd.pid /dev/shm/ushm-*/ushmd.pid \
		/run/user/*/ushm/state/ushmd.pid; do
		pid=$(cat "$f" 2>/dev/null) || continue
		kill -TERM "$pid" 2>/dev/null
		wait_for 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	done
	# Their keepers (which would keep this namespace's tmpfs alive),
	# wherever a state directory was made here.
	for f in $(find /run /tmp /dev/shm -maxdepth 6 -name keeper.pid \
		2>/dev/null); do
		ushm_keeper_stop "${f%/keeper.pid}"
	done
	[ -n "${ACT_PID:-}" ] && kill "$ACT_PID" 2>/dev/null
	[ -n "${X_PID:-}" ] && kill "$X_PID" 2>/dev/null
}
at_exit stop_all

# has TEXT NEEDLE NAME: TEXT contains NEEDLE.
has() {
	case $1 in *"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; printf '#   got: %s\n#   missing: %s\n' "$1" "$2" ;;
	esac
}
idx() { echo $(($1 % 32768)); }
seq_of() { echo $(($1 / 32768)); }

# ---- two users, no system daemon: a per-user daemon each ----
mkdir -p /run/user/$U2 && chown $U2:$U2 /run/user/$U2 && chmod 0700 /run/user/$U2
a=$(as_uid $U1 "$N" get 0x4e5301)
b=$(as_uid $U2 "$N" get 0x4e5301)
ok $([ -S /tmp/ushm-$U1/ushmd.sock ] && [ -d /dev/shm/ushm-$U1 ]; echo $?) \
	"a user without /run/user/UID: /tmp/ushm-UID, state in /dev/shm/ushm-UID"
ok $([ -S /run/user/$U2/ushm/ushmd.sock ]; echo $?) \
	"a user with /run/user/UID gets its daemon there"
ok $([ "$(seq_of "$a")" != "$(seq_of "$b")" ]; echo $?) \
	"the two daemons number from different random points ($a, $b)"
is "$(as_uid $U2 "$N" at "$a")" "EINVAL" "an id of one daemon is stale (EINVAL) in the other"
is "$(as_uid $U1 "$N" at "$b")" "EINVAL" "and the other way round"
pid=$(cat /dev/shm/ushm-$U1/ushmd.pid)
as_uid $U1 "$USHM" daemon stop >/dev/null
wait_for 10 pid_gone "$pid"
c=$(as_uid $U1 "$N" get 0x4e5302)
ok $([ "$(cat /dev/shm/ushm-$U1/ushmd.pid)" != "$pid" ]; echo $?) "a new daemon started"
is "$(seq_of "$c")" "$(( ($(seq_of "$a") + 1) % 65535 ))" \
	"its ids go on with the sequence number after the recorded one"

# ---- 10.9: directories another user made first ----
squat() { # squat UID DIR -> what UID's first call prints
	as_uid "$1" "$N" get 0x4e5303 2>&1
}
as_uid $SQ mkdir -m 0777 /tmp/ushm-61093
out=$(squat 61093)
has "$out" "ushm: /tmp/ushm-61093 belongs to uid $SQ, not to you" \
	"a directory another user made is refused, naming it"
has "$out" "EACCES" "with EACCES"
ok $([ -z "$(ls -A /tmp/ushm-61093)" ]; echo $?) "and nothing was put in it"
mkdir -m 1777 /tmp/ushm-61094
has "$(squat 61094)" "/tmp/ushm-61094 is writable by other users" \
	"a root-owned world-writable socket directory is refused"
as_uid $SQ mkdir -m 0700 /tmp/elsewhere
as_uid $SQ ln -s /tmp/elsewhere /tmp/ushm-61095
has "$(squat 61095)" "/tmp/ushm-61095 is a symbolic link" "a symbolic link is refused"
as_uid $SQ mkdir -m 0777 /dev/shm/ushm-61096
out=$(squat 61096)
has "$out" "/dev/shm/ushm-61096 belongs to uid $SQ" \
	"a squatted state directory is refused before any daemon starts"
ok $([ ! -e /tmp/ushm-61096/ushmd.sock ]; echo $?) "and no daemon runs for that user"

# ---- point 4: only root starts the system daemon ----
out=$(as_uid $NOBODY env USHM_SOCKET=/run/ushm/ushmd.sock "$USHM_RUN" "$T" id 1 2>&1)
has "$out" "only root can start the system daemon" \
	"a user naming the system socket with no daemon there is told who can start it"
has "$out" "shmget: EACCES" "with EACCES"

# ---- point 4: a per-user directory the user may not write ----
out=$(as_uid $U2 env XDG_RUNTIME_DIR="$D" "$USHM_RUN" "$T" id 1 2>&1)
has "$out" "cannot start a daemon for $D/ushm/ushmd.sock: making $D/ushm: Permission denied" \
	"a runtime directory the user may not write is named, with the reason"
has "$out" "shmget: EACCES" "with EACCES"

# ---- 10.7: a setuid-root program and a hostile environment ----
mkdir -m 0755 "$D/bin"
cp "$N" "$D/bin/suid" && chmod 4755 "$D/bin/suid"
cat >"$D/evil" <<EOF
#!/bin/sh
touch $D/evil-ran
EOF
chown $U1 "$D/evil" && chmod 0755 "$D/evil"
hostile() {
	as_uid $U1 env USHM_DAEMON="$D/evil" \
		USHM_SOCKET=/tmp/ushm-$U1/ushmd.sock USHM_STATE_DIR="$D/st" \
		XDG_RUNTIME_DIR=/tmp/ushm-$U1 PATH="$D:$PATH" "$D/bin/suid" "$@" 2>&1
}
out=$(hostile get 0x4e5304)
ok $([ ! -e "$D/evil-ran" ]; echo $?) "setuid: USHM_DAEMON is never run"
has "$out" "a privileged program starts only the ushmd installed with it" \
	"it says why no daemon was started"
is "$(as_uid $U1 "$USHM_RUN" "$T" id 0x4e5304 2>&1)" \
	"shmtool: shmget: ENOENT" "nothing was created in the user's daemon"
ok $([ "$(stat -c %u:%g:%a /run/ushm)" = 0:0:755 ]; echo $?) \
	"setuid: the system directory it made is root's, 0755"
touch /run/ushm/ushmd.sock
mount --bind /tmp/ushm-$U1/ushmd.sock /run/ushm/ushmd.sock
out=$(hostile get 0x4e5304)
has "$out" "runs as uid $U1, neither root nor you" \
	"setuid: a user's daemon at the system socket is refused"
has "$out" "EACCES" "with EACCES"
out=$(as_uid $U2 "$N" get 0x4e5305)
ok $([ "$(as_uid $U2 "$N" at "$out")" = "byte 0" ]; echo $?) \
	"another user does not take it for the system daemon"
umount /run/ushm/ushmd.sock
rm /run/ushm/ushmd.sock

# ---- point 4: root refuses another user's daemon ----
out=$(USHM_SOCKET=/tmp/ushm-$U1/ushmd.sock "$N" get 1 2>&1)
has "$out" "/tmp/ushm-$U1/ushmd.sock: the daemon there runs as uid $U1" \
	"root is told it will not use another user's daemon"

# ---- root and nobody share one namespace with no configuration ----
rm -rf /run/ushm
id=$("$USHM_RUN" "$T" create 0x4e5306 8192 0666)
"$USHM_RUN" "$T" fill "$id" 5
is "$(stat -c %a /run/ushm)" 755 "root started the system daemon: /run/ushm is 0755"
is "$(stat -c %a /run/ushm/ushmd.sock)" 666 "its socket 0666"
is "$(stat -c %a /run/ushm/state)" 700 "its state 0700"
is "$(as_uid $NOBODY "$USHM_RUN" "$T" id 0x4e5306 2>&1)" "$id" \
	"nobody finds root's segment by key, with the same id"
as_uid $NOBODY "$USHM_RUN" "$T" check "$id" 5
ok $? "and the same bytes"
ok $(as_uid $NOBODY "$USHM" ls | awk -v id="$id" '$2 == id' | grep -q .; echo $?) \
	"ushm ls as nobody lists it"
is "$(ipcs -m | awk '$1 ~ /^0x/' | wc -l)" 0 "nothing reached the kernel's table"
ok $(ls /run/ushm/state | grep -q "^seg-$(idx "$id")\."; echo $?) \
	"the segment is in the system daemon's state"

out=$("$N" forkdrop 0x4e5307 $NOBODY)
p=$(sed -n 's/^parent //p' <<<"$out")
is "$(sed -n 's/^child //p' <<<"$out")" "$p R" \
	"a root program's child that drops to nobody finds the segment"

# ---- a process keeps its namespace: no silent switch ----
out=$("$N" repoint 0x4e530c "$D/other.sock")
p=$(sed -n 's/^before //p' <<<"$out")
is "$(sed -n 's/^after //p' <<<"$out") $(sed -n 's/^child //p' <<<"$out")" "$p $p" \
	"a process whose USHM_SOCKET changes after its first call, and its child, keep their daemon"
ok $([ ! -e "$D/other.sock" ]; echo $?) "no daemon was started on the new socket"
mkdir -m 0700 "$D/priv"
USHM_SOCKET=$D/priv/sock USHM_STATE_DIR=$D/priv/state "$N" get 1 >/dev/null
out=$(USHM_SOCKET=$D/priv/sock USHM_STATE_DIR=$D/priv/state "$N" forkdrop 0x4e5308 $NOBODY 2>&1)
has "$out" "child EACCES" "a child that can no longer reach its daemon gets an error"
has "$out" "$D/priv/sock: this process used the daemon there and can no longer reach it" \
	"naming the socket, although the system daemon answers"
kill "$(cat "$D/priv/state/ushmd.pid")"

# ---- ... and across exec, even after clearenv() ----
id=$(USHM_SOCKET=$D/cx.sock "$USHM_RUN" "$BUILD/tests/progs/clearexec" \
	"$T" create 0x4e530b 4096 0600 2>&1)
is "$(USHM_SOCKET=$D/cx.sock "$USHM_RUN" "$T" id 0x4e530b 2>&1)" "$id" \
	"a program run after clearenv() still uses its parent's daemon"
is "$(ipcs -m | awk '$1 ~ /^0x/' | wc -l)" 0 "and not the kernel"
kill "$(cat "$D/cx.sock.d/ushmd.pid")"

# ---- 10.7 again, with the system daemon up ----
out=$(hostile get 0x4e5309)
ok $([ ! -e "$D/evil-ran" ]; echo $?) "setuid: still nothing of the environment ran"
is "$("$USHM_RUN" "$T" id 0x4e5309)" "$out" "its segment is in the system daemon"

# ---- systemd socket activation on the system socket ----
if command -v systemd-socket-activate >/dev/null; then
	pid=$(cat /run/ushm/state/ushmd.pid)
	"$USHM" daemon stop >/dev/null
	wait_for 10 pid_gone "$pid"
	systemd-socket-activate --seqpacket -l /run/ushm/ushmd.sock \
		"$USHMD" --foreground --state /run/ushm/state 2>"$D/act.log" &
	ACT_PID=$!
	wait_for 10 test -S /run/ushm/ushmd.sock
	# As ushmd.socket has it (SocketMode=0666); the tool binds 0644.
	chmod 0666 /run/ushm/ushmd.sock
	id=$(as_uid $U1 env -u USHM_DAEMON "$USHM_RUN" "$T" create 0x4e530a 4096 0666)
	as_uid $U1 env -u USHM_DAEMON "$USHM_RUN" "$T" fill "$id" 9
	is "$(as_uid $U2 env -u USHM_DAEMON "$USHM_RUN" "$T" id 0x4e530a 2>&1)" "$id" \
		"socket-activated system daemon: two users with no environment share a segment"
	as_uid $U2 env -u USHM_DAEMON "$USHM_RUN" "$T" check "$id" 9
	ok $? "with the same bytes"
	is "$(as_uid $U1 "$USHM_RUN" "$T" id 0x4e5306 2>&1)" "$("$USHM_RUN" "$T" id 0x4e5306)" \
		"root's earlier segment is there too (same state)"
	kill "$ACT_PID" 2>/dev/null
	pid=$(cat /run/ushm/state/ushmd.pid 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait_for 10 pid_gone "$pid"
	wait "$ACT_PID" 2>/dev/null
	ACT_PID=
else
	ok 0 "# SKIP systemd-socket-activate missing (package systemd)"
fi

# ---- MIT-SHM: Xvfb as root, x11perf as another user ----
if command -v Xvfb >/dev/null && command -v x11perf >/dev/null; then
	before=$("$USHM_RUN" "$T" create private 4096 0600)
	# A sanitizer run preloads ASan into the X programs too: their own
	# leaks are not ours to report.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	"$USHM_RUN" Xvfb :7 -ac -nolisten tcp -screen 0 1024x768x24 \
		>"$D/xvfb.log" 2>&1 &
	X_PID=$!
	wait_for 20 test -S /tmp/.X11-unix/X7
	out=$(as_uid $NOBODY env DISPLAY=:7 timeout 60 "$USHM_RUN" x11perf \
		-repeat 1 -time 1 -shmput10 2>&1)
	has "$out" "ShmPutImage 10x10 square" "x11perf -shmput10 as nobody: MIT-SHM works"
	after=$("$USHM_RUN" "$T" create private 4096 0600)
	ok $([ $(( $(idx "$after") - $(idx "$before") )) -gt 1 ]; echo $?) \
		"its segment came from ushm (ids moved on: $before, $after)"
	is "$(ipcs -m | awk '$1 ~ /^0x/' | wc -l)" 0 "nothing reached the kernel's table"
	kill "$X_PID"
	wait "$X_PID" 2>/dev/null
	X_PID=
else
	ok 0 "# SKIP Xvfb or x11perf missing (packages xvfb, x11-apps)"
fi
done_testing
