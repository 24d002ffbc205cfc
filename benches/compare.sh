#!/usr/bin/env bash
# The whole comparison in one command: shm-comm against the raw hardware
# floor and iceoryx2 (Rust harness), and against the Python peers (pyzmq,
# multiprocessing.Pipe, iceoryx2's Python bindings, the pure-Python
# shm-comm 1.0.0, a raw-mmap Python floor).
#
#   benches/compare.sh            # about 6 min on 2 vCPUs
#   benches/compare.sh --quick    # about 2 min (shorter rows everywhere)
#
# Steps:
#   1. the project venv .venv (created if missing) with our Python module
#      built from this tree (maturin develop --release), then
#      benches/setup_peers.sh (pyzmq, iceoryx2, matplotlib into .venv;
#      shm-comm 1.0.0 into .venv-orig)
#   2. the Rust harness built with `--features iceoryx2,tokio`, run on two cores
#      and with --one-core
#   3. the Python benchmark (benches/python/benchmark.py)
#   4. everything into bench-results/ (OUT=dir to change it):
#        rust.txt, rust.json, rust-one-core.txt, rust-one-core.json,
#        python.md, python.json, python.png, *.log (progress),
#        summary.md (the targets met or not, both tables, the command, the
#        machine, the date)
#
# A step that fails is reported in summary.md and the script goes on; it
# exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=()
case "${1:-}" in
    "") ;;
    --quick) QUICK=(--quick) ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "usage: benches/compare.sh [--quick]" >&2; exit 2 ;;
esac

OUT=${OUT:-bench-results}
VENV=.venv
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release/shm-comm-benches"
mkdir -p "$OUT"

