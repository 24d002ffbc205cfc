#!/usr/bin/env bash
# Installs the peers that benches/python/benchmark.py compares shm_comm against.
#
#   benches/setup_peers.sh            # from the repository root (or anywhere)
#
# * .venv (the project's venv, which holds our shm_comm in develop mode):
#   pyzmq (ipc:// and tcp:// rows), iceoryx2 (its Python bindings, if PyPI
#   has a wheel for this platform), matplotlib (for --png; optional).
# * .venv-orig: the pure-Python shm-comm 1.0.0 from PyPI. It has the same
#   module name as ours, so it lives in its own venv; the benchmark runs
#   both sides of its measurements with .venv-orig/bin/python.
#
# Every step is optional: a peer that fails to install is skipped by the
# benchmark with a note. Set PYTHON to pick the interpreter for .venv-orig
# (default: python3).
set -u
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV_PY=.venv/bin/python

if [ ! -x "$VENV_PY" ]; then
    echo "setup_peers: $VENV_PY missing: create the project venv first" \
         "(python3 -m venv .venv && .venv/bin/pip install maturin numpy &&" \
         "VIRTUAL_ENV=\$PWD/.venv .venv/bin/maturin develop --release -m python/Cargo.toml)" >&2
    exit 1
fi

status=0
try() {
    echo "+ $*" >&2
    if ! "$@"; then
        echo "setup_peers: failed (the benchmark will skip this peer): $*" >&2
        status=1
    fi
}

try "$VENV_PY" -m pip install -q pyzmq
try "$VENV_PY" -m pip install -q iceoryx2
try "$VENV_PY" -m pip install -q matplotlib

if [ ! -x .venv-orig/bin/python ]; then
    try "$PYTHON" -m venv .venv-orig
fi
if [ -x .venv-orig/bin/python ]; then
    try .venv-orig/bin/python -m pip install -q shm-comm==1.0.0 numpy
fi

echo "setup_peers: done (status $status)" >&2
exit 0
