#!/usr/bin/env bash
# The project's command surface:
#   ./dev.sh demo   build everything and run the headline demo
#   ./dev.sh test   run every check and test (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*" >&2; }

demo() {
    step "building (release)"
    cargo build --release --workspace --all-targets
    step "demo: a typed topic between two processes"
    cargo run --release --quiet --example typed_pubsub
}

test_all() {
    step "format"
    cargo fmt --all -- --check
    step "clippy"
    cargo clippy --workspace --all-targets -- -D warnings
    step "docs"
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet
    step "rust tests"
    cargo test --workspace
}

case "${1:-}" in
    demo) demo ;;
    test) test_all ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
