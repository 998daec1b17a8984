#!/usr/bin/env bash
# bench/real.sh - make bench's real-program section: unmodified programs
# that use System V shared memory, run on the kernel and on ushm, and
# their rates compared.
#
#   AFL++         afl-fuzz in fork-server mode on a tiny instrumented
#                 target (bench/real/afl_target.c): execs/s
#   PHP shmop     open an existing segment + read + close, in a loop
#                 (bench/real/shmop.php): ops/s
#   stress-ng     --shm-sysv 1 --seed 1 (the same segment sizes on both
#                 sides): bogo ops/s (real time)
#
# Every run has an IPC namespace of its own (unshare -i), so neither side
# sees the other's segments and nothing is left in the machine's kernel
# table.  The ushm side runs under ushm-run on a daemon of its own, on a
# private socket and state directory, started in that namespace and
# stopped after the run.  The sides alternate (kernel, ushm, kernel,
# ushm, ...); each figure is the median of its runs (each run's value
# and each pair's ratio are printed as comments), and each ratio is
# ushm's rate divided by the kernel's: HIGHER is better, unlike the cost
# ratios bench.c prints above it.
#
# A run counts only when it is proved to have measured what it says: on
# the ushm side the daemon served shmget and shmat, and the kernel never
# allocated a segment in the run's namespace (a segment made afterwards
# gets id 0, the first id of a fresh namespace); on the kernel side the
# kernel did allocate (the id is not 0).  Otherwise the run is reported
# invalid and that program gets no ratio.
#
# A program that is not installed is skipped with the reason, never a
# failure; as root with apt-get, the missing ones are installed first
# (Debian: afl++, php-cli, stress-ng), unless BENCH_REAL_INSTALL=0.
# BENCH_REAL=0 skips the whole section.  For quick runs by hand (and the
# test): REAL_ROUNDS (3), REAL_SECONDS (overrides each program's
# duration), REAL_ONLY (a regular expression on afl, php, stress-ng).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
USHM=$BUILD/bin/ushm
USHM_RUN=$BUILD/bin/ushm-run
USHMD=$BUILD/bin/ushmd
ROUNDS=${REAL_ROUNDS:-3}
SELF=$TOP/bench/real.sh
# Told to stop (^C, timeout), exit through the EXIT traps, which stop a
# run's daemon and remove the scratch files.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- one run, inside its own IPC namespace ----

# afl_run DIR [RUNNER...]: afl-fuzz for AFL_SECONDS on the target built
# in DIR/..; prints execs/s from its fuzzer_stats.
afl_run() {
	local dir=$1 stats
	shift
	# AFL's own settings only: an inherited AFL_* could change the mode
	# measured (AFL_NO_FORKSRV, AFL_PERSISTENT...).
	while read -r v; do unset "$v"; done < <(compgen -e | grep '^AFL_' || true)
	export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 \
		AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
	timeout $((AFL_SECONDS + 60)) "$@" afl-fuzz -s 1 -V "$AFL_SECONDS" \
		-i "$dir/../afl-in" -o "$dir/afl-out" -- "$dir/../afl_target" \
		>"$dir/log" 2>&1 || return 1
	stats=$dir/afl-out/default/fuzzer_stats
	awk -F' *: *' '$1 == "execs_done" { d = $2 }
		$1 == "execs_per_sec" { r = $2 }
		END { if (d > 0 && r > 0) print r; else exit 1 }' "$stats"
}

# php_run DIR [RUNNER...]: the shmop loop for PHP_SECONDS; prints ops/s.
php_run() {
	local dir=$1
	shift
	timeout $((PHP_SECONDS + 60)) "$@" php "$TOP/bench/real/shmop.php" \
		0x7265616c "$PHP_SECONDS" 2>"$dir/log"
}

# stress_ng_run DIR [RUNNER...]: stress-ng --shm-sysv 1 for STRESS_SECONDS
# (its random segment sizes from a fixed seed); prints its bogo ops/s
# (real time) from its YAML report.
stress_ng_run() {
	local dir=$1
	shift
	(cd "$dir" && timeout $((STRESS_SECONDS + 60)) "$@" stress-ng \
		--shm-sysv 1 --seed 1 --timeout "${STRESS_SECONDS}s" --metrics-brief \
		--temp-path "$dir" --yaml "$dir/stress.yaml" >"$dir/log" 2>&1) ||
		return 1
	awk '$1 == "bogo-ops-per-second-real-time:" { r = $2 }
		END { if (r > 0) print r; else exit 1 }' "$dir/stress.yaml"
}

# kernel_first_id: the id the kernel gives a new segment in this
# namespace (0 when it has never allocated one here).
kernel_first_id() {
	local id
	id=$("$USHM" --kernel mk -M 4096 | sed -n 's/^Shared memory id: //p')
	[ -n "$id" ] || return 1
	"$USHM" --kernel rm -m "$id" >/dev/null
	echo "$id"
}

