#!/usr/bin/env bash
# tests/quality/clang-tidy.sh - clang-tidy on each FILE, two at a time,
# with the checks of .clang-tidy; used by make lint-clang-tidy.
#
#   clang-tidy.sh SUPPRESSIONS FILE... -- COMPILER-FLAGS...
#
# Any finding fails, but those listed in SUPPRESSIONS ("FILE CHECK" per
# line, # comments): clang-tidy itself only knows NOLINT comments in the
# code, and files that cannot be edited for now need a place of their
# own.  A suppression that matches no finding fails as well.  A clang-tidy that fails without a finding (a file that does not
# compile, a crash) fails too.
#
# One process per file: clang-tidy 14 run on several files in one process
# carries the va_list checker's state from one file to the next and
# reports vsnprintf(ap) right after va_start(ap) as uninitialised.
set -u
TIDY=${CLANG_TIDY:-clang-tidy}
supp=$1
shift
files=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	files+=("$1")
	shift
done
[ $# -gt 0 ] && shift
command -v "$TIDY" >/dev/null || {
	echo "clang-tidy.sh: $TIDY not found (Debian: apt-get install clang-tidy)" >&2
	exit 2
}
out=$(mktemp -d "${TMPDIR:-/tmp}/ushm-tidy.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT

# Each file's output in $out/N.log, its exit status in $out/N.rc.  xargs
# appends "N FILE" after the compiler flags.
export TIDY out
i=${#files[@]}
for ((n = 0; n < i; n++)); do
	printf '%s\0%s\0' "$n" "${files[n]}"
done | xargs -0 -n 2 -P 2 bash -c '
	n=${*: -2:1} f=${*: -1}
	set -- "${@:1:$#-2}"
	"$TIDY" --quiet "$f" -- "$@" >"$out/$n.log" 2>&1
	echo $? >"$out/$n.rc"' tidy "$@"

suppressed() { # FILE CHECKS
	local file check rest
	while read -r file check rest; do
		case $file in '#'* | '') continue ;; esac
		[ "$file" = "$1" ] || continue
		case ",$2," in
		*",$check,"*)
			echo "$file $check" >>"$out/used"
			return 0 ;;
		esac
	done <"$supp"
	return 1
}

fail=0
top=$(pwd)/
for ((n = 0; n < i; n++)); do
	f=${files[n]}
	rc=$(cat "$out/$n.rc" 2>/dev/null || echo 255)
	findings=0 unsupp=0
	while IFS= read -r line; do
		case $line in
		*': warning: '*'['*']' | *': error: '*'['*']') ;;
		*) continue ;;
		esac
		findings=$((findings + 1))
		file=${line%%:*}
		file=${file#"$top"}
		checks=${line##*[}
		checks=${checks%]}
		checks=${checks//,-warnings-as-errors/}
		if suppressed "$file" "$checks"; then
			echo "suppressed (${supp}): ${line#"$top"}"
		else
			unsupp=$((unsupp + 1))
			fail=1
		fi
	done <"$out/$n.log"
	# The unsuppressed findings with clang-tidy's explanation.
	[ "$unsupp" = 0 ] || sed "s|$top||" "$out/$n.log"
	if [ "$rc" != 0 ] && [ "$findings" = 0 ]; then
		echo "clang-tidy failed on $f (status $rc) without a finding:"
		cat "$out/$n.log"
		fail=1
	fi
done
# A suppression that matched nothing has outlived its reason.
touch "$out/used"
while read -r file check rest; do
	case $file in '#'* | '') continue ;; esac
	grep -qxF "$file $check" "$out/used" && continue
	echo "$supp: '$file $check' suppresses nothing any more: remove it"
	fail=1
done <"$supp"
[ "$fail" = 0 ] || { echo "clang-tidy: findings above"; exit 1; }
echo "clang-tidy: ${#files[@]} files, no finding"
