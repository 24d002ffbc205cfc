#!/usr/bin/env python3
"""Checks the speed targets of the benchmark issue against the JSON files of
one comparison run (benches/compare.sh writes them), and prints a Markdown
table: each target, the figures it compares (all from that run) and whether
it is met. Only the standard library; a figure whose row is missing (a peer
not installed, a failed row) makes its target "not measured", never "met".

    benches/targets.py bench-results        # the directory compare.sh wrote
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class Run:
    def __init__(self, out: Path):
        self.rust = {s["id"]: s for s in load(out / "rust.json").get("scenarios", []) if s.get("ok")}
        self.one_core = {s["id"]: s for s in load(out / "rust-one-core.json").get("scenarios", [])
                         if s.get("ok")}
        self.py = {c["id"]: c for c in load(out / "python.json").get("cases", []) if c.get("ok")}

    def r(self, sid: str, key: str, table: str = "rust") -> float | None:
        return getattr(self, table).get(sid, {}).get(key)

    def p(self, cid: str, key: str) -> float | None:
        return self.py.get(cid, {}).get(key)


def fmt_ns(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v / 1000:.2f} µs" if v >= 1_000 else f"{v:.0f} ns"


def fmt_us(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f} µs"


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v / 1e6:.2f} M/s" if v >= 1e6 else f"{v / 1e3:.1f} k/s"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def times(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}×"


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results")
    run = Run(out)
    rows: list[tuple[str, str, bool | None]] = []

    def check(target: str, value: float | None, ok, detail: str) -> None:
        """`ok`: the test of `value`, or None for a figure with no target."""
        met = None if value is None or ok is None else bool(ok(value))
        rows.append((target, detail, met))

    # --- Rust -----------------------------------------------------------------
    typed = run.r("typed-64B-busy", "one_way_p50_ns")
    floor = run.r("raw-floor", "one_way_p50_ns")
    iox = run.r("iceoryx2-64B-busy", "one_way_p50_ns")
    v = ratio(typed, floor)
    check("Rust typed 64 B busy p50 ≤ 2× the raw cache-line floor", v, lambda x: x <= 2,
          f"{fmt_ns(typed)} vs {fmt_ns(floor)}: {v:.2f}×" if v else "not measured")
    v = ratio(typed, iox)
    check("Rust typed 64 B busy p50 ≤ 0.5× iceoryx2's", v, lambda x: x <= 0.5,
          f"{fmt_ns(typed)} vs {fmt_ns(iox)}: {v:.2f}×" if v else "not measured")
    stream = run.r("stream-typed-64B", "msgs_per_s")
    # The floor's one-way messages per second, from the floor probes taken
    # just before and after the stream row (the host may move the two CPUs
    # closer or further apart during a run: compare like with like).
    around = [run.r("stream-typed-64B", k) for k in ("floor_before_p50_ns", "floor_after_p50_ns")]
    floor_rate = 2e9 / (around[0] + around[1]) if None not in around else None
    v = ratio(stream, floor_rate)
    check("Rust stream ≥ 0.5× the floor's msgs/s (one-way messages of the floor ping-pong)",
          v, lambda x: x >= 0.5,
          f"{fmt_rate(stream)} vs {fmt_rate(floor_rate)} (1 / the floor p50 around the row): "
          f"{v:.2f}×; {times(ratio(stream, run.r('stream-raw', 'msgs_per_s')))} a batched "
          f"raw SPSC ring of 8-byte words" if v else "not measured")
    loan = run.r("typed-1MiB-loan", "one_way_p50_ns")
    loan64 = run.r("typed-64B-loan", "one_way_p50_ns")
    v = ratio(loan, typed)
    check("Rust 1 MiB loan + borrow p50 within 1.5× of the 64 B figure", v, lambda x: x <= 1.5,
          f"{fmt_ns(loan)} vs {fmt_ns(typed)} (64 B copied): {v:.2f}×; "
          f"vs {fmt_ns(loan64)} (64 B loaned): {times(ratio(loan, loan64))}" if v else "not measured")
    one = run.r("typed-64B-blocking", "one_way_p50_ns", "one_core")
    check("Both processes on one core: blocking p50 in µs, not ms", one, lambda x: x < 100_000,
          f"{fmt_ns(one)} (two pure spinners: {fmt_ns(run.r('raw-floor-spin', 'one_way_p50_ns', 'one_core'))})"
          if one else "not measured")

    # --- Python ---------------------------------------------------------------
    ours = run.p("ours-64B-block", "p50")
    pyfloor = run.p("raw-shm-floor", "p50")
    v = ratio(ours, pyfloor)
    check("Python 64 B blocking recv p50 ≤ 2× the Python raw-mmap floor", v, lambda x: x <= 2,
          f"{fmt_us(ours)} vs {fmt_us(pyfloor)}: {v:.2f}×" if v else "not measured")
    iox_py = run.p("iceoryx2-64B-busy", "p50")
    v = ratio(ours, iox_py)
    check("Python 64 B blocking p50 below iceoryx2 Python's busy-poll", v, lambda x: x < 1,
          f"{fmt_us(ours)} vs {fmt_us(iox_py)}" if v else "not measured")
    for peer, need, what in (("zmq-ipc-64B", 30, "pyzmq ipc://"),
                             ("orig-64B-block", 50, "the original's blocking recv")):
        theirs = run.p(peer, "p50")
        v = ratio(theirs, ours)
        check(f"Python 64 B ≥ {need}× faster than {what}", v, lambda x, n=need: x >= n,
              f"{fmt_us(theirs)} vs {fmt_us(ours)}: {v:.0f}×" if v else "not measured")
    # Lossless against lossless: pyzmq's row is PUSH/PULL, so ours is too
    # (our PUB/SUB receiver's rate, which may drop, is given beside it).
    mine = run.p("ours-pushpull", "recv_per_s")
    pubsub = max(filter(None, (run.p("ours-stream-block", "recv_per_s"),
                               run.p("ours-stream-busy", "recv_per_s"))), default=None)
    zmq = run.p("zmq-ipc-stream", "recv_per_s")
    v = ratio(mine, zmq)
    check("Python stream msgs/s (PUSH/PULL, lossless) ≥ pyzmq ipc:// PUSH/PULL", v,
          lambda x: x >= 1,
          (f"{fmt_rate(mine)} vs {fmt_rate(zmq)}: {v:.2f}×"
           + (f"; PUB/SUB received {fmt_rate(pubsub)}" if pubsub else "")) if v else "not measured")
    pl = run.p("ours-1MiB-loan", "p50")
    pl64 = run.p("ours-64B-loan", "p50")
    v = ratio(pl, ours)
    check("Python 1 MiB loan + borrow p50 within 1.5× of the 64 B figure", v, lambda x: x <= 1.5,
          f"{fmt_us(pl)} vs {fmt_us(ours)} (64 B bytes): {v:.2f}×; "
          f"vs {fmt_us(pl64)} (64 B loaned): {times(ratio(pl, pl64))}" if v else "not measured")

    # --- patterns against the original (its Python rows of the same run) -----
    orig_calls = run.p("orig-reqrep", "round_trips_per_s")
    for sid, what in (("reqrep-64B", "Rust"),):
        calls = run.r(sid, "calls_per_s")
        v = ratio(calls, orig_calls)
        check(f"{what} REQ/REP calls/s ≥ 100× the original's", v, lambda x: x >= 100,
              f"{fmt_rate(calls)} vs {fmt_rate(orig_calls)}: {v:.0f}×" if v else "not measured")
    calls = run.p("ours-reqrep", "round_trips_per_s")
    v = ratio(calls, orig_calls)
    check("Python REQ/REP calls/s ≥ 100× the original's", v, lambda x: x >= 100,
          f"{fmt_rate(calls)} vs {fmt_rate(orig_calls)}: {v:.0f}×" if v else "not measured")
    orig_jobs = run.p("orig-pushpull", "recv_per_s")
    for sid, what in (("pushpull-64B-x1", "1 puller"), ("pushpull-64B-x4", "4 pullers")):
        jobs = run.r(sid, "jobs_per_s")
        v = ratio(jobs, orig_jobs)
        check(f"Rust PUSH/PULL jobs/s ({what}) ≥ 100× the original's", v, lambda x: x >= 100,
              f"{fmt_rate(jobs)} vs {fmt_rate(orig_jobs)}: {v:.0f}×" if v else "not measured")
    jobs = run.p("ours-pushpull", "recv_per_s")
    v = ratio(jobs, orig_jobs)
    check("Python PUSH/PULL jobs/s vs the original's (no target)", v, None,
          f"{fmt_rate(jobs)} vs {fmt_rate(orig_jobs)}: {v:.0f}×" if v else "not measured")

    print("| target | this run | met |")
    print("|---|---|---|")
    for target, detail, met in rows:
        print(f"| {target} | {detail} | {'–' if met is None else ('yes' if met else '**no**')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
