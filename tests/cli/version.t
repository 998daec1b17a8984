#!/usr/bin/env bash
# version.t - one version everywhere: the Makefile's VERSION is what
# ushm --version (through ushm_version()), ushmd --version and ushm-run
# --version print, what include/ushm.h's USHM_VERSION_* macros say, and
# the version of the Debian packages (debian/changelog).  ushm.pc and
# the man pages are checked by install.t and man.t.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

# ushm-run is only asked its version here: no program runs on ushm, so
# the name differs from the one mutation.t looks for.
RUNNER=$BUILD/bin/ushm-run
[ -x "$USHM" ] && [ -x "$USHMD" ] && [ -x "$RUNNER" ] ||
	skip_all "build everything first"
V=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
echo "$V" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$'
is $? 0 "the Makefile's VERSION is MAJOR.MINOR.PATCH ($V)"

is "$("$USHM" --version)" "ushm $V" "ushm --version"
is "$("$USHM" -V)" "ushm $V" "ushm -V"
is "$("$USHMD" --version | cut -d' ' -f1,2)" "ushmd $V" "ushmd --version"
is "$("$RUNNER" --version)" "ushm-run $V" "ushm-run --version"
is "$("$RUNNER" -V)" "ushm-run $V" "ushm-run -V"

macro() { sed -n "s/^#define USHM_VERSION_$1 *\([0-9]*\)\$/\1/p" \
	"$TOP/include/ushm.h"; }
is "$(macro MAJOR).$(macro MINOR).$(macro PATCH)" "$V" \
	"include/ushm.h: USHM_VERSION_MAJOR.MINOR.PATCH"

if command -v dpkg-parsechangelog >/dev/null; then
	got=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
else
	got=$(sed -n '1s/^ushm (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
fi
is "$got" "$V" "debian/changelog: the packages' version"

done_testing
