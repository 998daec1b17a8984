#!/usr/bin/env bash
# install.t - "make install" into a DESTDIR puts every piece where a
# package would (programs, the library with its soname links, the
# header, ushm.pc, the man pages, the systemd units); ushm.pc is written
# from ${prefix}, so that the tree, moved elsewhere, is found with
# pkg-config --define-variable=prefix=NEW: a program built through it
# (checking the installed header's USHM_VERSION_* against ushm_version())
# runs on a private daemon started from the moved tree; the man pages
# render without warnings; "make uninstall" removes it all.

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

[ -x "$USHM" ] && [ -x "$USHMD" ] || skip_all "build everything first"
command -v "${CC:-cc}" >/dev/null || skip_all "no C compiler"
# A sanitized library needs its runtime loaded first: no plain program.
ldd "$BUILD/lib/libushm.so" 2>/dev/null | grep -q libasan &&
	skip_all "a sanitized build is not installed"
ushm_env_setup
D=$USHM_TEST_DIR/dest
P=/usr/local
V=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
WORK=$USHM_TEST_DIR/work
mkdir -p "$WORK" || exit 1

# The build is done (make check built it): install copies, never builds.
make -s -C "$TOP" BUILD="$BUILD" PREFIX=$P DESTDIR="$D" install \
	>"$WORK/out" 2>&1
is $? 0 "make install: exit status 0"
sed 's/^/# /' "$WORK/out"

for f in bin/ushm bin/ushmd bin/ushm-run; do
	[ -x "$D$P/$f" ]
	is $? 0 "installed $f, executable"
done
for f in lib/libushm.so.$V lib/libushm-preload.so lib/libushm.a \
	 include/ushm.h lib/pkgconfig/ushm.pc \
	 share/man/man1/ushm.1 share/man/man1/ushm-run.1 \
	 share/man/man8/ushmd.8 share/man/man3/libushm.3 \
	 share/man/man3/ushm_get.3 share/man/man3/ushm_at.3 \
	 share/man/man3/ushm_dt.3 share/man/man3/ushm_ctl.3 \
	 lib/systemd/system/ushmd.socket lib/systemd/system/ushmd.service; do
	[ -f "$D$P/$f" ]
	is $? 0 "installed $f"
done
is "$(readlink "$D$P/lib/libushm.so.1")" "libushm.so.$V" \
	"libushm.so.1 -> libushm.so.$V"
is "$(readlink "$D$P/lib/libushm.so")" libushm.so.1 \
	"libushm.so -> libushm.so.1"
if command -v readelf >/dev/null; then
	readelf -d "$D$P/lib/libushm.so.$V" |
		grep -q 'SONAME.*\[libushm.so.1\]'
	is $? 0 "soname libushm.so.1"
else
	ok 0 "# SKIP no readelf"
fi
grep -q "^ExecStart=$P/bin/ushmd " "$D$P/lib/systemd/system/ushmd.service"
is $? 0 "ushmd.service runs the installed ushmd"
grep -q "^KillMode=process$" "$D$P/lib/systemd/system/ushmd.service"
is $? 0 "ushmd.service stops the daemon only: its keeper keeps the segments"
grep -q "^prefix=$P\$" "$D$P/lib/pkgconfig/ushm.pc"
is $? 0 "ushm.pc: prefix"
grep -v '^prefix=' "$D$P/lib/pkgconfig/ushm.pc" | grep -q "$P"
is $? 1 "ushm.pc: every other path from \${prefix} or \${exec_prefix}"

# ---- the man pages render cleanly ----
if command -v man >/dev/null && man --warnings -l /dev/null >/dev/null 2>&1
then
	for f in "$D$P"/share/man/man*/*; do
		MANWIDTH=80 man --warnings -l "$f" >/dev/null 2>"$WORK/warn"
		is "$(cat "$WORK/warn")" "" "man --warnings -l ${f##*/}: clean"
	done
else
	ok 0 "# SKIP no man(1) that takes --warnings"
fi