step() { printf '\n==> %s\n' "$*" >&2; }
failures=()
fail() { failures+=("$1"); echo "compare: FAILED: $1" >&2; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
started_utc=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
started_s=$(date +%s)
load_start=$(load)

# --- 1. Python environment and peers ----------------------------------------
step "python environment ($VENV) and our module"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || fail "creating $VENV"
fi
if [ -x "$VENV/bin/python" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.9.4,<2" numpy >&2 || fail "pip install maturin numpy"
    VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --release --quiet \
        --manifest-path python/Cargo.toml >&2 || fail "maturin develop (our Python module)"
fi
step "peers (benches/setup_peers.sh)"
benches/setup_peers.sh >&2 || fail "benches/setup_peers.sh"

# --- 2. Rust harness ----------------------------------------------------------
step "building the Rust harness with iceoryx2 and tokio"
if cargo build --release -p shm-comm-benches --features iceoryx2,tokio; then
    step "Rust harness, two cores"
    "$BIN" "${QUICK[@]}" --json "$OUT/rust.json" >"$OUT/rust.txt" 2> >(tee "$OUT/rust.log" >&2) \
        || fail "shm-comm-benches ${QUICK[*]}"
    step "Rust harness, one core"
    "$BIN" "${QUICK[@]}" --one-core --json "$OUT/rust-one-core.json" >"$OUT/rust-one-core.txt" \
        2> >(tee "$OUT/rust-one-core.log" >&2) || fail "shm-comm-benches ${QUICK[*]} --one-core"
else
    fail "cargo build --release -p shm-comm-benches --features iceoryx2,tokio"
fi

# --- 3. Python benchmark -----------------------------------------------------
step "Python benchmark"
"$VENV/bin/python" benches/python/benchmark.py "${QUICK[@]}" --json "$OUT/python.json" \
    --png "$OUT/python.png" >"$OUT/python.md" 2> >(tee "$OUT/python.log" >&2) \
    || fail "benches/python/benchmark.py ${QUICK[*]}"

# --- 4. summary ----------------------------------------------------------------
step "summary ($OUT/summary.md)"
ended_utc=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
elapsed=$(( $(date +%s) - started_s ))
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
lock_version() {
    awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
py_versions=$("$VENV/bin/python" - <<'EOF' 2>/dev/null
from importlib.metadata import version, PackageNotFoundError
out = []
for pkg in ("pyzmq", "iceoryx2", "numpy", "matplotlib"):
    try:
        out.append(f"{pkg} {version(pkg)}")
    except PackageNotFoundError:
        out.append(f"{pkg} not installed")
print(", ".join(out))
EOF
)
orig_version=$(repo=$PWD && cd /tmp && "$repo/.venv-orig/bin/python" -c \
    'import shm_comm; print(shm_comm.__version__)' 2>/dev/null || echo "not installed")

table_or_note() {   # file, what
    if [ -s "$1" ]; then cat "$1"; else echo "($2 did not produce a table: see the log)"; fi
}
{
    echo "# shm-comm benchmark comparison"
    echo
    echo "- **Command:** \`benches/compare.sh${QUICK[*]:+ ${QUICK[*]}}\`"
    echo "- **Date:** $started_utc to $ended_utc ($elapsed s)"
    echo "- **Git:** $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "- **Machine:** $cpu_model, $(nproc) CPUs usable ($(grep -c '^processor' /proc/cpuinfo) online)," \
         "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
         "kernel $(uname -r)"
    echo "- **Load average (1/5/15 min):** $load_start at the start, $(load) at the end"
    echo "- **Toolchain:** $(rustc --version 2>/dev/null), Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())' 2>/dev/null)"
    echo "- **Peers:** iceoryx2 crate $(lock_version iceoryx2); Python: $py_versions;" \
         "shm-comm (PyPI, .venv-orig) $orig_version"
    if [ ${#failures[@]} -gt 0 ]; then
        echo "- **Failed steps:** $(printf '%s; ' "${failures[@]}")"
    fi
    echo
    echo "## Targets"
    echo
    echo "Every figure below comes from this run (benches/targets.py reads its JSON files)."
    echo
    python3 benches/targets.py "$OUT" || echo "(benches/targets.py failed)"
    echo
    echo "## Rust harness (\`shm-comm-benches${QUICK[*]:+ ${QUICK[*]}} --features iceoryx2,tokio\`), two cores"
    echo
    echo "One-way latency (round trip / 2) in ns; ratio = p50 / the raw floor measured"
    echo "around the row (reqrep: whole round trips, against twice the floor; streams and"
    echo "pushpull: raw stream rate / rate). See benches/README.md."
    echo
    echo '```text'
    table_or_note "$OUT/rust.txt" "shm-comm-benches"
    echo '```'
    echo
    echo "## Rust harness, \`--one-core\` (both processes on one CPU)"
    echo
    echo '```text'
    table_or_note "$OUT/rust-one-core.txt" "shm-comm-benches --one-core"
    echo '```'
    echo
    echo "## Python benchmark (\`benches/python/benchmark.py${QUICK[*]:+ ${QUICK[*]}}\`)"
    echo
    echo "Latency in µs; ratio = peer / ours (how many times faster ours is), against"
    echo "the row named in \`vs\`. See benches/python/README.md."
    echo
    table_or_note "$OUT/python.md" "benches/python/benchmark.py"
    echo
    if [ -s "$OUT/python.png" ]; then
        echo "![Python benchmark: latency distributions and stream rates](python.png)"
        echo
    fi
    echo "## Files"
    echo
    for f in rust.txt rust.json rust-one-core.txt rust-one-core.json python.md python.json python.png; do
        [ -e "$OUT/$f" ] && echo "- \`$f\`"
    done
    echo "- \`*.log\`: the progress output of each run"
} >"$OUT/summary.md"

echo "compare: wrote $OUT/summary.md ($elapsed s)" >&2
if [ ${#failures[@]} -gt 0 ]; then
    echo "compare: ${#failures[@]} step(s) failed: $(printf '%s; ' "${failures[@]}")" >&2
    exit 1
fi
