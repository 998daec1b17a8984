#!/usr/bin/env bash
# The examples: wait_writer/wait_reader in both orders, and a channel
# producer/consumer pair; the consumer says "ready" before the producer
# starts (a fifo, not a sleep).
. "$(dirname "$0")/../lib.sh"
ushm_env_setup
EX=$BUILD/examples
plan 6

"$EX/wait_reader" 10 >"$USHM_TEST_DIR/r1" &
r=$!
"$EX/wait_writer" "first the reader" >/dev/null
wait "$r"
is "$?" 0 "reader started first: exit 0"
is "$(cat "$USHM_TEST_DIR/r1")" 'wait_reader: received "first the reader"' \
	"it received the message"

"$EX/wait_writer" "first the writer" >/dev/null
out=$("$EX/wait_reader" 10)
is "$out" 'wait_reader: received "first the writer"' \
	"writer first: the reader does not wait"

mkfifo "$USHM_TEST_DIR/fifo"
"$EX/chan_consumer" 10 >"$USHM_TEST_DIR/fifo" &
c=$!
exec 3<"$USHM_TEST_DIR/fifo"
read -r line <&3
is "$line" "chan_consumer: ready" "consumer ready"
"$EX/chan_producer" 3 >/dev/null
got=$(cat <&3)
wait "$c"
is "$?" 0 "consumer ends at the producer's close"
is "$got" 'chan_consumer: got "message 1 of 3"
chan_consumer: got "message 2 of 3"
chan_consumer: got "message 3 of 3 (in place)"
chan_consumer: the producer has gone (EPIPE)' "every message, then EPIPE"