# ---- a program built through pkg-config, run on the installed tree ----
cat >"$WORK/prog.c" <<'PROG'
#include <stdio.h>
#include <string.h>
#include <ushm.h>

int main(void)
{
	struct ushm_holder h[4];
	struct shmid_ds ds;
	char *p;
	int id, n;

	id = ushm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id < 0 || (p = ushm_at(id, NULL, 0)) == (void *)-1) {
		perror("ushm");
		return 1;
	}
	strcpy(p, "installed");
	n = ushm_holders(id, h, 4);
	if (ushm_ctl(id, IPC_STAT, &ds) < 0 || n != 1)
		return 1;
	/* The index: a fresh state's sequence starts at random. */
	printf("%s %d %lu %d %s %d.%d.%d\n", p, id % 32768,
	       (unsigned long)ds.shm_nattch, h[0].start == (uintptr_t)p,
	       ushm_version(), USHM_VERSION_MAJOR, USHM_VERSION_MINOR,
	       USHM_VERSION_PATCH);
	return ushm_dt(p) || ushm_ctl(id, IPC_RMID, NULL);
}
PROG
# The installed tree moved elsewhere, as a staged or packaged build is.
M=$WORK/moved
if command -v pkg-config >/dev/null && mv "$D$P" "$M"; then
	export PKG_CONFIG_PATH=$M/lib/pkgconfig
	flags=$(pkg-config --define-variable=prefix="$M" --cflags --libs ushm)
	is $? 0 "pkg-config knows ushm"
	is "${flags% }" "-I$M/include -L$M/lib -lushm" \
		"--define-variable=prefix moves every path"
	is "$(pkg-config --modversion ushm)" "$V" "pkg-config: version"
	# shellcheck disable=SC2086
	"${CC:-cc}" -o "$WORK/prog" "$WORK/prog.c" $flags -lpthread \
		2>"$WORK/cc"
	is $? 0 "builds with \$(pkg-config --define-variable=prefix=... --cflags --libs ushm)"
	sed 's/^/# /' "$WORK/cc"
	# The daemon the installed library starts: ../bin/ushmd beside it.
	unset USHM_DAEMON
	out=$(LD_LIBRARY_PATH=$M/lib "$WORK/prog" 2>&1)
	is "$out" "installed 0 1 1 $V $V" \
		"runs on the moved library and daemon; header and library say $V"
	pid=$(ushm_daemon_pid)
	[ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe")" = "$M/bin/ushmd" ]
	is $? 0 "the daemon it started is the moved ushmd"
	LD_LIBRARY_PATH=$M/lib "$M/bin/ushm" ls >"$WORK/ls"
	is $? 0 "the installed ushm lists the segments"
	mv "$M" "$D$P"
else
	ok 0 "# SKIP no pkg-config"
fi

# The installed ushm-run puts an unmodified SysV program on the installed
# shim (its ../lib), with the kernel out of reach (nokernel): ushm must
# serve the program's calls (the daemon's counters, the installed ushm).
served_mark
if [ "${USHM_TEST_NOKERNEL:-1}" = 0 ]; then
	run_installed=("$D$P/bin/ushm-run")
else
	run_installed=("$NOKERNEL" "$D$P/bin/ushm-run")
fi
waiting_for "the installed ushm-run"
id=$("${run_installed[@]}" "$BUILD/tests/progs/shmtool" create private 8192 \
	0600 2>"$WORK/err")
is $? 0 "the installed ushm-run runs a SysV program"
sed 's/^/# /' "$WORK/err"
served_exactly shmget 1 "its shmget went to ushm"
LD_LIBRARY_PATH=$D$P/lib "$D$P/bin/ushm" ls -i "${id:-none}" >/dev/null 2>&1
is $? 0 "the installed ushm lists its segment"

# ---- uninstall ----
make -s -C "$TOP" BUILD="$BUILD" PREFIX=$P DESTDIR="$D" uninstall \
	>"$WORK/out" 2>&1
is $? 0 "make uninstall: exit status 0"
is "$(find "$D" ! -type d | sed "s|^$D||")" "" "make uninstall: no file left"

done_testing
