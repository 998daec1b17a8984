#!/usr/bin/env bash
# mk assigns the variables it is named, which shellcheck cannot see.
# shellcheck disable=SC2154

# ls-ushm.t - "ushm ls" on a private daemon shows ushm's segments exactly
# as ipcs -m shows the same segments made on the kernel (only the shmid
# values differ); "ushm rm" removes them; "ushm daemon status|stop" report
# on and stop that daemon, whose segments come back with the next one.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tests/cli/shmtool
[ -x "$USHM" ] && [ -x "$TOOL" ] && [ -x "$USHMD" ] ||
	skip_all "build ushm, ushmd and shmtool first"
ushm_env_setup

ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
KERNEL=1	# the kernel picture needs SysV shm and util-linux's ipcs
command -v ipcs >/dev/null && ipcs -m >/dev/null 2>&1 || KERNEL=0
WORK=$USHM_TEST_DIR/work
mkdir "$WORK" || exit 1

# Keys 0x5bPPPP00 + n, where PPPP is our pid (ls-kernel.t uses 0x5a).
BASE=$(( 0x5b000000 | (($$ & 0xffff) << 8) ))
key() { printf '0x%08x' $(( (BASE + $1) & 0xffffffff )); }

declare -A KLIVE=()	# kernel ids still ours to remove
HOLDERS=()

cleanup() {
	local pid id
	for pid in "${HOLDERS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for id in "${!KLIVE[@]}"; do
		ipcrm -m "$id" 2>/dev/null
	done
	ushm_env_cleanup
}
at_exit cleanup

# mk VAR SIDE KEY SIZE MODE: a segment on SIDE (k: kernel, u: ushm), its
# id in VAR.
mk() {
	local id flag=
	[ "$2" = k ] && flag=-k
	# shellcheck disable=SC2086
	id=$("$TOOL" $flag get "$3" "$4" "$5") ||
		{ echo "cannot create ${*:2}" >&2; exit 1; }
	[ "$2" = k ] && KLIVE[$id]=1
	printf -v "$1" '%s' "$id"
}

# tool SIDE ARGS...: shmtool on that side.
tool() {
	if [ "$1" = k ]; then "$TOOL" -k "${@:2}"; else "$TOOL" "${@:2}"; fi
}

# hold SIDE ID N ...: a process keeping these attachments until cleanup.
# Started directly (not through tool) so that $! is shmtool itself, and
# away from our stdout, which prove reads until every writer is gone.
hold() {
	local ready=$WORK/ready.$RANDOM$RANDOM flag=
	[ "$1" = k ] && flag=-k
	# shellcheck disable=SC2086
	mkfifo "$ready" || exit 1
	"$TOOL" $flag hold "$ready" "${@:2}" >/dev/null 2>>"$WORK/holders" &
	HOLDERS+=($!)
	await_ready "$ready" && return 0
	echo "holder for $* did not get ready" >&2
	exit 1
}

# gone PID: the process has exited (a zombie nobody reaps counts: in a
# container, pid 1 may not reap the daemons the library double-forks).
gone() {
	local state
	kill -0 "$1" 2>/dev/null || return 0
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}

NOUSER=4242
while getent passwd "$NOUSER" >/dev/null; do NOUSER=$((NOUSER + 1)); done
LONGUID=$(getent passwd | awk -F: 'length($1) > 10 { print $3; exit }')

# picture SIDE: the same segments on either side; ids in ID_<side>_<label>.
LABELS=()
picture() {
	local s=$1 v
	var() { printf 'ID_%s_%s' "$s" "$1"; }
	mk "$(var plain)" "$s" "$(key 1)" 4096 0644
	mk "$(var private)" "$s" 0 100 0600
	mk "$(var wide)" "$s" "$(key 2)" 12345678901 0600
	mk "$(var noperm)" "$s" "$(key 3)" 1 0
	mk "$(var allperm)" "$s" "$(key 4)" 65536 0777
	mk "$(var highkey)" "$s" \
		"$(printf '0x%08x' $(( (BASE + 5) | 0x80000000 )))" 8192 0640
	mk "$(var nattch)" "$s" "$(key 6)" 4096 0600
	mk "$(var dest)" "$s" "$(key 7)" 4096 0600
	v=$(var nattch); local nattch=${!v}
	v=$(var dest); local dest=${!v}
	hold "$s" "$nattch" 2 "$dest" 3
	tool "$s" rmid "$dest"
	[ "$s" = k ] && unset "KLIVE[$dest]"
	LABELS=(plain private wide noperm allperm highkey nattch dest)
	[ "$ROOT" = 1 ] || return 0
	mk "$(var nobody)" "$s" "$(key 8)" 4096 0600
	v=$(var nobody); tool "$s" set "${!v}" 65534 65534 0600
	mk "$(var nouser)" "$s" "$(key 9)" 4096 0666
	v=$(var nouser); tool "$s" set "${!v}" "$NOUSER" "$NOUSER" 0666
	LABELS+=(nobody nouser)
	if [ -n "$LONGUID" ]; then
		mk "$(var longname)" "$s" "$(key 10)" 4096 0600
		v=$(var longname); tool "$s" set "${!v}" "$LONGUID" 0 0600
		LABELS+=(longname)
	fi
	mk "$(var locked)" "$s" "$(key 11)" 4096 0600
	v=$(var locked); tool "$s" lock "${!v}"
	mk "$(var both)" "$s" "$(key 12)" 4096 0600
	v=$(var both); local both=${!v}
	tool "$s" lock "$both"
	hold "$s" "$both" 1
	tool "$s" rmid "$both"
	[ "$s" = k ] && unset "KLIVE[$both]"
	LABELS+=(locked both)
}

