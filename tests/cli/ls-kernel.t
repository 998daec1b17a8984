#!/usr/bin/env bash
# mk assigns the variables it is named, which shellcheck cannot see.
# shellcheck disable=SC2154

# ls-kernel.t - "ushm --kernel ls" prints byte for byte what ipcs -m
# prints, and "ushm --kernel rm" removes what ipcrm removes, failing where
# ipcrm fails.  Both run on the kernel's own segments, so this checks the
# listing and removal code against util-linux on this very machine.
#
# Other tests may create and remove kernel segments meanwhile: listings
# are compared on a stable table (ipcs before and after agree), and every
# key used here is derived from our pid.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tests/cli/shmtool
command -v ipcs >/dev/null && command -v ipcrm >/dev/null ||
	skip_all "ipcs and ipcrm (util-linux) are needed"
[ -x "$USHM" ] && [ -x "$TOOL" ] || skip_all "build ushm and shmtool first"
ipcs -m >/dev/null 2>&1 || skip_all "ipcs -m does not work here"
# It compares whole listings of the kernel table: nobody else may change
# it meanwhile.
kernel_lock_exclusive

ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ushm-ls-kernel.XXXXXX") || exit 1

# Keys 0x5aPPPP00 + n, where PPPP is our pid: ours alone.
BASE=$(( 0x5a000000 | (($$ & 0xffff) << 8) ))
key() { printf '0x%08x' $(( (BASE + $1) & 0xffffffff )); }

declare -A LIVE=()	# kernel ids we made and have not removed yet
HOLDERS=()

cleanup() {
	local pid id
	for pid in "${HOLDERS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for id in "${!LIVE[@]}"; do
		ipcrm -m "$id" 2>/dev/null
	done
	rm -rf "$WORK"
}
at_exit cleanup

# mk VAR KEY SIZE MODE: a kernel segment, its id in VAR.  Not "$(mk)":
# LIVE must be updated in this shell, not in a subshell.
mk() {
	local id
	id=$("$TOOL" -k get "$2" "$3" "$4") ||
		{ echo "cannot create ${*:2}" >&2; exit 1; }
	LIVE[$id]=1
	printf -v "$1" '%s' "$id"
}

# gone ID: the test removed it; cleanup must not touch that id again.
gone() { unset "LIVE[$1]"; }

# hold ID N ...: a process keeping these attachments until cleanup,
# away from our stdout, which prove reads until every writer is gone.
hold() {
	local ready=$WORK/ready.$RANDOM$RANDOM
	mkfifo "$ready" || exit 1
	"$TOOL" -k hold "$ready" "$@" >/dev/null 2>>"$WORK/holders" &
	HOLDERS+=($!)
	await_ready "$ready" && return 0
	echo "holder for $* did not get ready" >&2
	exit 1
}

# exists ID: the kernel still has a segment with that id.
exists() { ipcs -m | awk -v id="$1" '$2 == id { f = 1 } END { exit !f }'; }

# same_as_ipcs NAME: ushm --kernel ls == ipcs -m, on a table that held
# still while both looked at it.
same_as_ipcs() {
	local name=$1 rc
	for _ in $(seq 50); do
		ipcs -m >"$WORK/before"
		"$USHM" --kernel ls >"$WORK/got" 2>"$WORK/err"
		rc=$?
		ipcs -m >"$WORK/after"
		cmp -s "$WORK/before" "$WORK/after" && break
		sleep 0.05
	done
	is "$rc" 0 "$name: exit status 0"
	is "$(wc -c <"$WORK/err")" 0 "$name: nothing on stderr"
	if cmp -s "$WORK/got" "$WORK/before"; then
		ok 0 "$name: byte-identical to ipcs -m"
	else
		ok 1 "$name: byte-identical to ipcs -m"
		diff -u "$WORK/before" "$WORK/got" | diag
	fi
}

# A uid with no passwd entry, and the uid of a user whose name is longer
# than the owner column.
NOUSER=4242
while getent passwd "$NOUSER" >/dev/null; do NOUSER=$((NOUSER + 1)); done
LONGUID=$(getent passwd | awk -F: 'length($1) > 10 { print $3; exit }')

