#!/usr/bin/env bash
# The project's command surface:
#   ./dev.sh demo   build everything and run the headline demo
#   ./dev.sh test   run every check and test, Rust and Python (what CI runs)
# The full benchmark comparison with peers is benches/compare.sh.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
# Each step says when it starts (seconds since the command began), so a
# CI log shows where the time goes.
step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS" >&2; }
# A clean build (CI) gains nothing from incremental compilation's caches.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi

# A virtual environment with the build and test tools, and the Python
# package built from this tree (release mode) installed into it. mypy is
# for python/tests/test_typing.py, which type-checks the stubs, the
# examples and a file of misuses with --strict. mcap is the independent
# reader that python/tests/test_cli.py checks `shmc record`'s files with.
# eclipse-zenoh is the plain Zenoh client of python/tests/test_zenoh.py
# (the `zenoh` extra), a wheel that installs in seconds.
python_env() {
    step "python environment ($VENV)"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.9.4,<2" numpy pytest ziglang uvloop "mypy>=1.10,<2" "mcap>=1.2,<2" \
        "eclipse-zenoh>=1.10,<1.11"
    # The wheel users get (README, "Building wheels": stable ABI, linked by
    # zig against glibc 2.31), built once and installed: every Python test
    # and guard runs against it, and python/tests/test_wheel.py installs
    # the same file into a fresh environment (SHM_COMM_WHEEL_DIR) rather
    # than building it a second time. The stable ABI needs CPython 3.11;
    # an older python gets a version-specific wheel.
    step "building the Python wheel (release) and installing it"
    local wheels=target/wheels-dev abi3=(--features abi3)
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        abi3=()
    fi
    rm -rf "$wheels"
    # maturin runs zig from the venv's `ziglang` package (the python on PATH).
    PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/maturin" build --release --quiet "${abi3[@]}" \
        --zig --compatibility manylinux_2_31 --manifest-path python/Cargo.toml -o "$wheels"
    # An extension left in the source tree by an earlier editable install
    # would shadow nothing (tests import the installed package) but confuse.
    rm -f python/shm_comm/_native*.so
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
        --no-deps "$wheels"/*.whl
    export SHM_COMM_WHEEL_DIR="$PWD/$wheels"
}

demo() {
    step "building (release)"
    cargo build --release --workspace --all-targets
    python_env
    step "demo: a typed topic between two processes"
    cargo run --release --quiet --example typed_pubsub
}

test_all() {
    step "format"
    cargo fmt --all -- --check
    step "clippy"
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy -p shm-comm -p shm-comm-suite --features tokio --all-targets -- -D warnings
    step "docs"
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet
    step "rust tests"
    cargo test --workspace
    step "tokio feature (async handles: docs, tests, the tokio_node example)"
    RUSTDOCFLAGS=-Dwarnings cargo doc -p shm-comm --features tokio --no-deps --quiet
    cargo test -p shm-comm --features tokio --doc tokio
    cargo test -p shm-comm-suite --features tokio --test tokio_async
    cargo run --quiet -p shm-comm-suite --features tokio --example tokio_node -- \
        --count 500 --name "ci/tokio-node-$$"
    step "loom models (every interleaving of the shared-memory protocols)"
    bash shm-comm/tests/loom.sh --quick
    step "fuzz smoke (every parser of bytes another process wrote, a few seconds each)"
    FUZZ_SECONDS="${FUZZ_SECONDS:-3}" bash fuzz/smoke.sh
    python_env
    step "python tests"
    "$VENV/bin/python" -m pytest python/tests -q
    step "bridge example: two hosts on one machine (Rust publisher, Python subscriber)"
    # The whole workspace, as `cargo test` built it: with `-p` alone, cargo
    # would unify the dependencies' features differently and rebuild them.
    cargo build --quiet --workspace --bins --examples
    PYTHON="$VENV/bin/python" bash shm-comm-zenoh/examples/two_hosts.sh
    step "latency regression guard (ratios to the raw floor measured in the same run)"
    cargo build --release --quiet -p shm-comm-benches
    ./target/release/shm-comm-benches --check
    "$VENV/bin/python" benches/python/benchmark.py --check
    step "every check passed"
}

case "${1:-}" in
    demo) demo ;;
    test) test_all ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
