#!/usr/bin/env bash
# trap.t - ushm-run --trap: raw System V system calls (syscall(SYS_shmget,
# ...), no libc wrapper) are served by ushm, with the kernel's results;
# without --trap they reach the kernel; calls of another ABI are refused
# loudly; a non-root program runs with no_new_privs and still works.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

prog=$BUILD/tests/dropin/rawsys
[ -x "$prog" ] || skip_all "$prog not built (make test-bins)"
case $(uname -m) in
x86_64 | aarch64) ;;
*) skip_all "--trap has no filter for $(uname -m)" ;;
esac
work=$(mktemp -d "${TMPDIR:-/tmp}/trap.XXXXXX") || exit 1
at_exit 'rm -rf "$work"; ushm_env_cleanup'
ushm_env_setup
at_exit 'rm -rf "$work"; ushm_env_cleanup'

# A key of our own: 0x5a000000 plus our pid.
key=$(printf '0x%x' $(( 0x5a000000 | ($$ & 0xffffff) )))

kernel_has() { LC_ALL=C ipcs -m | awk -v k="$1" 'tolower($1) == k { f = 1 } END { exit !f }'; }
ushm_has() { "$USHM" ls 2>/dev/null | awk -v k="$1" 'tolower($1) == k { f = 1 } END { exit !f }'; }
key8=$(printf '0x%08x' "$key")

kernel_lock_shared
timeout 30 "$prog" "$key" >"$work/kernel.out" 2>&1
echo "exit $?" >>"$work/kernel.out"
flock -u 9

timeout 30 "$USHM_RUN" --trap "$prog" "$key" >"$work/ushm.out" 2>&1
echo "exit $?" >>"$work/ushm.out"
if diff "$work/kernel.out" "$work/ushm.out" >"$work/diff"; then
	ok 0 "raw syscalls under --trap: output identical to the kernel's"
else
	ok 1 "raw syscalls under --trap: output identical to the kernel's"
	sed 's/^/# /' "$work/diff"
fi

# ushm served them: a segment kept by the program is ushm's, not the
# kernel's.
kernel_lock_shared
timeout 30 "$USHM_RUN" --trap "$prog" "$key" keep >/dev/null 2>&1
is $? 0 "the keep run works"
ushm_has "$key8"
is $? 0 "its segment is in ushm"
kernel_has "$key8"
is $? 1 "and not in the kernel"
"$USHM" rm -M "$key" >/dev/null 2>&1

# Without --trap the same calls reach the kernel (so the test above can
# fail).
timeout 30 "$USHM_RUN" "$prog" "$key" keep >/dev/null 2>&1
kernel_has "$key8"
is $? 0 "without --trap, raw syscalls reach the kernel"
ipcrm -M "$key" 2>/dev/null
flock -u 9

# x32 (bit 30 of the number): trapped, refused loudly, nothing made.
err=$(timeout 30 "$USHM_RUN" --trap "$prog" "$key" x32 2>&1 >/dev/null)
rc=$?
is "$rc" 134 "an x32 shmget under --trap aborts the program (SIGABRT)"
case $err in *"another ABI"*"aborting"*) r=0 ;; *) r=1 ;; esac
is "$r" 0 "with a message saying why"
ushm_has "$key8"
is $? 1 "and makes no segment"

# The 32-bit entry, where this kernel has it (where it has not, the
# probe dies of SIGSEGV: no ASan report for that).
# The braces take bash's own "Segmentation fault" notice off stderr.
if [ "$(uname -m)" = x86_64 ] &&
	{ (ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0 \
		timeout 10 "$prog" "$key" getpid80) >/dev/null 2>&1; } \
		2>/dev/null; then
	timeout 30 "$USHM_RUN" --trap "$prog" "$key" int80 >/dev/null 2>&1
	is $? 134 "an int 0x80 shmget under --trap aborts the program"
else
	echo "# no 32-bit entry (int 0x80) on this kernel: not tried"
fi

# As another user: no_new_privs is set (the kernel requires it), the
# program runs, its calls are served.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	udir=$work/nobody
	chmod 755 "$work" && mkdir -p "$udir" && chown 65534:65534 "$udir"
	out=$(USHM_SOCKET=$udir/sock USHM_STATE_DIR=$udir/state \
		as_uid 65534 timeout 30 "$USHM_RUN" --trap \
		sh -c 'grep NoNewPrivs /proc/self/status; "$0" "$1" keep' \
		"$prog" "$key" 2>&1)
	case $out in *"NoNewPrivs:"*1*) r=0 ;; *) r=1 ;; esac
	is "$r" 0 "a non-root program runs with no_new_privs"
	USHM_SOCKET=$udir/sock USHM_STATE_DIR=$udir/state \
		as_uid 65534 "$USHM" ls 2>&1 | tee "$work/nls" | grep -qi "$key8"
	is $? 0 "and its raw calls are served by its ushm daemon" || sed "s/^/# /" "$work/nls"
	pid=$(cat "$udir/state/ushmd.pid" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" && wait_for 5 pid_gone "$pid"
	out=$(timeout 30 "$USHM_RUN" --trap sh -c \
		'grep NoNewPrivs /proc/self/status')
	case $out in *"NoNewPrivs:"*0*) r=0 ;; *) r=1 ;; esac
	is "$r" 0 "root keeps setuid programs: no no_new_privs"
fi
done_testing
