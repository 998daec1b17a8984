#!/usr/bin/env bash
# commands.t - ushm mk, write, cat, stat, top, ls --json and the ls views
# on a private daemon; daemon start and restart; --help on every command;
# one-line errors with their exit statuses.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tests/cli/shmtool
[ -x "$USHM" ] && [ -x "$TOOL" ] && [ -x "$USHMD" ] ||
	skip_all "build ushm, ushmd and shmtool first"
ushm_env_setup
WORK=$USHM_TEST_DIR/work
mkdir "$WORK" || exit 1

HOLDERS=()
cleanup() {
	local pid
	for pid in "${HOLDERS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ushm_env_cleanup
}
at_exit cleanup

# run NAME WANT_RC ARGS...: ushm ARGS, stdout in $WORK/out, stderr in
# $WORK/err, the status checked.
run() {
	local name=$1 want=$2 rc
	shift 2
	"$USHM" "$@" >"$WORK/out" 2>"$WORK/err" <"${STDIN:-/dev/null}"
	rc=$?
	is "$rc" "$want" "$name: exit status $want"
}
# one_error NAME PATTERN: stderr is one line matching PATTERN.
one_error() {
	is "$(wc -l <"$WORK/err")" 1 "$1: one line on stderr"
	grep -qE -- "$2" "$WORK/err"
	is $? 0 "$1: says '$2'"
	grep -qE -- "$2" "$WORK/err" || sed 's/^/#   stderr: /' "$WORK/err"
}

# ---- daemon start: none runs, then one does ----
run "daemon status, no daemon" 1 daemon status
USHM_AUTOSTART=0 run "daemon start" 0 daemon start
grep -qE '^ushmd started \(pid [0-9]+\)$' "$WORK/out"
is $? 0 "daemon start: reports the pid"
pid=$(ushm_daemon_pid)
grep -q "(pid $pid)" "$WORK/out"
is $? 0 "daemon start: the pid of the daemon that runs"
run "daemon start again" 0 daemon start
grep -q "already running (pid $pid)" "$WORK/out"
is $? 0 "daemon start again: already running"

# ---- mk ----
run "mk -M 4K -p 640" 0 mk -M 4K -p 640
grep -qE '^Shared memory id: [0-9]+$' "$WORK/out"
is $? 0 "mk: prints the id as ipcmk"
id=$(awk '{ print $NF }' "$WORK/out")
"$USHM" ls -i "$id" >"$WORK/ds"
grep -q 'bytes=4096' "$WORK/ds"
is $? 0 "mk -M 4K: 4096 bytes"
grep -q 'mode=0640' "$WORK/ds"
is $? 0 "mk -p 640: mode 0640"
for s in 1M:1048576 2KiB:2048 1KB:1000 100:100 1G:1073741824; do
	run "mk -M ${s%%:*}" 0 mk -M "${s%%:*}"
	i=$(awk '{ print $NF }' "$WORK/out")
	"$USHM" ls -i "$i" | grep -q "bytes=${s##*:}	"
	is $? 0 "mk -M ${s%%:*}: ${s##*:} bytes"
	"$USHM" rm -m "$i"
done
run "mk -M 12Q" 2 mk -M 12Q
one_error "mk -M 12Q" "ushm: mk: -M: '12Q' is not a size"
run "mk -p 999" 2 mk -M 1 -p 999
one_error "mk -p 999" "not an octal mode"
run "mk without -M" 2 mk
one_error "mk without -M" "no size given"
run "mk -M 0" 4 mk -M 0
one_error "mk -M 0" \
	"^ushm: mk: cannot create a segment of 0 bytes: .*\(EINVAL\)$"

# ---- write, cat ----
printf 'hello, segment\n' >"$WORK/in"
STDIN=$WORK/in run "write" 0 write "$id"
is "$(wc -c <"$WORK/out")" 0 "write: nothing on stdout"
run "cat" 0 cat "$id"
is "$(wc -c <"$WORK/out")" 4096 "cat: the whole segment"
is "$(head -c 15 "$WORK/out")" "hello, segment" "cat: what write wrote"
is "$(tail -c +16 "$WORK/out" | tr -d '\0' | wc -c)" 0 \
	"cat: zeroes after it"