# one_run SIDE PROGRAM DIR: runs PROGRAM once (SIDE kernel or ushm) in
# this namespace; prints "rate R", or "invalid WHY" / "failed WHY".
one_run() {
	local side=$1 prog=$2 dir=$3 rate status id get at
	local runner=()
	unset LD_PRELOAD
	if [ "$side" = ushm ]; then
		export USHM_SOCKET=$dir/sock USHM_STATE_DIR=$dir/state
		export USHM_DAEMON=$USHMD USHM_AUTOSTART=0
		trap '"$USHM" daemon stop >/dev/null 2>&1 || true' EXIT
		"$USHM" daemon start >/dev/null || {
			echo "failed the private daemon did not start"
			return 0
		}
		runner=("$USHM_RUN")
	fi
	if ! rate=$("${prog//-/_}_run" "$dir" "${runner[@]}"); then
		echo "failed $prog exited with an error; its last lines:" \
			"$(tail -3 "$dir/log" 2>/dev/null | tr '\n' ' ')"
		return 0
	fi
	if [ "$side" = ushm ]; then
		status=$("$USHM" daemon status) || {
			echo "invalid the daemon was gone at the end of the run"
			return 0
		}
		"$USHM" daemon stop >/dev/null
		trap - EXIT
	fi
	id=$(kernel_first_id) || {
		echo "invalid could not probe the kernel's segment ids"
		return 0
	}
	if [ "$side" = ushm ]; then
		get=$(echo "$status" | sed -n 's/^served_shmget: //p')
		at=$(echo "$status" | sed -n 's/^served_shmat: //p')
		if [ "$id" != 0 ]; then
			echo "invalid the kernel allocated segments during the ushm run"
		elif [ "${get:-0}" -eq 0 ] || [ "${at:-0}" -eq 0 ]; then
			echo "invalid the daemon served no shmget or no shmat" \
				"(served_shmget ${get:-?}, served_shmat ${at:-?})"
		else
			echo "rate $rate"
		fi
	elif [ "$id" = 0 ]; then
		echo "invalid the kernel allocated no segment during the kernel run"
	else
		echo "rate $rate"
	fi
}

if [ "${1:-}" = --one ]; then
	AFL_SECONDS=$4 PHP_SECONDS=$4 STRESS_SECONDS=$4
	one_run "$2" "$3" "$5"
	exit 0
fi

# ---- the section ----

if [ "${BENCH_REAL:-1}" = 0 ]; then
	echo "real programs: skipped (BENCH_REAL=0)"
	exit 0
fi
if [ ! -x "$USHM_RUN" ] || [ ! -x "$USHMD" ] || [ ! -x "$USHM" ]; then
	echo "real programs: skipped ($BUILD/bin has no ushm-run, ushmd or ushm: run make)"
	exit 0
fi
if ! unshare -i true 2>/dev/null; then
	echo "real programs: skipped (unshare -i failed: an IPC namespace per run needs root)"
	exit 0
fi

# php_has_shmop: php is installed and has the shmop extension.
php_has_shmop() {
	command -v php >/dev/null &&
		php -r 'exit(function_exists("shmop_open") ? 0 : 1);' 2>/dev/null
}

# Installs what is missing, one package at a time (a package this
# release lacks must not stop the others).
if [ "${BENCH_REAL_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] &&
	command -v apt-get >/dev/null; then
	need=()
	command -v afl-fuzz >/dev/null && command -v afl-cc >/dev/null ||
		need+=(afl++)
	php_has_shmop || need+=(php-cli)
	command -v stress-ng >/dev/null || need+=(stress-ng)
	if [ ${#need[@]} -gt 0 ]; then
		echo "bench: installing ${need[*]} (Debian) for the real programs" >&2
		apt-get update -qq >/dev/null 2>&1 || true
		for p in "${need[@]}"; do
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends "$p" >/dev/null 2>&1 ||
				echo "bench: could not install $p" >&2
		done
	fi
fi

OUT=${BENCH_OUT:-$BUILD/bench/results}
mkdir -p "$OUT" "$BUILD/bench/real"
# On /dev/shm when it can, as tests/lib.sh does: a short path, which a
# ushm run's socket (work/RUN/sock) needs (108 bytes at most).
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/ushmbench-real.XXXXXX")
# A run still going (the section told to stop) is stopped and waited
# for first: its EXIT trap stops its daemon, through the socket in $work.
run_pid=
finish() {
	trap '' TERM INT
	if [ -n "$run_pid" ]; then
		kill -TERM "$run_pid" 2>/dev/null || true
		wait "$run_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap finish EXIT

# prepare PROG: prints why PROG cannot run here, or nothing.
prepare() {
	case $1 in
	afl)
		if ! command -v afl-fuzz >/dev/null || ! command -v afl-cc >/dev/null; then
			echo "afl-fuzz or afl-cc is not installed (Debian package afl++)"
			return
		fi
		# The target, instrumented; rebuilt when its source changes.
		local t=$BUILD/bench/real/afl_target src=$TOP/bench/real/afl_target.c
		if [ ! -x "$t" ] || [ "$src" -nt "$t" ]; then
			AFL_QUIET=1 afl-cc -O2 -o "$t" "$src" \
				>"$work/afl-cc.log" 2>&1 || {
				echo "afl-cc could not build $src: $(tail -1 "$work/afl-cc.log")"
				return
			}
		fi
		ln -s "$t" "$work/afl_target"
		mkdir "$work/afl-in" && echo hello >"$work/afl-in/seed"
		;;
	php)
		if ! command -v php >/dev/null; then
			echo "php is not installed (Debian package php-cli)"
		elif ! php_has_shmop; then
			echo "php has no shmop extension (php -m does not list it)"
		fi
		;;
	stress-ng)
		command -v stress-ng >/dev/null ||
			echo "stress-ng is not installed (Debian package stress-ng)"
		;;
	esac
}

# stats V...: median, min and max of the values.
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%s %s %s\n", m, v[1], v[NR] }'
}

