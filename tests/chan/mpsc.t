#!/usr/bin/env bash
# Four producer processes, one consumer: every message once, in order.
. "$(dirname "$0")/../lib.sh"
ushm_env_setup
"$BUILD/tests/chan/mpsc_stress"