# line FILE ID: the listing's line for that shmid, the shmid masked (its
# column is 10 wide plus a space whatever the value).
line() {
	awk -v id="$2" 'NR > 3 && $2 == id' "$1" |
		sed -E 's/^(0x[0-9a-f]{8} )[0-9 ]{10} /\1<shmid>    /'
}

# ---- ushm ls against ipcs -m ----
picture u
[ "$KERNEL" = 1 ] && picture k
"$USHM" ls >"$WORK/ushm" 2>"$WORK/err"
is $? 0 "ushm ls: exit status 0"
is "$(wc -c <"$WORK/err")" 0 "ushm ls: nothing on stderr"
is "$(awk 'NR > 3 && NF' "$WORK/ushm" | wc -l)" "${#LABELS[@]}" \
	"ushm ls: one line per segment"
if [ "$KERNEL" = 1 ]; then
	ipcs -m >"$WORK/ipcs"
	is "$(head -n 3 "$WORK/ushm")" "$(head -n 3 "$WORK/ipcs")" \
		"blank line, title and header as ipcs"
	is "$(tail -c 2 "$WORK/ushm" | od -An -c)" \
	   "$(tail -c 2 "$WORK/ipcs" | od -An -c)" "ends as ipcs does"
	for l in "${LABELS[@]}"; do
		k=ID_k_$l; u=ID_u_$l
		got=$(line "$WORK/ushm" "${!u}")
		want=$(line "$WORK/ipcs" "${!k}")
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			ok 0 "$l: the line of ipcs -m, shmid aside"
		else
			ok 1 "$l: the line of ipcs -m, shmid aside"
			printf '#   got:  [%s]\n#   want: [%s]\n' "$got" "$want"
		fi
	done
else
	ok 0 "# SKIP no ipcs or no SysV shm in the kernel to compare with"
fi
"$USHM" ipcs >"$WORK/alias"
cmp -s "$WORK/alias" "$WORK/ushm"
is $? 0 "ushm ipcs is ushm ls"

# ---- daemon status ----
"$USHM" daemon status >"$WORK/status" 2>"$WORK/err"
is $? 0 "daemon status: exit status 0"
field() { sed -n "s/^$1: //p" "$WORK/status"; }
is "$(grep -cvE '^[a-z_]+: .+$' "$WORK/status")" 0 \
	"daemon status: only 'name: value' lines"
is "$(field pid)" "$(ushm_daemon_pid)" "daemon status: pid"
is "$(field socket_path)" "$USHM_SOCKET" "daemon status: socket_path"
is "$(field state_dir)" "$USHM_STATE_DIR" "daemon status: state_dir"
is "$(field segments)" "${#LABELS[@]}" "daemon status: segments"
for f in proto_version connections open_fds orphans started; do
	field "$f" | grep -qE '^[0-9]+$'
	is $? 0 "daemon status: $f is a number"
done

# ---- daemon stop: the segments outlive the daemon ----
old=$(ushm_daemon_pid)
"$USHM" daemon stop >"$WORK/out" 2>"$WORK/err"
is $? 0 "daemon stop: exit status 0"
gone "$old"
is $? 0 "daemon stop: the daemon is gone when it returns"
"$USHM" daemon status >"$WORK/out" 2>"$WORK/err"
is $? 1 "daemon status with no daemon: exit status 1"
is "$(wc -l <"$WORK/err")" 1 "daemon status with no daemon: one line"
grep -q "no daemon is running" "$WORK/err"
is $? 0 "daemon status with no daemon: says so"
"$USHM" daemon stop 2>"$WORK/err"
is $? 1 "daemon stop with no daemon: exit status 1"
USHM_AUTOSTART=0 "$USHM" ls >"$WORK/out" 2>"$WORK/err"
is $? 4 "ls with no daemon and no autostart: exit status 4"
is "$(wc -l <"$WORK/err")" 1 "ls with no daemon and no autostart: one line"
is "$(wc -c <"$WORK/out")" 0 "ls with no daemon and no autostart: no table"
"$USHM" ls >"$WORK/again" 2>"$WORK/err"
is $? 0 "ls autostarts a daemon"
isnt_old=$(ushm_daemon_pid)
[ -n "$isnt_old" ] && [ "$isnt_old" != "$old" ]
is $? 0 "a new daemon runs"
if cmp -s "$WORK/again" "$WORK/ushm"; then
	ok 0 "its listing is the old one: segments, ids, nattch and status"
