#!/usr/bin/env bash
# Runs every fuzz target for a few seconds each (FUZZ_SECONDS, default 5),
# one after the other, starting from the seeds in corpus/<target>/.
#
#   fuzz/smoke.sh                      # the smoke test: about 5 s a target
#   FUZZ_SECONDS=600 fuzz/smoke.sh     # a long run: 10 minutes a target
#   fuzz/smoke.sh schema frame_codec   # only these targets
#
# Runs shorter than a minute a target use an unoptimized build (still with
# AddressSanitizer and coverage): it compiles in a third of the time of the
# optimized one (31 s against 85 s on 2 cores), which a few seconds of
# fuzzing would not win back. It runs 5-10x fewer inputs: in 3 s every
# seed and thousands of mutations, except for `schema` (the whole schema
# compiler per input), which gets through its seeds and a few more.
# Longer runs build optimized; FUZZ_BUILD=--dev or --release overrides.
#
# Exits non-zero if any target finds a crash, a panic or a hang (an input
# that runs longer than FUZZ_TIMEOUT seconds, default 10); the input is then
# in fuzz/artifacts/<target>/ and the end of the log is printed. New inputs
# found go to target/corpus/<target>/ (not the committed seeds), emptied
# first unless FUZZ_KEEP_CORPUS=1 (a long run that goes on from the inputs
# of the previous ones; loading thousands of them takes a while, too long
# for a smoke); logs go to target/smoke-logs/.
#
# The toolchain is stable (rust-toolchain.toml): the sanitizer and coverage
# flags cargo-fuzz passes are nightly-only, so RUSTC_BOOTSTRAP=1 lets the
# stable compiler accept them. cargo-fuzz is installed if missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

seconds="${FUZZ_SECONDS:-5}"
timeout="${FUZZ_TIMEOUT:-10}"
export RUSTC_BOOTSTRAP=1
# The fuzz crate keeps its own target directory (fuzz/target): its
# instrumented builds must not replace the workspace's.
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "smoke: no fuzz targets (cargo fuzz list failed?)" >&2
    exit 1
fi

if [ -n "${FUZZ_BUILD:-}" ]; then
    build="$FUZZ_BUILD"
elif [ "$seconds" -lt 60 ]; then
    build=--dev
else
    build=--release
fi

start=$(date +%s)
# One build of every target up front (`cargo fuzz run` then finds it done).
if [ "${#targets[@]}" -eq 1 ]; then
    cargo fuzz build "$build" "${targets[0]}"
else
    cargo fuzz build "$build"
fi

mkdir -p target/smoke-logs
failed=()
for t in "${targets[@]}"; do
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
        rm -rf "target/corpus/$t"
    fi
    mkdir -p "target/corpus/$t" "corpus/$t"
    log="target/smoke-logs/$t.log"
    if cargo fuzz run "$build" "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        printf 'smoke: %-18s ok, %s runs in %s s\n' "$t" "${runs:-?}" "$seconds"
    else
        printf 'smoke: %-18s FAILED (log: fuzz/%s)\n' "$t" "$log"
        tail -n 40 "$log"
        failed+=("$t")
    fi
done
# The segment target removes its file itself; a crash may leave it behind
# (named after the pid of the fuzzing process: leave those of live ones).
for f in /dev/shm/"shmc-$(id -u)-fuzz%2Fsegment-header-"*.fuzz; do
    [ -e "$f" ] || continue
    pid="${f##*-}"
    pid="${pid%.fuzz}"
    kill -0 "$pid" 2>/dev/null || rm -f "$f"
done

echo "smoke: ${#targets[@]} targets in $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: failed: ${failed[*]}" >&2
    exit 1
fi
