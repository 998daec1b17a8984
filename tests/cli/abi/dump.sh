#!/usr/bin/env bash
# dump.sh BUILD WHAT - prints the ABI as tests/cli/abi/ records it:
#   soname    the soname of BUILD/lib/libushm.so
#   symbols   libushm.so's dynamic symbols with their version nodes
#   preload   the same for libushm-preload.so (the shim)
#   layout    the public types' sizes and offsets (layout.c)
# To record a deliberate change (after bumping SOVERSION in the Makefile
# when the change is incompatible):
#   for w in soname symbols preload layout; do
#       tests/cli/abi/dump.sh build $w >tests/cli/abi/$w.txt; done
# (layout goes to layout-$(uname -m).txt: sizes depend on the machine)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
BUILD=$1

# defined SO: its defined dynamic symbols as NAME@VERSION (or NAME),
# without the version nodes themselves, sorted.
defined() {
	nm -D --defined-only "$1" |
		awk '$2 != "A" { sub(/@@/, "@", $3); print $2, $3 }' |
		LC_ALL=C sort -u
}

case $2 in
soname)
	readelf -d "$BUILD/lib/libushm.so" |
		sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p' ;;
symbols) defined "$BUILD/lib/libushm.so" ;;
preload) defined "$BUILD/lib/libushm-preload.so" ;;
layout)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ushm-abi.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -I"$TOP/include" \
		-o "$tmp/layout" "$HERE/layout.c"
	"$tmp/layout" ;;
*)
	echo "usage: dump.sh BUILD soname|symbols|preload|layout" >&2
	exit 2 ;;
esac