probe=$("$TOOL" -k get "$(key 0)" 1 0600 2>/dev/null) ||
	skip_all "no System V shared memory in this kernel"
LIVE[$probe]=1

same_as_ipcs "table as found"

# ---- a variety of segments ----
mk s_plain "$(key 1)" 4096 0644
mk s_private 0 100 0600
mk s_big "$(key 2)" 12345678901 0600	# bytes wider than its column
mk s_none "$(key 3)" 1 0
mk s_all "$(key 4)" 65536 0777
mk s_high "$(printf '0x%08x' $(( (BASE + 5) | 0x80000000 )))" 8192 0640
mk s_nattch "$(key 6)" 4096 0600
mk s_dest "$(key 7)" 4096 0600
hold "$s_nattch" 2 "$s_dest" 3
"$TOOL" -k rmid "$s_dest"	# attached: stays, marked dest, key 0
gone "$s_dest"			# and goes with its holder
same_as_ipcs "plain, private, wide, 0 and 777 perms, high key, nattch, dest"

if [ "$ROOT" = 1 ]; then
	mk s_nobody "$(key 8)" 4096 0600
	"$TOOL" -k set "$s_nobody" 65534 65534 0600
	mk s_nouser "$(key 9)" 4096 0666
	"$TOOL" -k set "$s_nouser" "$NOUSER" "$NOUSER" 0666
	if [ -n "$LONGUID" ]; then
		mk s_long "$(key 10)" 4096 0600
		"$TOOL" -k set "$s_long" "$LONGUID" 0 0600
	fi
	mk s_locked "$(key 11)" 4096 0600
	"$TOOL" -k lock "$s_locked"
	mk s_both "$(key 12)" 4096 0600
	"$TOOL" -k lock "$s_both"
	hold "$s_both" 1
	"$TOOL" -k rmid "$s_both"
	gone "$s_both"
	same_as_ipcs "owners nobody, uid $NOUSER, long name; locked; both"
else
	ok 0 "# SKIP owners and SHM_LOCK need root"
fi

# ---- rm, on segments made for it ----
rm_once() {	# rm_once NAME WANT_RC ARGS...: run ushm rm, keep its stderr
	local name=$1 want=$2 rc
	shift 2
	"$USHM" --kernel rm "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	is "$rc" "$want" "$name: exit status $want"
	is "$(wc -c <"$WORK/out")" 0 "$name: nothing on stdout"
}

mk a "$(key 20)" 4096 0600
rm_once "rm -M hex key" 0 -M "$(key 20)"
exists "$a"; is $? 1 "rm -M hex key: segment gone"
gone "$a"

mk a "$(key 21)" 4096 0600
rm_once "rm -M decimal key" 0 -M "$(( $(key 21) ))"
exists "$a"; is $? 1 "rm -M decimal key: segment gone"
gone "$a"

mk a "$(key 22)" 4096 0600
rm_once "rm -M octal key" 0 --shmem-key "$(printf '0%o' "$(key 22)")"
exists "$a"; is $? 1 "rm --shmem-key octal key: segment gone"
gone "$a"

mk a "$(key 23)" 4096 0600
rm_once "rm -m id" 0 -m "$a"
exists "$a"; is $? 1 "rm -m id: segment gone"
gone "$a"

mk a "$(key 24)" 4096 0600
mk b "$(key 25)" 4096 0600
mk c 0 4096 0600
mk d "$(key 26)" 4096 0600
rm_once "rm with four flags" 0 -m "$a" -M "$(key 25)" --shmem-id="$c" \
	--shmem-key "$(key 26)"
n=0
for id in "$a" "$b" "$c" "$d"; do
	exists "$id" && n=$((n + 1))
	gone "$id"
done
is "$n" 0 "rm with four flags: all four gone"

# An id that surely is free: one we just removed (the kernel does not
# hand an id out again before its sequence number wraps).
free_id=$a

# Errors: one line each, naming the flag and why; ipcrm fails too.
rm_once "rm -m free id" 1 -m "$free_id"
is "$(cat "$WORK/err")" "ushm: rm -m $free_id: no such segment (EINVAL)" \
	"rm -m free id: message"
ipcrm -m "$free_id" 2>/dev/null
is $? 1 "ipcrm -m free id fails as well (status 1)"