if command -v hexdump >/dev/null; then
	"$USHM" cat "$id" | hexdump -C >"$WORK/want"
	run "cat --hex" 0 cat --hex "$id"
	cmp -s "$WORK/out" "$WORK/want"
	is $? 0 "cat --hex: as hexdump -C"
	head -c 1000 /dev/urandom >"$WORK/rand"
	printf 'abc' >>"$WORK/rand"
	STDIN=$WORK/rand run "write random" 0 write "$id"
	"$USHM" cat "$id" | hexdump -C >"$WORK/want"
	"$USHM" cat -x "$id" >"$WORK/out"
	cmp -s "$WORK/out" "$WORK/want"
	is $? 0 "cat -x of random bytes: as hexdump -C"
else
	ok 0 "# SKIP no hexdump to compare with"
fi
head -c 5000 /dev/zero | tr '\0' x >"$WORK/big"
STDIN=$WORK/big run "write too much" 4 write "$id"
one_error "write too much" "input is longer than the segment \(4096 bytes"
"$USHM" cat "$id" | tr -d x | wc -c >"$WORK/n"
is "$(cat "$WORK/n")" 0 "write too much: what fits was written"
run "cat no such id" 1 cat 999999
one_error "cat no such id" "^ushm: cat: 999999: no such segment \(EINVAL\)$"
run "cat bad id" 2 cat abc
one_error "cat bad id" "'abc' is not a segment id"
run "write no id" 2 write
one_error "write no id" "no segment id given"

