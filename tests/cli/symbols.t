#!/usr/bin/env bash
# symbols.t - libushm.so exports exactly the functions include/ushm.h
# declares with USHM_API, and nothing else of the library's insides;
# libushm-preload.so exports exactly shmget, shmat, shmdt and shmctl, and
# the wrappers that keep them right (dlopen; munmap & co.; the exec family,
# which keeps a program's daemon across exec).

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

command -v nm >/dev/null || skip_all "nm (binutils) is needed"
[ -f "$BUILD/lib/libushm.so" ] || skip_all "build the libraries first"

# defined NAME.so: the dynamic symbols it defines, one per line, sorted,
# without the version nodes (type A) the version script adds.
defined() {
	nm -D --defined-only "$1" | awk '$2 != "A" { sub(/@.*/, "", $3);
		print $3 }' | sort -u
}

# The header's USHM_API functions: "USHM_API type name(" or "*name(".
api=$(sed -n 's/^USHM_API[^(]*[ *]\([a-z_0-9]*\)(.*/\1/p' \
	"$TOP/include/ushm.h" | sort -u)
[ -n "$api" ]
is $? 0 "the header declares functions with USHM_API"
# The shim's private door into the library (USHM_PRIVATE, see
# src/lib/libushm.map): exactly what the shim needs, none of the API.
private=$(nm -D --defined-only "$BUILD/lib/libushm.so" |
	awk '$2 != "A" && $3 ~ /@@?USHM_PRIVATE$/ { sub(/@.*/, "", $3);
		print $3 }' | LC_ALL=C sort | tr '\n' ' ')
is "$private" "ushm__fork ushm__used_socket " \
	"the USHM_PRIVATE node holds only what the shim needs"
got=$(defined "$BUILD/lib/libushm.so" |
	grep -vxF -e ushm__fork -e ushm__used_socket)
if [ "$got" = "$api" ]; then
	ok 0 "libushm.so exports exactly the public API"
else
	ok 1 "libushm.so exports exactly the public API"
	diff <(echo "$api") <(echo "$got") | diag
fi
echo "$got" | grep -q '^ushm__'
is $? 1 "no internal ushm__ symbol leaks"

got=$(defined "$BUILD/lib/libushm-preload.so" | tr '\n' ' ')
is "$got" "dlopen execl execle execlp execv execve execvp execvpe fork madvise mmap mmap64 mprotect mremap munmap shmat shmctl shmdt shmget " \
	"libushm-preload.so exports exactly the SysV calls and its wrappers"

done_testing
