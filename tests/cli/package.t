#!/usr/bin/env bash
# package.t - the Debian packages: dpkg-buildpackage -us -uc -b builds
# libushm1, libushm-dev and ushm from a copy of the tree; each holds
# exactly the files listed in tests/cli/package/PACKAGE.list; lintian
# finds no error and no warning that debian/*.lintian-overrides does not
# explain; the ushm package enables and starts ushmd.socket on install;
# the packages' version is the Makefile's; and the tutorial's two
# programs run through the unpacked ushm-run, with the unpacked ushmd,
# served by ushm (the unpacked ushm lists their segment, the kernel never
# sees it).
#
# Never built in the checkout: dpkg-buildpackage writes into the parent
# directory.  Takes about 20-40 s (the build, then lintian).

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

for t in dpkg-buildpackage dpkg-deb dh fakeroot; do
	command -v "$t" >/dev/null ||
		skip_all "$t is missing (Debian: dpkg-dev, debhelper, fakeroot)"
done
[ -f "$TOP/debian/control" ] || skip_all "no debian/ directory"
# The package builds from source with its own flags: once is enough, by
# the plain pass (the sanitizer pass of make check runs every test again).
ldd "$BUILD/lib/libushm.so" 2>/dev/null | grep -q libasan &&
	skip_all "the packages are built and checked by the plain pass"
FIRST=$BUILD/tests/seeds/first
SECOND=$BUILD/tests/seeds/second
LISTS=$TOP/tests/cli/package

ushm_env_setup
version=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# The scratch tree on disk under $TMPDIR (not the daemon's tmpfs); the
# tools' own temporary files go there too.
S=$(mktemp -d "${TMPDIR:-/tmp}/ushm-pkg.XXXXXX") || exit 1
at_exit 'ushm_env_cleanup; rm -rf "$S"'
SRC=$S/ushm-$version
mkdir -p "$SRC" "$S/tmp" || exit 1
export TMPDIR=$S/tmp

# A copy of the tree as it is (uncommitted edits included), without
# build outputs: the package builds from scratch.
tar -C "$TOP" --exclude=./build --exclude=./build-san --exclude=./.git \
	--exclude='./build-*' -cf - . | tar -C "$SRC" -xf -
is $? 0 "the tree copied to a scratch directory"

# No debug symbol packages (not listed; they only slow the build down).
# None of make check's variables reaches it: BUILD would send the build
# into the checkout's build/, MAKEFLAGS would hand it make check's jobs.
(cd "$SRC" && env -u BUILD -u TOP -u SANITIZE -u MAKEFLAGS -u MFLAGS \
	-u MAKELEVEL -u CFLAGS -u LDFLAGS -u CPPFLAGS \
	DEB_BUILD_OPTIONS="noddebs parallel=2" \
	timeout 600 dpkg-buildpackage -us -uc -b) >"$S/build.log" 2>&1
rc=$?
is $rc 0 "dpkg-buildpackage -us -uc -b: exit status 0"
if [ $rc != 0 ]; then
	tail -20 "$S/build.log" | diag
	done_testing
	exit 1
fi

# contents DEB: its file names (no directories), ./ dropped, links with
# their targets, the multiarch triplet as MULTIARCH and the version in
# the library's name as VERSION, sorted.
contents() {
	dpkg -c "$1" | awk 'substr($1, 1, 1) != "d" {
		$1 = $2 = $3 = $4 = $5 = ""; sub(/^ +\./, ""); print }' |
		sed -e "s|/$multiarch/|/MULTIARCH/|g" \
		    -e "s|libushm\.so\.$version|libushm.so.VERSION|g" |
		LC_ALL=C sort
}
for p in libushm1 libushm-dev ushm; do
	deb=$S/${p}_${version}_$arch.deb
	[ -f "$deb" ]
	is $? 0 "built $p ${version}"
	[ -f "$deb" ] || continue
	got=$(contents "$deb")
	want=$(cat "$LISTS/$p.list")
	if [ "$got" = "$want" ]; then
		ok 0 "$p holds exactly tests/cli/package/$p.list"
	else
		ok 1 "$p holds exactly tests/cli/package/$p.list"
		diff <(echo "$want") <(echo "$got") | diag
	fi
	is "$(dpkg-deb -f "$deb" Version)" "$version" \
		"$p: the Makefile's version"
	dpkg -x "$deb" "$S/root"
	is $? 0 "dpkg -x $p"
