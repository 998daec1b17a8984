#!/usr/bin/env bash
# tests/quality/san-exec.sh TEST - how sanitizers.t's prove runs each
# test of the suite on build-san: the test itself, with the sanitizer
# options some tests need changed (each with its reason).
case $1 in
*/conformance/conformance.t)
	# signals.c compares the program's signal dispositions with the
	# kernel run's: ASan's own SIGSEGV/SIGBUS handlers (in the runtime
	# ushm-run preloads into these uninstrumented programs) would read
	# as the program's.  A crash still fails: the run compares exit
	# statuses.
	export ASAN_OPTIONS=$ASAN_OPTIONS:handle_segv=0:handle_sigbus=0
	# No nokernel filter here: LeakSanitizer's check at every exit
	# (it stops the process's threads with ptrace) is several times
	# slower in a process under a seccomp filter, and permmatrix's
	# thousands of children then exceed the time bound (19 s without,
	# over 120 s with).  The plain pass runs the comparison behind
	# nokernel; this one looks for memory errors, and the served
	# counters still prove that ushm served each program.
	export USHM_TEST_NOKERNEL=0 ;;
*/bindings.t)
	# perl and python do not free their memory at exit, by design:
	# LeakSanitizer, preloaded into them, would report the
	# interpreters' own allocations.  Memory errors are still caught.
	export ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 ;;
esac
# Everything runs several times slower under ASan: the tests' time bounds
# (lib.sh, tests/tap.h) are scaled.
export USHM_TEST_TIME_SCALE=${USHM_TEST_TIME_SCALE:-3}
exec "$1"