rm_once "rm -M unused key" 1 -M "$(key 27)"
is "$(cat "$WORK/err")" "ushm: rm -M $(key 27): no such segment (ENOENT)" \
	"rm -M unused key: message"
ipcrm -M "$(key 27)" 2>/dev/null
is $? 1 "ipcrm -M unused key fails as well (status 1)"

# The same mixed command through ipcrm and through ushm, on two copies
# of a picture: both remove the existing segments and report the rest.
mk pa "$(key 30)" 4096 0600; mk pb "$(key 31)" 4096 0600
mk qa "$(key 32)" 4096 0600; mk qb "$(key 33)" 4096 0600
ipcrm -m "$pa" -m "$free_id" -M "$(key 31)" -M "$(key 34)" 2>"$WORK/ipcrm.err"
ipcrm_rc=$?
rm_once "mixed good and bad flags" 1 -m "$qa" -m "$free_id" \
	-M "$(key 33)" -M "$(key 34)"
is "$ipcrm_rc" 1 "ipcrm with the same flags fails too"
is "$(wc -l <"$WORK/err")" "$(wc -l <"$WORK/ipcrm.err")" \
	"as many error lines as ipcrm"
n=0
for id in "$pa" "$pb" "$qa" "$qb"; do
	exists "$id" && n=$((n + 1))
	gone "$id"
done
is "$n" 0 "both removed the segments that existed"
is "$(sed -n 1p "$WORK/err")" \
	"ushm: rm -m $free_id: no such segment (EINVAL)" "first error line"
is "$(sed -n 2p "$WORK/err")" \
	"ushm: rm -M $(key 34): no such segment (ENOENT)" "second error line"

# Usage errors: one line with a hint, status 2, nothing removed.
mk a "$(key 40)" 4096 0600
for args in "-m abc" "-m 12abc" "-M zzz" "-M 0" "-M 0x1ffffffff" "-x" \
	    "-m" "-m $a extra" ""; do
	# shellcheck disable=SC2086
	rm_once "rm $args" 2 $args
	is "$(wc -l <"$WORK/err")" 1 "rm $args: one line on stderr"
	grep -q "try 'ushm rm --help'" "$WORK/err"
	is $? 0 "rm $args: points to --help"
done
exists "$a"; is $? 0 "usage errors removed nothing (not even -m $a)"

# Not the owner: EPERM, status 3 (ipcrm: 1); the segment stays.
if [ "$ROOT" = 1 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$USHM"; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	as_nobody "$USHM" --kernel rm -m "$a" 2>"$WORK/err"
	is $? 3 "rm -m as another user: exit status 3"
	is "$(cat "$WORK/err")" "ushm: rm -m $a: permission denied (EPERM)" \
		"rm -m as another user: message"
	as_nobody "$USHM" --kernel rm -M "$(key 40)" 2>"$WORK/err"
	is $? 3 "rm -M as another user: exit status 3"
	as_nobody ipcrm -m "$a" 2>/dev/null
	is $? 1 "ipcrm as another user fails too (status 1)"
	exists "$a"; is $? 0 "the segment is still there"
	# ipcs shows every segment to every user: so must we.
	for _ in $(seq 50); do
		ipcs -m >"$WORK/before"
		as_nobody "$USHM" --kernel ls >"$WORK/got"
		ipcs -m >"$WORK/after"
		cmp -s "$WORK/before" "$WORK/after" && break
	done
	cmp -s "$WORK/got" "$WORK/before"
	is $? 0 "ls as another user: the same table, unreadable segments too"
else
	ok 0 "# SKIP permission checks need root and setpriv"
fi

# ---- help ----
"$USHM" --help >"$WORK/out"
is $? 0 "ushm --help: status 0"
grep -q "operate on the kernel's own SysV segments, for" "$WORK/out"
is $? 0 "ushm --help documents --kernel"
for sub in ls ipcs rm; do
	"$USHM" --kernel "$sub" --help >"$WORK/out"
	is $? 0 "ushm --kernel $sub --help: status 0"
	grep -q "^Usage: ushm" "$WORK/out"
	is $? 0 "ushm --kernel $sub --help: a usage text"
done

done_testing