# ---- stat: the holders, with their counts and address ranges ----
ready=$WORK/ready
mkfifo "$ready"
"$TOOL" hold "$ready" "$id" 2 >/dev/null 2>&1 &
HOLDERS+=($!)
hpid=$!
await_ready "$ready" || { echo "holder not ready" >&2; exit 1; }
run "stat ID" 0 stat "$id"
field() { sed -n "s/^$1: *//p" "$WORK/out"; }
is "$(field shmid)" "$id" "stat: shmid"
is "$(field size)" "4096 (4K)" "stat: size"
is "$(field perms)" "0640 (rw-r-----)" "stat: perms"
is "$(field nattch)" 2 "stat: nattch"
is "$(field cpid | grep -cE '^[0-9]+$')" 1 "stat: cpid"
is "$(field holders)" "2 mappings" "stat: two mappings"
awk -v p="$hpid" '$1 == p { print $2 }' "$WORK/out" >"$WORK/count"
is "$(cat "$WORK/count")" 2 "stat: the holder's pid, attached twice"
n=0
while read -r range; do
	start=$((16#${range%-*}))
	end=${range#*-}
	end=$((16#${end#0x}))
	grep -qiE "^0*$(printf '%x' "$start")-0*$(printf '%x' "$end") " \
		"/proc/$hpid/maps" && n=$((n + 1))
done < <(grep -oE '0x[0-9a-f]+-0x[0-9a-f]+' "$WORK/out" | sed 's/0x//')
is "$n" 2 "stat: both ranges are mappings in /proc/PID/maps"
key=$(field key)
run "stat -M KEY" 0 stat -M "$key"
is "$(field shmid)" "$id" "stat -M: the same segment"
run "stat -M unused key" 1 stat -M 0x7fffff01
one_error "stat -M unused" \
	"^ushm: stat: -M 0x7fffff01: no segment has this key \(ENOENT\)$"
run "stat no such id" 1 stat 424242
one_error "stat no such id" "^ushm: stat: 424242: no such segment \(EINVAL\)$"
run "stat no argument" 2 stat
one_error "stat no argument" "no segment given"

# ---- ls --json: every field, and the holders ----
run "ls --json" 0 ls --json
perl -MJSON::PP -e '
	local $/; my $j = decode_json(<STDIN>);
	my ($s) = grep { $_->{shmid} == $ARGV[0] } @$j;
	die "missing\n" unless $s;
	for (qw(key uid gid cuid cgid mode perms dest locked segsz atime
		dtime ctime cpid lpid nattch holders)) {
		die "no $_\n" unless exists $s->{$_};
	}
	die "segsz\n" unless $s->{segsz} == 4096;
	die "nattch\n" unless $s->{nattch} == 2;
	my @h = @{$s->{holders}};
	die "holders\n" unless @h == 2 && $h[0]{pid} == $ARGV[1] &&
		$h[0]{count} == 2 && $h[0]{end} > $h[0]{start};
' "$id" "$hpid" <"$WORK/out" 2>"$WORK/perl"
is $? 0 "ls --json: valid, every field, the holder $(cat "$WORK/perl")"

# ---- the other views read ushm's segments ----
run "ls -p" 0 ls -p
is "$(awk -v id="$id" '$1 == id { print $4 }' "$WORK/out")" "$hpid" \
	"ls -p: lpid is the holder"
run "ls -t" 0 ls -t
awk -v id="$id" '$1 == id' "$WORK/out" | grep -q "Not set"
is $? 1 "ls -t: attach time set"
run "ls -c" 0 ls -c
is "$(awk -v id="$id" '$1 == id { print $2 }' "$WORK/out")" 640 \
	"ls -c: perms"
run "ls -u" 0 ls -u
grep -qE '^segments allocated [0-9]+$' "$WORK/out"
is $? 0 "ls -u: segments allocated"
run "ls -l" 0 ls -l
grep -q '^max number of segments = ' "$WORK/out"
is $? 0 "ls -l: limits"
run "ls --human" 0 ls --human
awk -v id="$id" '$2 == id { print $5 }' "$WORK/out" >"$WORK/h"
is "$(cat "$WORK/h")" 4K "ls --human: 4K"
run "ls -i" 0 ls -i "$id"
grep -q "^Shared memory Segment shmid=$id$" "$WORK/out"
is $? 0 "ls -i: the segment"
run "ls -i no such" 1 ls -i 999999
one_error "ls -i no such" "^ushm: ls: -i 999999: no such segment \(EINVAL\)$"
run "ls -i bad" 2 ls -i x
one_error "ls -i bad" "'x' is not a segment id"

# ---- top ----
run "top --once" 0 top --once
is "$(head -c 11 "$WORK/out")" "ushm top - " "top: a title line"
grep -qE "^$id +0x[0-9a-f]{8} .* 2 +- +$hpid\$" "$WORK/out"
is $? 0 "top: the segment, nattch and holder"
grep -q $'\033' "$WORK/out"
is $? 1 "top piped: no escape sequences"
run "top -n 3 -d 0" 0 top -n 3 -d 0
is "$(grep -c '^ushm top - ' "$WORK/out")" 3 "top -n 3: three refreshes"
is "$(grep -c '^$' "$WORK/out")" 3 "top -n 3: each ends with a blank line"
sed -n '/^ushm top - /p' "$WORK/out" | sed -n 2p | grep -qE \
	', [0-9.]+ attach/s, [0-9.]+ detach/s$'
is $? 0 "top: rates from the second refresh on"
run "top -n 0" 2 top -n 0
one_error "top -n 0" "not a count"
if command -v script >/dev/null; then
	script -qec "$USHM top -n 2 -d 0" /dev/null >"$WORK/tty" 2>&1
	grep -q $'\033\[H\033\[2J' "$WORK/tty"
	is $? 0 "top on a terminal: redraws in place"
else
	ok 0 "# SKIP no script(1) for a terminal"
fi

# More mappings than one HOLDERS reply carries (16): paged through.
mkfifo "$WORK/ready2"
"$TOOL" hold "$WORK/ready2" "$id" 20 >/dev/null 2>&1 &
HOLDERS+=($!)
hpid2=$!
await_ready "$WORK/ready2" || { echo "holder not ready" >&2; exit 1; }
run "stat, 22 mappings" 0 stat "$id"
is "$(field holders)" "22 mappings" "stat: 22 mappings, over two pages"
is "$(awk -v p="$hpid2" '$1 == p { print $2 }' "$WORK/out")" 20 \
	"stat: the second holder attached 20 times"
is "$(grep -cE '^ +(([0-9]+ +[0-9]+ +)?)0x[0-9a-f]+-0x' "$WORK/out")" 22 \
	"stat: 22 address ranges"
kill "$hpid2"; wait "$hpid2" 2>/dev/null
unset "HOLDERS[-1]"

# ---- --help everywhere, errors elsewhere ----
for c in "" ls stat mk cat write top rm daemon; do
	# shellcheck disable=SC2086
	run "$c --help" 0 $c --help
	grep -q '^Usage: ushm' "$WORK/out"
	is $? 0 "$c --help: usage on stdout"
done
run "unknown command" 2 frobnicate
one_error "unknown command" "^ushm: unknown command 'frobnicate'"
run "--kernel daemon" 2 --kernel daemon status
one_error "--kernel daemon" "--kernel does not apply to daemon"
# stat on a kernel segment: all of shmid_ds, the holders unknown.
kernel_lock_shared
if kid=$("$TOOL" -k get "$(( 0x5e000000 | ($$ & 0xffffff) ))" 100 0600 \
	 2>/dev/null); then
	run "--kernel stat" 0 --kernel stat "$kid"
	ipcrm -m "$kid" 2>/dev/null || "$USHM" --kernel rm -m "$kid"
	is "$(field shmid)" "$kid" "--kernel stat: the kernel segment"
	is "$(field holders)" \
		"unknown (the kernel tells only nattch and lpid)" \
		"--kernel stat: holders unknown"
else
	ok 0 "# SKIP no System V shared memory in the kernel"
fi
run "ls -z" 2 ls -z
one_error "ls -z" "unknown option '-z'"

# ---- as another user: IPC_STAT's rule for stat and the holders ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$USHM"; then
	nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	open_id=$("$USHM" mk -M 100 -p 644 | awk '{ print $NF }')
	nobody "$USHM" stat "$id" >"$WORK/out" 2>"$WORK/err"
	is $? 3 "stat of a 0640 segment as another user: exit status 3"
	one_error "stat as another user" \
		"^ushm: stat: $id: Permission denied \(EACCES\)$"
	nobody "$USHM" stat "$open_id" >"$WORK/out" 2>"$WORK/err"
	is $? 0 "stat of a 0644 segment as another user: allowed"
	nobody "$USHM" ls --json >"$WORK/out" 2>"$WORK/err"
	is $? 0 "ls --json as another user: exit status 0"
	perl -MJSON::PP -e '
		local $/; my %s = map { $_->{shmid} => $_ }
			@{decode_json(<STDIN>)};
		exit !(exists $s{$ARGV[0]} && !defined $s{$ARGV[0]}{holders}
		       && ref $s{$ARGV[1]}{holders} eq "ARRAY");
	' "$id" "$open_id" <"$WORK/out"
	is $? 0 "ls --json as another user: holders null where unreadable"
	nobody "$USHM" cat "$id" >"$WORK/out" 2>"$WORK/err"
	is $? 3 "cat of a 0640 segment as another user: exit status 3"
	echo x | nobody "$USHM" write "$open_id" >"$WORK/out" 2>"$WORK/err"
	is $? 3 "write into a 0644 segment as another user: exit status 3"
	one_error "write as another user" "cannot attach: Permission denied"
else
	ok 0 "# SKIP other users need root and setpriv"
fi

# ---- daemon restart: a new daemon, the segments kept ----
kill "$hpid"; wait "$hpid" 2>/dev/null
HOLDERS=()
run "daemon restart" 0 daemon restart
newpid=$(ushm_daemon_pid)
[ -n "$newpid" ] && [ "$newpid" != "$pid" ]
is $? 0 "daemon restart: another daemon"
grep -q "started (pid $newpid)" "$WORK/out"
is $? 0 "daemon restart: reports it"
run "cat after restart" 0 cat "$id"
is "$(head -c 3 "$WORK/out")" "xxx" "daemon restart: contents kept"
run "daemon stop" 0 daemon stop
run "daemon restart, none running" 0 daemon restart
grep -q "started (pid" "$WORK/out"
is $? 0 "daemon restart with none running: starts one"

done_testing
