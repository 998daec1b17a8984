#!/usr/bin/env bash
# static.t - ushm-run refuses, before running it, a program the shim
# cannot reach: statically linked, a script whose interpreter is static,
# an ELF of another machine.  A message says why, the status is 126, and
# the program never ran (it would have left a mark).  Dynamic programs
# and scripts still run.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/static.XXXXXX") || exit 1
ushm_env_setup
at_exit 'rm -rf "$work"; ushm_env_cleanup'

# The mark program also makes one System V call, so that a dynamic run
# proves the shim reached it (the daemon counts the shmget).
cat >"$work/mark.c" <<'C'
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
int main(int argc, char **argv)
{
	FILE *f = fopen(argc > 1 ? argv[argc - 1] : "/dev/null", "w");
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

	if (id < 0 || shmctl(id, IPC_RMID, NULL) < 0)
		return 2;
	return f ? fclose(f) : 1;
}
C
CC=${CC:-cc}
"$CC" -o "$work/dynamic" "$work/mark.c" || exit 1
have_static=1
"$CC" -static -o "$work/static" "$work/mark.c" 2>/dev/null || have_static=0

# run NAME PROG...: ushm-run PROG with a mark file; sets rc and err.
run() {
	local name=$1
	shift
	rm -f "$work/$name.mark"
	err=$(timeout 30 "${USHM_RUN_CMD[@]}" "$@" "$work/$name.mark" 2>&1 >/dev/null)
	rc=$?
}

served_mark
run dyn "$work/dynamic"
is "$rc" 0 "a dynamic program runs"
[ -e "$work/dyn.mark" ]
is $? 0 "and ran"
served_exactly shmget 1 "its shmget went to ushm"

if [ "$have_static" = 1 ]; then
	run st "$work/static"
	is "$rc" 126 "a static program is refused (126)"
	[ -e "$work/st.mark" ]
	is $? 1 "before it ran"
	case $err in *"statically linked"*"link it dynamically"*) r=0 ;; *) r=1 ;; esac
	is "$r" 0 "the message says why and what to do"
	[ "$r" = 0 ] || echo "# $err"

	printf '#!%s\n' "$work/static" >"$work/script"
	chmod +x "$work/script"
	run sc "$work/script"
	is "$rc" 126 "a script whose interpreter is static is refused"
	[ -e "$work/sc.mark" ]
	is $? 1 "before it ran"
	case $err in *script*'"#!"'*statically*) r=0 ;; *) r=1 ;; esac
	is "$r" 0 "the message names the script and its interpreter"

	# Found through PATH like exec does.
	PATH=$work:$PATH run path static
	is "$rc" 126 "found through PATH, still refused"
else
	echo "# skipped the static cases: $CC -static fails (libc6-dev's libc.a)"
fi

# An ELF for another machine: the loader would skip the shim.
cp "$work/dynamic" "$work/foreign"
printf '\xb7\x00' | dd of="$work/foreign" bs=1 seek=18 conv=notrunc \
	status=none # e_machine = EM_AARCH64 (x86) ...
[ "$(uname -m)" = aarch64 ] &&
	printf '\x3e\x00' | dd of="$work/foreign" bs=1 seek=18 conv=notrunc \
		status=none # ... or EM_X86_64 (arm64)
run fo "$work/foreign"
is "$rc" 126 "an ELF for another machine is refused"
case $err in *architecture*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "the message says so"

printf '#!/bin/sh\nexec "%s" "$@"\n' "$work/dynamic" >"$work/okscript"
chmod +x "$work/okscript"
run oks "$work/okscript"
is "$rc" 0 "a shell script runs"
[ -e "$work/oks.mark" ]
is $? 0 "and ran"
done_testing