done

# ---- lintian ----
if command -v lintian >/dev/null; then
	timeout 300 lintian --fail-on error,warning \
		"$S/ushm_${version}_$arch.changes" >"$S/lintian" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$S/lintian" | sed 's/^/# /'
	is $rc 0 "lintian: no error, no warning left unexplained"
else
	ok 0 "# SKIP no lintian"
fi

# ---- the systemd units: the socket enabled and started on install ----
mkdir -p "$S/ctl"
dpkg-deb -e "$S/ushm_${version}_$arch.deb" "$S/ctl" 2>/dev/null
grep -q "deb-systemd-helper enable 'ushmd.socket'" "$S/ctl/postinst" &&
	grep -q "deb-systemd-invoke \$_dh_action 'ushmd.socket'" \
		"$S/ctl/postinst"
is $? 0 "postinst enables and starts ushmd.socket"
# dh_installsystemd --no-enable: the service is enabled only where the
# administrator had enabled it (debian-installed), never by the package.
grep -q "deb-systemd-helper debian-installed 'ushmd.service'" \
	"$S/ctl/postinst" &&
	! grep -q "deb-systemd-invoke \$_dh_action 'ushmd.service'" \
		"$S/ctl/postinst"
is $? 0 "ushmd.service is neither enabled nor started by itself (the socket starts it)"
R=$S/root
grep -q "^ExecStart=/usr/bin/ushmd " "$R/lib/systemd/system/ushmd.service"
is $? 0 "ushmd.service runs /usr/bin/ushmd"
# ushm-run's built-in path to the shim is the one the package installs.
grep -q "/usr/lib/$multiarch" "$R/usr/bin/ushm-run"
is $? 0 "ushm-run looks for the shim in /usr/lib/$multiarch"
is "$("$R/usr/bin/ushm-run" --version)" "ushm-run $version" \
	"the unpacked ushm-run: its version"

# ---- the tutorial's programs through the unpacked ushm-run ----
if [ -x "$FIRST" ] && [ -x "$SECOND" ]; then
	export USHM_DAEMON=$R/usr/bin/ushmd
	unset USHM_PRELOAD
	# The fixed key of the tutorial: the lock seeds.t takes too.
	exec 8>>"$KERNEL_LOCK_DIR/ushm-tests-key-4d2.lock" && flock -x 8
	timeout 30 "$R/usr/bin/ushm-run" "$FIRST" &
	w=$!
	seg_exists() { "$R/usr/bin/ushm" ls | grep -q 0x000004d2; }
	wait_for 10 seg_exists
	is $? 0 "the writer's segment is on the unpacked daemon"
	out=$(timeout 30 "$R/usr/bin/ushm-run" "$SECOND")
	is "$?:$out" "0:Receive data from shared memory!" \
		"the reader reads what the writer wrote"
	wait $w
	is $? 0 "the writer: exit status 0"
	pid=$(ushm_daemon_pid)
	[ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe")" = "$R/usr/bin/ushmd" ]
	is $? 0 "the daemon that served them is the unpacked ushmd"
	"$R/usr/bin/ushm" ls | awk '$1 == "0x000004d2" {print $4, $5, $6}' \
		>"$S/row"
	is "$(cat "$S/row")" "666 4096 0" \
		"the unpacked ushm lists the segment: mode 666, 4096 bytes"
	ipcs -m | grep -q 0x000004d2
	is $? 1 "the kernel never saw it"
else
	ok 0 "# SKIP no C++ compiler built the tutorial's programs"
fi

done_testing
