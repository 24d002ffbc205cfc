#!/usr/bin/env bash
# Runs the loom models of the core crate (tests/loom_*.rs): every
# interleaving of small instances of the ring, the queue, the reply mailbox
# and the wait/wake protocol, with loom's atomics behind the `sync` door.
# Their own target directory keeps `--cfg loom` from invalidating the
# normal build. Extra arguments go to the test binaries (a test name, say).
set -euo pipefail
cd "$(dirname "$0")/../.."
export RUSTFLAGS="--cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
exec cargo test -p shm-comm --release --test 'loom_*' -- "$@"
