#!/usr/bin/env bash
# shmat without a round trip (src/lib/shmat.c): after its first shmat of
# a segment a process keeps the descriptor, and a later shmat maps it,
# checked against the published row, and tells the daemon without
# waiting.  The same conversation runs against the kernel and under
# ushm-run, as another user, with root changing the segment between the
# calls; the answers must be identical, and the daemon's counters must
# show the shmats were served without a round trip.
. "$(dirname "$0")/lib.sh"
need_other_users
# The kernel's side in an IPC namespace of its own: nothing it makes can
# meet another test's segments, or outlive a failure.
if [ -z "${USHM_KEPT_NS:-}" ]; then
	command -v unshare >/dev/null || skip_all "unshare (util-linux) is needed"
	export USHM_KEPT_NS=1
	reexec unshare --ipc -- "$BASH" "$0" "$@"
fi
ushm_env_setup
T=$BUILD/tests/progs/shmtool
K=$BUILD/tests/progs/kept
U=4242

# converse RUN...: the conversation, with RUN the prefix that runs a
# plain SysV program (nothing: the kernel).  Prints the answers.
converse() {
	local run=("$@") id id2 d
	d=$(mktemp -d "$USHM_TEST_DIR/conv.XXXXXX")
	id=$("${run[@]}" "$T" create private 4096 0666) || return 1
	mkfifo "$d/in" "$d/out"
	as_uid $U "${run[@]}" "$K" <"$d/in" >"$d/out" &
	local asker=$!
	exec 3>"$d/in" 4<"$d/out"
	# Answers with the ids named, not numbered (the kernel's differ).
	ask() {
		local q=" $* "
		waiting_for "the kept program's answer to: $*"
		echo "$*" >&3
		read -r -u 4 ANSWER
		q=${q// $id / ID }
		[ -n "${id2:-}" ] && q=${q// $id2 / ID2 }
		echo "${q:1:-1} -> $ANSWER"
	}
	ask cycle "$id" 300
	if [ -n "${SERVED_CHECK:-}" ]; then
		# Printed into the transcript: the kernel side prints the
		# same words, so only a failure here makes a difference.
		local kept all
		kept=$(served_delta shmat_kept) all=$(served_delta shmat)
		if [ "$kept" -ge 299 ] && [ $((all - kept)) -le 2 ]; then
			echo "served: without a round trip"
		else
			echo "served: $all shmat, $kept of them kept"
		fi
	else
		echo "served: without a round trip"
	fi
	ask at "$id"
	ask nattch "$id"
	# The library's descriptors (its connection, the kept one) are not
	# where fork would copy a table of 1,024 for them.
	ask highfds
	ask dt
	# A mode change refuses the next shmat at once, and a change back
	# allows it again.
	"${run[@]}" "$T" chmod "$id" 0600
	ask at "$id"
	"${run[@]}" "$T" chmod "$id" 0644
	ask at "$id"
	ask at "$id" ro
	ask dt
	ask at "$id" ro
	ask nattch "$id"
	ask dt
	"${run[@]}" "$T" chmod "$id" 0666
	ask forkat "$id"
	# Removed: no shmat finds it, and the kept descriptor is let go.
	"${run[@]}" "$T" rmid "$id"
	ask at "$id"
	ask memfds
	# A program that closes every descriptor (the kept one with them)
	# and reuses the numbers still attaches the right memory.
	id2=$("${run[@]}" "$T" create private 4096 0666)
	"${run[@]}" "$T" fill "$id2" 7
	ask at "$id2"
	ask dt
	ask closefds
	ask at "$id2"
	ask nattch "$id2"
	ask dt
	# A removal racing a loop of shmats: while attached, the segment is
	# always there (IPC_STAT by id works), and the loop ends with the
	# kernel's error.
	echo "race $id2" >&3
	waiting_for "the race loop to start"
	read -r -u 4 ANSWER
	echo "race -> $ANSWER"
	"${run[@]}" "$T" rmid "$id2"
	waiting_for "the race loop to stop"
	read -r -u 4 ANSWER
	# Linux ends it either way: EINVAL once the id is gone, EIDRM for
	# a shmat that found the id as the removal marked it deleted.
	ANSWER=${ANSWER/stopped: EIDRM;/stopped: EINVAL or EIDRM;}
	ANSWER=${ANSWER/stopped: EINVAL;/stopped: EINVAL or EIDRM;}
	echo "race -> $ANSWER"
	ask memfds
	ask races 100
	exec 3>&- 4<&-
	wait $asker
	echo "exit $?"
}

waiting_for "the conversation with the kernel"
kernel=$(converse)
ok $? "the conversation with the kernel"
served_mark
SERVED_CHECK=1
ushm=$(converse "${USHM_RUN_CMD[@]}")
ok $? "the conversation under ushm-run"
unset SERVED_CHECK
if [ "$kernel" = "$ushm" ]; then
	ok 0 "ushm answered as the kernel did"
else
	ok 1 "ushm answered as the kernel did"
	diff -u <(echo "$kernel") <(echo "$ushm") | diag
fi
echo "$ushm" | grep -q "cycle ID 300 -> 300 cycles: nattch right, data right"
ok $? "300 shmat+shmdt cycles: nattch and data right"
served_at_least shmat_kept 300 "shmats of a kept descriptor"

# A process whose effective uid differs from its real one (a setuid
# program): Linux checks the effective uid, so does the daemon for a
# kept shmat, whose note must carry it (the kernel's own credentials on
# a message name the real uid).  The segment is the effective uid's,
# 0600: the real uid alone could not attach it.
setuid_cycle() {
	local run=("$@") sid out
	sid=$(as_uid $U "${run[@]}" "$T" create private 4096 0600) || return 1
	# (Split after exec: the loader would refuse the shim to a
	# process that starts split, as to any setuid program.)
	# (No leak check for it in the sanitizer pass: LeakSanitizer
	# checks at exit by ptrace, which the split ids forbid.)
	out=$(printf 'become %s\ncycle %s 50\n' $U "$sid" |
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
			timeout 60 "${run[@]}" "$K")
	"${run[@]}" "$T" rmid "$sid"
	echo "${out//$sid/ID}" | tr '\n' ' '
}
kernel=$(setuid_cycle)
served_mark
ushm=$(setuid_cycle "${USHM_RUN_CMD[@]}")
is "$ushm" "$kernel" "a setuid process's kept shmats: nattch and data as the kernel's"
served_at_least shmat_kept 40 "shmats of a kept descriptor by the setuid process"

# The daemon's side of the race between a kept shmat and a change, step
# by step on the wire (the races above rarely land in the window).
waiting_for "gencheck"
out=$(timeout 60 "$BUILD/tests/progs/gencheck" "$USHM_SOCKET")
is "$out" "IPC_RMID moved gen, and left it even: yes
an ATTACHED after the removal: SYNC says EINVAL
IPC_SET moved gen, and left it even: yes
SYNC with nothing refused since: ok
an ATTACHED before the removal: nattch 1, SHM_DEST yes
after A detaches: IPC_STAT EINVAL (destroyed)" "a change moves gen; ATTACHED before it counts, after it is refused"
echo "$ushm" | sed 's/^/#   /'
done_testing
