#!/usr/bin/env bash
# Runs the loom models of the core crate (tests/loom_*.rs): every
# interleaving of small instances of the ring, the queue, the reply mailbox
# and the wait/wake protocol, with loom's atomics behind the `sync` door.
# Their own target directory keeps `--cfg loom` from invalidating the
# normal build. Extra arguments go to the test binaries (a test name, say).
#
#   shm-comm/tests/loom.sh           # every model at its full bound (about a minute)
#   shm-comm/tests/loom.sh --quick   # the test command's run: the ring's
#                                    # torn-read model at bound 1, not 2
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = --quick ]; then
    shift
    export SHM_COMM_LOOM_QUICK=1
fi
export RUSTFLAGS="--cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
exec cargo test -p shm-comm --release --test 'loom_*' -- "$@"
