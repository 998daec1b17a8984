#!/usr/bin/env bash
# views-kernel.t - every view of "ushm --kernel ls" (-t, -p, -c, -l, -u,
# -i ID, --human, --bytes) prints byte for byte what ipcs -m prints with
# the same flags, on the kernel's own segments: the formatting code is
# checked against util-linux on this very machine.  views-ushm.t then
# checks that the same code reads ushm's segments the same way.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tests/cli/shmtool
command -v ipcs >/dev/null || skip_all "ipcs (util-linux) is needed"
[ -x "$USHM" ] && [ -x "$TOOL" ] || skip_all "build ushm and shmtool first"
ipcs -m >/dev/null 2>&1 || skip_all "ipcs -m does not work here"
# It compares whole listings of the kernel table: nobody else may
# change it meanwhile.
kernel_lock_exclusive

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ushm-views-kernel.XXXXXX") || exit 1
# Keys 0x5cPPPP00 + n, where PPPP is our pid: ours alone.
BASE=$(( 0x5c000000 | (($$ & 0xffff) << 8) ))
key() { printf '0x%08x' $(( (BASE + $1) & 0xffffffff )); }

IDS=()
HOLDER=
cleanup() {
	local id
	[ -n "$HOLDER" ] && { kill "$HOLDER" 2>/dev/null; wait "$HOLDER"; }
	# mk runs in $(...) subshells: the ids are in a file, not in IDS.
	for id in "${IDS[@]}" $(cat "$WORK/ids" 2>/dev/null); do
		ipcrm -m "$id" 2>/dev/null
	done
	rm -rf "$WORK"
}
at_exit cleanup

mk() {
	local id
	id=$("$TOOL" -k get "$1" "$2" "$3") ||
		skip_all "no System V shared memory in this kernel"
	IDS+=("$id")
	echo "$id" >>"$WORK/ids"
	echo "$id"
}

# same VIEW...: ushm --kernel ls VIEW == ipcs -m VIEW, on a table that
# held still while both looked at it (other tests change it meanwhile).
same() {
	local rc
	for _ in $(seq 50); do
		ipcs -m "$@" >"$WORK/before" 2>&1
		"$USHM" --kernel ls "$@" >"$WORK/got" 2>"$WORK/err"
		rc=$?
		ipcs -m "$@" >"$WORK/after" 2>&1
		cmp -s "$WORK/before" "$WORK/after" && break
		sleep 0.05
	done
	is "$rc" 0 "ls $*: exit status 0"
	if cmp -s "$WORK/got" "$WORK/before" && [ ! -s "$WORK/err" ]; then
		ok 0 "ls $*: byte-identical to ipcs -m $*"
	else
		ok 1 "ls $*: byte-identical to ipcs -m $*"
		diff -u "$WORK/before" "$WORK/got" | diag
		sed 's/^/stderr: /' "$WORK/err" | diag
	fi
}

a=$(mk "$(key 1)" 5000 0640)
b=$(mk "$(key 2)" 1048000 0600)		# 1023.4K: wider than 6
c=$(mk "$(key 3)" 1 0)
d=$(mk 0 $((3 * 1024 * 1024 / 2)) 0644)	# 1.5M
e=$(mk "$(key 4)" 12345678901 0600)
# Owners without a name, and names longer than a column (ipcs cuts them
# in the owner column, not in -c's): only root may give segments away.
if [ "$(id -u)" = 0 ]; then
	f=$(mk "$(key 5)" 4096 0600)
	nouser=4242
	while getent passwd "$nouser" >/dev/null ||
	      getent group "$nouser" >/dev/null; do
		nouser=$((nouser + 1))
	done
	"$TOOL" -k set "$f" "$nouser" "$nouser" 0600
	longuid=$(getent passwd | awk -F: 'length($1) > 10 { print $3; exit }')
	longgid=$(getent group | awk -F: 'length($1) > 10 { print $3; exit }')
	if [ -n "$longuid" ]; then
		g=$(mk "$(key 6)" 4096 0600)
		"$TOOL" -k set "$g" "$longuid" "${longgid:-0}" 0600
	fi
fi
ready=$WORK/ready
mkfifo "$ready"
"$TOOL" -k hold "$ready" "$a" 2 "$d" 1 >/dev/null 2>&1 &
HOLDER=$!
await_ready "$ready" || { echo "holder not ready" >&2; exit 1; }

for v in "" -t -p -c -l -u --human --bytes "-t --human" "-c --human" \
	 "-l --human" "-l --bytes" "-u --human"; do
	# shellcheck disable=SC2086
	same $v
done
for id in "$a" "$b" "$c" "$d" "$e"; do
	same -i "$id"
	same -i "$id" --human
done
# Long options, as ipcs spells them.
same --time
same --pid
same --creator
same --limits
same --summary
same --id "$a"

done_testing
