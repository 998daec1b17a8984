#!/usr/bin/env bash
# Static analysis: make lint (tests/quality/quality.mk) runs cppcheck and
# clang-tidy on src/, bench/ and examples/ with the checks chosen in
# tests/quality/cppcheck.cfg and .clang-tidy.  Any finding fails, but
# those justified in the code (cppcheck-suppress / NOLINT with a reason)
# or in tests/quality/*.supp; a suppression that matches nothing any
# more fails too.  A missing tool fails: it does not skip (Debian:
# cppcheck, clang-tidy).
. "$(dirname "$0")/../lib.sh"
time_bound 900 # the whole test (lib.sh: the watchdog)
MAKE=${MAKE:-make}

# lint_one TARGET NAME: runs make TARGET, its output as TAP comments when
# it fails.
lint_one() {
	local out rc
	out=$(cd "$TOP" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		"$MAKE" -s BUILD="$BUILD" "$1" 2>&1)
	rc=$?
	ok $rc "$2"
	[ $rc = 0 ] || printf '%s\n' "$out" | grep -v ' warnings generated' | diag
}

if command -v cppcheck >/dev/null; then
	lint_one lint-cppcheck "cppcheck: no finding"
else
	ok 1 "cppcheck is installed (Debian package cppcheck)"
fi
if command -v clang-tidy >/dev/null || command -v clang-tidy-14 >/dev/null
then
	lint_one lint-clang-tidy "clang-tidy: no finding"
else
	ok 1 "clang-tidy is installed (Debian package clang-tidy)"
fi
done_testing