row() { # LABEL MEDIAN MIN MAX UNIT, in bench.c's format
	printf '  %-44s %12.1f %12.1f %12.1f  %s\n' "$1" "$2" "$3" "$4" "$5"
}

# The programs: short name, label, unit, ratio name, seconds per run.
progs=(
	"afl|AFL++ fork-server|execs/s|afl_forkserver_execs_vs_kernel|5"
	"php|PHP shmop open+read+close|ops/s|php_shmop_ops_vs_kernel|3"
	"stress-ng|stress-ng --shm-sysv 1|bogo-ops/s|stress_ng_shm_sysv_ops_vs_kernel|4"
)

echo "# real programs: median, min, max of $ROUNDS run(s) per side, kernel and" \
	"ushm alternating, each run in its own IPC namespace"
printf '  %-44s %12s %12s %12s\n' "" median min max
echo "real programs (rates: higher is better)"
ratios=()
for p in "${progs[@]}"; do
	IFS='|' read -r name label unit rname secs <<<"$p"
	[ -n "${REAL_ONLY:-}" ] && ! [[ $name =~ ${REAL_ONLY} ]] && continue
	secs=${REAL_SECONDS:-$secs}
	why=$(prepare "$name")
	if [ -n "$why" ]; then
		echo "  $label: skipped: $why"
		ratios+=("skipped $rname: $why")
		continue
	fi
	k=() u=() all=() bad=
	for ((r = 1; r <= ROUNDS; r++)); do
		for side in kernel ushm; do
			echo "bench: $label, run $r of $ROUNDS, $side" >&2
			dir=$work/$name-$r-$side
			mkdir "$dir"
			# In the background and waited for: a signal to this
			# shell runs its trap at once, which stops the run.
			unshare -i "$SELF" --one "$side" "$name" "$secs" "$dir" \
				>"$dir.out" 2>&1 &
			run_pid=$!
			wait "$run_pid" || true
			run_pid=
			res=$(tail -1 "$dir.out")
			case $res in
			"rate "*)
				v=${res#rate }
				all+=("${side:0:1}=$v")
				if [ "$side" = kernel ]; then k+=("$v"); else u+=("$v"); fi
				;;
			*)
				# "invalid WHY" or "failed WHY" (or what a
				# broken run printed last)
				verdict=${res%% *}
				case $verdict in
				invalid | failed) ;;
				*) verdict=failed ;;
				esac
				bad="$verdict: run $r ($side): ${res#"$verdict" }"
				break 2
				;;
			esac
			rm -rf "$dir" "$dir.out"
		done
	done
	if [ -n "$bad" ]; then
		echo "  $label: $bad"
		ratios+=("${bad%%:*} $rname:${bad#*:}")
		continue
	fi
	read -r km kmin kmax <<<"$(stats "${k[@]}")"
	read -r um umin umax <<<"$(stats "${u[@]}")"
	row "$label (kernel)" "$km" "$kmin" "$kmax" "$unit"
	row "$label (ushm)" "$um" "$umin" "$umax" "$unit"
	echo "#   runs in order: ${all[*]}"
	# Each ushm run against the kernel run just before it: the machine's
	# load drifts, and a pair sees about the same load.
	pairs=()
	for ((i = 0; i < ${#k[@]}; i++)); do
		pairs+=("$(awk -v u="${u[i]}" -v k="${k[i]}" 'BEGIN { printf "%.2f", u / k }')")
	done
	echo "#   ushm/kernel per pair: ${pairs[*]}"
	ratios+=("ratio $rname $(awk -v u="$um" -v k="$km" 'BEGIN { printf "%.3f", u / k }')")
done

echo "# real programs: each ratio is ushm's rate / the kernel's, HIGHER is better"
echo "# (the ratios above it are costs, lower is better)"
printf '%s\n' "${ratios[@]}"
