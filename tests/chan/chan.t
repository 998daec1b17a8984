#!/usr/bin/env bash
# Channels: sizes and wrap, zero copy, header checks, timeouts, peer death.
. "$(dirname "$0")/../lib.sh"
ushm_env_setup
"$BUILD/tests/chan/chan_test"
