#!/usr/bin/env bash
# man.t - every function include/ushm.h exports (USHM_API) has a manual
# page in man/ (a page of its own, or a ".so" link to the page of its
# family whose NAME section names it) and is named in libushm(3); links
# point at pages that exist; every page renders without a warning under
# man --warnings and carries the Makefile's version in its .TH line.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

M=$TOP/man
version=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
api=$(sed -n 's/^USHM_API[^(]*[ *]\([a-z_0-9]*\)(.*/\1/p' \
	"$TOP/include/ushm.h" | sort -u)
[ "$(echo "$api" | wc -l)" -gt 20 ]
is $? 0 "the header declares the public functions with USHM_API"

# name_section PAGE: the text of its NAME section, one line.
name_section() {
	sed -n '/^\.SH NAME/,/^\.SH/p' "$1" | sed '1d;$d' | tr '\n' ' '
}

for f in $api; do
	page=$M/$f.3
	if [ ! -f "$page" ]; then
		ok 1 "$f(3): a page"
		continue
	fi
	target=$(sed -n '1s|^\.so man3/||p' "$page")
	[ -n "$target" ] && page=$M/$target
	name_section "$page" | grep -qw -- "$f"
	is $? 0 "$f(3): ${target:-its own page}, whose NAME names it"
	grep -qw -- "$f" "$M/libushm.3"
	is $? 0 "$f: listed in libushm(3)"
done

for page in "$M"/*.[0-9]; do
	name=${page##*/}
	target=$(sed -n '1s|^\.so man[0-9]/||p' "$page")
	if [ -n "$target" ]; then
		[ "$(wc -l <"$page")" = 1 ] && [ -f "$M/$target" ] &&
			! grep -q '^\.so' "$M/$target"
		is $? 0 "$name: a link to $target, a page"
		continue
	fi
	is "$(sed -n '1s/^\.TH [^ ]* [0-9] [^ ]* "ushm \([^"]*\)".*/\1/p' \
		"$page")" "$version" "$name: .TH says ushm $version"
done

if command -v man >/dev/null && man --warnings -l /dev/null >/dev/null 2>&1
then
	for page in "$M"/*.[0-9]; do
		grep -q '^\.so' "$page" && continue
		warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		is "$warn" "" "man --warnings -l ${page##*/}: clean"
	done
else
	ok 0 "# SKIP no man(1) that takes --warnings"
fi

done_testing
