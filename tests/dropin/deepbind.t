#!/usr/bin/env bash
# deepbind.t - libraries loaded with RTLD_DEEPBIND under ushm-run get
# ushm's shmget/shmat/shmdt/shmctl (the shim's dlopen corrects their
# bindings) while keeping deep binding for everything else: a C library
# (lazy binding, and full RELRO), and PHP's shmop and sysvshm extensions
# (PHP loads extensions with RTLD_DEEPBIND).  Output identical to the
# kernel's; the segments a run keeps are in ushm and not in the kernel.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

dir=$BUILD/tests/dropin
[ -x "$dir/deepbind" ] || skip_all "$dir/deepbind not built (make test-bins)"
# The sanitizer pass: ASan's runtime, preloaded first, refuses every
# RTLD_DEEPBIND dlopen itself (google/sanitizers#611), shim or not.
ldd "$USHM_RUN" 2>/dev/null | grep -q libasan &&
	skip_all "ASan refuses RTLD_DEEPBIND (an ASan build of ushm-run)"
work=$(mktemp -d "${TMPDIR:-/tmp}/deepbind.XXXXXX") || exit 1
ushm_env_setup
at_exit 'rm -rf "$work"; ushm_env_cleanup'

base=$(( 0x5b000000 | (($$ & 0xffff) << 4) ))
hex() { printf '0x%08x' "$1"; }
kernel_has() { LC_ALL=C ipcs -m | awk -v k="$1" 'tolower($1) == k { f = 1 } END { exit !f }'; }
ushm_has() { "$USHM" ls 2>/dev/null | awk -v k="$1" 'tolower($1) == k { f = 1 } END { exit !f }'; }

# same NAME KEY COMMAND...: COMMAND KEY on the kernel and under ushm-run,
# outputs compared.
same() {
	local name=$1 key=$2
	shift 2
	kernel_lock_shared
	timeout 60 "$@" "$key" >"$work/$name.k" 2>&1
	echo "exit $?" >>"$work/$name.k"
	flock -u 9
	timeout 60 "$USHM_RUN" "$@" "$key" >"$work/$name.u" 2>&1
	echo "exit $?" >>"$work/$name.u"
	if diff "$work/$name.k" "$work/$name.u" >"$work/$name.diff"; then
		ok 0 "$name: output identical to the kernel's"
	else
		ok 1 "$name: output identical to the kernel's"
		sed 's/^/# /' "$work/$name.diff"
	fi
}

# served NAME KEY...: the keys are ushm's segments, not the kernel's.
served() {
	local name=$1 k r=0
	shift
	for k in "$@"; do
		ushm_has "$(hex "$k")" || r=1
		kernel_has "$(hex "$k")" && r=1
		"$USHM" rm -M "$k" >/dev/null 2>&1
		ipcrm -M "$k" 2>/dev/null
	done
	is "$r" 0 "$name: served by ushm, not by the kernel"
}

n=0
for mode in lazy now; do
	lib=$dir/libdeep-$mode.so
	n=$((n + 1))
	same "C library, RTLD_DEEPBIND|RTLD_${mode^^}" $((base + n)) \
		"$dir/deepbind" "$lib" "$mode"
	grep -q '^deep binding kept: yes' "$work/"*"${mode^^}.u"
	is $? 0 "deep binding still holds for the library's other names"
	n=$((n + 1))
	kernel_lock_shared
	timeout 60 "$USHM_RUN" "$dir/deepbind" "$lib" "$mode" $((base + n)) \
		keep >/dev/null 2>&1
	served "C library ($mode), kept segment" $((base + n))
	flock -u 9
done

if command -v php >/dev/null &&
	php -r 'exit(function_exists("shmop_open") && function_exists("shm_attach") ? 0 : 1);'; then
	script=$(dirname "${BASH_SOURCE[0]}")/php_shm.php
	n=$((n + 2))
	same "PHP shmop and sysvshm" $((base + n)) php "$script"
	n=$((n + 2))
	kernel_lock_shared
	timeout 60 "$USHM_RUN" php "$script" $((base + n)) keep >/dev/null 2>&1
	served "PHP shmop and sysvshm, kept segments" $((base + n)) \
		$((base + n + 1))
	flock -u 9
else
	echo "# php-cli with shmop and sysvshm is not installed: PHP not tried"
fi
done_testing