else
	ok 1 "its listing is the old one: segments, ids, nattch and status"
	diff -u "$WORK/ushm" "$WORK/again" | diag
fi

# ---- rm ----
count() { "$USHM" ls | awk 'NR > 3 && NF' | wc -l; }
has_key() { "$USHM" ls | awk -v k="$1" '$1 == k { f = 1 } END { exit !f }'; }
has_id() { "$USHM" ls | awk -v i="$1" '$2 == i { f = 1 } END { exit !f }'; }

rm_once() {	# rm_once NAME WANT_RC ARGS...
	local name=$1 want=$2 rc
	shift 2
	"$USHM" rm "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	is "$rc" "$want" "$name: exit status $want"
	is "$(wc -c <"$WORK/out")" 0 "$name: nothing on stdout"
}

rm_once "rm -M key" 0 -M "$(key 1)"
has_key "$(key 1)"; is $? 1 "rm -M key: gone"
rm_once "rm -m id" 0 -m "$ID_u_private"
has_id "$ID_u_private"; is $? 1 "rm -m id: gone"
rm_once "rm with several flags" 0 --shmem-key "$(key 2)" \
	--shmem-id "$ID_u_noperm" -M "$(( $(key 4) ))"
n=0
for id in "$ID_u_wide" "$ID_u_noperm" "$ID_u_allperm"; do
	has_id "$id" && n=$((n + 1))
done
is "$n" 0 "rm with several flags: all gone"

FREE=2000000000		# far above any index the daemon hands out
rm_once "rm -m free id" 1 -m "$FREE"
is "$(cat "$WORK/err")" "ushm: rm -m $FREE: no such segment (EINVAL)" \
	"rm -m free id: message"
rm_once "rm -M unused key" 1 -M "$(key 50)"
is "$(cat "$WORK/err")" "ushm: rm -M $(key 50): no such segment (ENOENT)" \
	"rm -M unused key: message"
rm_once "rm -M on a removed segment's key" 1 -M "$(key 7)"
is "$(cat "$WORK/err")" "ushm: rm -M $(key 7): no such segment (ENOENT)" \
	"rm -M skips segments already removed (dest)"
rm_once "rm -m 12abc" 2 -m 12abc
is "$(wc -l <"$WORK/err")" 1 "rm -m 12abc: one line"

if [ "$ROOT" = 1 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$USHM"; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$USHM" rm -m "$ID_u_highkey" 2>"$WORK/err"
	is $? 3 "rm as another user: exit status 3"
	is "$(cat "$WORK/err")" \
		"ushm: rm -m $ID_u_highkey: permission denied (EPERM)" \
		"rm as another user: message"
	has_id "$ID_u_highkey"; is $? 0 "rm as another user: still there"
	"$USHM" ls >"$WORK/root.ls"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$USHM" ls >"$WORK/nobody.ls"
	cmp -s "$WORK/root.ls" "$WORK/nobody.ls"
	is $? 0 "ls as another user: every segment, unreadable ones too"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$USHM" daemon stop 2>"$WORK/err"
	is $? 3 "daemon stop as another user: exit status 3"
	is "$(wc -l <"$WORK/err")" 1 "daemon stop as another user: one line"
	"$USHM" daemon status >/dev/null 2>&1
	is $? 0 "daemon stop as another user: the daemon still runs"
else
	ok 0 "# SKIP permission checks need root and setpriv"
fi

attached=$("$USHM" ls | awk 'NR > 3 && NF && $6 > 0' | wc -l)
rm_once "rm -a" 0 -a
is "$(count)" "$attached" "rm -a: only the attached ones remain"
is "$("$USHM" ls | awk 'NR > 3 && NF && $7 != "dest"' | wc -l)" 0 \
	"rm -a: and they are marked dest"
for pid in "${HOLDERS[@]}"; do
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
HOLDERS=()
# The holders are reaped: the daemon has seen them go (pidfd) or will
# on its next pass; the count, not an event, says when.
wait_for 5 test "$(count)" = 0
is "$(count)" 0 "and go with their last process"
rm_once "rm -a on an empty table" 0 --all

# ---- help and usage ----
for cmd in "ls" "rm" "daemon" "daemon status" "daemon stop"; do
	# shellcheck disable=SC2086
	"$USHM" $cmd --help >"$WORK/out" 2>"$WORK/err"
	is $? 0 "ushm $cmd --help: status 0"
	grep -q "^Usage: ushm" "$WORK/out"
	is $? 0 "ushm $cmd --help: a usage text"
done
for args in "frob" "ls --frob" "daemon frob" "daemon" "--kernel daemon status"\
	    "-q" ""; do
	# shellcheck disable=SC2086
	"$USHM" $args >"$WORK/out" 2>"$WORK/err"
	is $? 2 "ushm $args: status 2"
	is "$(wc -l <"$WORK/err")" 1 "ushm $args: one line on stderr"
	grep -q "(try 'ushm.*--help')" "$WORK/err"
	is $? 0 "ushm $args: points to --help"
done

done_testing
