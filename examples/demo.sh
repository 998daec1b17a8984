#!/usr/bin/env bash
# make demo: the tutorial's writer/reader scenario on ushm, end to end.
# A private daemon (its own socket and state directory) is started by the
# library on first use and stopped at the end; nothing is installed.
set -euo pipefail
BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
PATH=$BUILD/bin:$PATH
dir=$(mktemp -d "${TMPDIR:-/tmp}/ushm-demo.XXXXXX")
export USHM_SOCKET=$dir/ushmd.sock USHM_STATE_DIR=$dir/state
trap 'ushm daemon stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "ushm-run reader &        # waits for the writer's segment and message"
ushm-run "$BUILD/examples/reader" 10 &
reader=$!
say "ushm-run writer 'hello from ushm'"
ushm-run "$BUILD/examples/writer" "hello from ushm"
wait "$reader"
say "ipcs -m                  # the kernel's table stays empty"
ipcs -m
say "ushm ls                  # ushm's: the segment outlives both programs"
ushm ls
say "ushm daemon status"
ushm daemon status
say "ushm rm -M 0x4d2 && ushm ls"
ushm rm -M 0x4d2
ushm ls

# ---- wait/notify and channels (examples/wait_*.c, chan_*.c) ----
say "wait_reader &            # sleeps in ushm_wait: no polling"
"$BUILD/examples/wait_reader" 10 &
wreader=$!
say "wait_writer 'woken, not polled'"
"$BUILD/examples/wait_writer" "woken, not polled"
wait "$wreader"
say "chan_consumer &  then  chan_producer 5     # a channel in a segment"
mkfifo "$dir/consumer"
"$BUILD/examples/chan_consumer" 10 >"$dir/consumer" &
consumer=$!
exec 3<"$dir/consumer"
read -r line <&3 && echo "$line"
"$BUILD/examples/chan_producer" 5
cat <&3
wait "$consumer"
exec 3<&-
