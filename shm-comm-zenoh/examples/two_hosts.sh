#!/usr/bin/env bash
# Two hosts on one machine, each a segment directory with its own bridge:
# a Rust Imu publisher and service on A, a Python subscriber and caller on
# B. Run from the workspace root after building (cargo build -p
# shm-comm-zenoh --examples) and installing the Python package; PYTHON
# names the interpreter (default: python3).
set -euo pipefail
TARGET=${CARGO_TARGET_DIR:-target}/debug
PYTHON=${PYTHON:-python3}
PORT=${PORT:-7457}
A=$(mktemp -d -p /dev/shm shmc-host-a.XXXXXX)
B=$(mktemp -d -p /dev/shm shmc-host-b.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$A" "$B"
}
trap cleanup EXIT

# Host A offers its topics and services; host B takes them.
SHM_COMM_DIR=$A "$TARGET/shmc-bridge" run --listen "tcp/127.0.0.1:$PORT" \
    --export 'robot/**' --export-service 'robot/*' >/dev/null &
pids+=($!)
SHM_COMM_DIR=$B "$TARGET/shmc-bridge" run --connect "tcp/127.0.0.1:$PORT" \
    --import 'robot/**' --import-service robot/add >/dev/null &
pids+=($!)
SHM_COMM_DIR=$A "$TARGET/examples/host_a" --seconds 30 &
pids+=($!)
SHM_COMM_DIR=$B timeout 60 "$PYTHON" shm-comm-zenoh/examples/host_b.py
