#!/usr/bin/env bash
# abi.t - libushm's ABI is the one recorded in tests/cli/abi/: its
# soname, the symbols libushm.so and the shim export (with their version
# nodes) and the size, member offsets and values of ushm.h's public
# types.  A difference fails, saying whether it is compatible (only
# additions: record it) or not (something removed, moved or resized:
# bump SOVERSION in the Makefile on purpose, then record it).

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

command -v nm >/dev/null && command -v readelf >/dev/null ||
	skip_all "nm and readelf (binutils) are needed"
command -v "${CC:-cc}" >/dev/null || skip_all "no C compiler"
[ -f "$BUILD/lib/libushm.so" ] || skip_all "build the libraries first"
A=$TOP/tests/cli/abi
DUMP=$A/dump.sh
HOW="record it: tests/cli/abi/dump.sh build WHAT >tests/cli/abi/FILE (see dump.sh)"

# compare NAME RECORDED CURRENT: passes when equal; otherwise tells
# what was added and what removed or changed.
compare() {
	local name=$1 want=$2 got=$3 gone added
	if [ "$got" = "$want" ]; then
		ok 0 "$name: as recorded"
		return
	fi
	ok 1 "$name: as recorded"
	gone=$(comm -23 <(echo "$want" | LC_ALL=C sort) \
		<(echo "$got" | LC_ALL=C sort))
	added=$(comm -13 <(echo "$want" | LC_ALL=C sort) \
		<(echo "$got" | LC_ALL=C sort))
	[ -n "$added" ] && echo "$added" | sed 's/^/#   new: /'
	if [ -n "$gone" ]; then
		echo "$gone" | sed 's/^/#   removed or changed: /'
		echo "# An incompatible ABI change: programs built against the"
		echo "# recorded ABI break.  If it is meant, bump SOVERSION in the"
		echo "# Makefile (a new soname), then $HOW."
	else
		echo "# Compatible additions: $HOW."
	fi
}

soname=$("$DUMP" "$BUILD" soname)
sover=$(sed -n 's/^SOVERSION := *//p' "$TOP/Makefile")
is "$soname" "libushm.so.$sover" "the soname is libushm.so.\$(SOVERSION)"
is "$soname" "$(cat "$A/soname.txt")" \
	"the soname is the recorded one (a new soname: record its ABI)"

compare "libushm.so's symbols" "$(cat "$A/symbols.txt")" \
	"$("$DUMP" "$BUILD" symbols)"
compare "libushm-preload.so's symbols" "$(cat "$A/preload.txt")" \
	"$("$DUMP" "$BUILD" preload)"

# The Debian symbols file lists the same symbols (and the version node).
if [ -f "$TOP/debian/libushm1.symbols" ]; then
	is "$(awk 'NR > 1 && $1 != "*" && $1 != "USHM_1@USHM_1" &&
		$1 != "USHM_PRIVATE@USHM_PRIVATE" { print $1 }' \
		"$TOP/debian/libushm1.symbols" | LC_ALL=C sort)" \
	   "$(awk '{ print $2 }' "$A/symbols.txt" | LC_ALL=C sort)" \
	   "debian/libushm1.symbols lists the recorded symbols"
fi

layout=$A/layout-$(uname -m).txt
if [ -f "$layout" ]; then
	got=$("$DUMP" "$BUILD" layout)
	is $? 0 "layout.c builds and runs"
	compare "ushm.h's types: sizes, offsets, values" "$(cat "$layout")" \
		"$got"
else
	ok 0 "# SKIP no layout recorded for $(uname -m)"
fi

# Every type layout.c knows is every public struct of the header.
structs=$(sed -n 's/^struct \(ushm_[a-z_]*\) {.*/\1/p' \
	"$TOP/include/ushm.h" | sort -u | tr '\n' ' ')
known=$(sed -n 's/^\tSIZE(struct \(ushm_[a-z_]*\));/\1/p' "$A/layout.c" |
	sort -u | tr '\n' ' ')
is "$known" "$structs" "layout.c covers every public struct of ushm.h"

done_testing
