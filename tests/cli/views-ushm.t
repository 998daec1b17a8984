#!/usr/bin/env bash
# views-ushm.t - the views of "ushm ls" on ushm's segments read, column
# by column, as ipcs -m's views read the same segments made on the
# kernel: the same headers, and the same lines once the values that must
# differ (shmid, pids, times) are masked.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tests/cli/shmtool
[ -x "$USHM" ] && [ -x "$TOOL" ] && [ -x "$USHMD" ] ||
	skip_all "build ushm, ushmd and shmtool first"
command -v ipcs >/dev/null && ipcs -m >/dev/null 2>&1 ||
	skip_all "ipcs and SysV shm in the kernel are needed to compare"
ushm_env_setup
kernel_lock_shared
WORK=$USHM_TEST_DIR/work
mkdir "$WORK" || exit 1

# Keys 0x5dPPPP00 + n, where PPPP is our pid.
BASE=$(( 0x5d000000 | (($$ & 0xffff) << 8) ))
key() { printf '0x%08x' $(( (BASE + $1) & 0xffffffff )); }

KIDS=()
HOLDERS=()
cleanup() {
	local pid id
	for pid in "${HOLDERS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for id in "${KIDS[@]}"; do ipcrm -m "$id" 2>/dev/null; done
	ushm_env_cleanup
}
at_exit cleanup

# mk SIDE N SIZE MODE: segment key(N) on SIDE (k or u); its id on stdout.
mk() {
	local flag=
	[ "$1" = k ] && flag=-k
	# shellcheck disable=SC2086
	"$TOOL" $flag get "$(key "$2")" "$3" "$4"
}
hold() {
	local ready=$WORK/ready.$RANDOM$RANDOM flag=
	[ "$1" = k ] && flag=-k
	mkfifo "$ready" || exit 1
	# shellcheck disable=SC2086
	"$TOOL" $flag hold "$ready" "${@:2}" >/dev/null 2>&1 &
	HOLDERS+=($!)
	await_ready "$ready" || { echo "holder not ready" >&2; exit 1; }
}

declare -A K U
for side in k u; do
	for n in 1 2 3; do
		case $n in
		1) id=$(mk "$side" 1 4096 0640) ;;
		2) id=$(mk "$side" 2 1048000 0600) ;;
		3) id=$(mk "$side" 3 12345678901 0644) ;;
		esac || { echo "cannot create" >&2; exit 1; }
		if [ "$side" = k ]; then
			K[$n]=$id
			KIDS+=("$id")
		else
			U[$n]=$id
		fi
	done
done
hold k "${K[1]}" 2
hold u "${U[1]}" 2

# masked VIEW ID FILE: the line for ID in a -t/-p/-c listing, with the
# shmid and what follows the view's fixed columns masked.
line() {
	awk -v id="$2" 'NR > 3 && $1 == id' "$3" |
		sed -E "s/^[0-9]+ +/<id>       /; $1"
}

for n in 1 2 3; do
	for v in -t -p -c; do
		ipcs -m "$v" >"$WORK/k"
		"$USHM" ls "$v" >"$WORK/u"
		is "$(head -n 3 "$WORK/u")" "$(head -n 3 "$WORK/k")" \
			"ls $v: blank line, title and header as ipcs"
		case $v in
		-t) mask='s/[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}/<time>/g' ;;
		-p) mask='s/ [0-9]+ +[0-9]+ +$/ <pids>/' ;;
		-c) mask='s/^//' ;;
		esac
		got=$(line "$mask" "${U[$n]}" "$WORK/u")
		want=$(line "$mask" "${K[$n]}" "$WORK/k")
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			ok 0 "ls $v, segment $n: the line of ipcs -m $v"
		else
			ok 1 "ls $v, segment $n: the line of ipcs -m $v"
			printf '#   got:  [%s]\n#   want: [%s]\n' "$got" "$want"
		fi
	done
	# -i: every line the same but the id, the pids and the times.
	mask_i='s/shmid=[0-9]+/shmid=<id>/; s/pid=[0-9]+/pid=<pid>/g;
		s/_time=.*/_time=<time>/'
	for u in "" --human; do
		ipcs -m -i "${K[$n]}" $u | sed -E "$mask_i" >"$WORK/k"
		"$USHM" ls -i "${U[$n]}" $u | sed -E "$mask_i" >"$WORK/u"
		if cmp -s "$WORK/k" "$WORK/u"; then
			ok 0 "ls -i $u, segment $n: as ipcs -m -i $u"
		else
			ok 1 "ls -i $u, segment $n: as ipcs -m -i $u"
			diff "$WORK/k" "$WORK/u" | diag
		fi
	done
done
# --human and --bytes on the table: the size column as ipcs has it.
for u in --human --bytes; do
	ipcs -m $u >"$WORK/k"
	"$USHM" ls $u >"$WORK/u"
	is "$(head -n 3 "$WORK/u")" "$(head -n 3 "$WORK/k")" \
		"ls $u: header as ipcs"
	for n in 1 2 3; do
		got=$(awk -v id="${U[$n]}" 'NR > 3 && $2 == id' "$WORK/u" |
			cut -c 23-)
		want=$(awk -v id="${K[$n]}" 'NR > 3 && $2 == id' "$WORK/k" |
			cut -c 23-)
		is "$got" "$want" "ls $u, segment $n: owner to status as ipcs"
	done
done

done_testing
