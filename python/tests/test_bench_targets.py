"""benches/targets.py: the target table of a comparison run must compare the
right rows, and never call a target met that was not measured."""

from __future__ import annotations

import json
import subprocess
import sys

from support import ROOT

SCRIPT = ROOT / "benches" / "targets.py"


def _rows(out_dir) -> dict[str, tuple[str, str]]:
    text = subprocess.run([sys.executable, str(SCRIPT), str(out_dir)], check=True,
                          capture_output=True, text=True).stdout
    rows = {}
    for line in text.splitlines()[2:]:
        target, detail, met = (c.strip() for c in line.strip("|").split("|"))
        rows[target] = (detail, met)
    return rows


def _find(rows, start):
    (key,) = [k for k in rows if k.startswith(start)]
    return rows[key]


def test_nothing_measured_is_never_met(tmp_path):
    rows = _rows(tmp_path)
    assert rows and all(met == "–" and detail == "not measured" for detail, met in rows.values())


def test_targets_are_judged_on_the_run_figures(tmp_path):
    def scen(sid, **kw):
        return {"id": sid, "ok": True, **kw}
    (tmp_path / "rust.json").write_text(json.dumps({"scenarios": [
        scen("raw-floor", one_way_p50_ns=60, msgs_per_s=16e6),
        scen("typed-64B-busy", one_way_p50_ns=90),
        scen("iceoryx2-64B-busy", one_way_p50_ns=150),       # 0.6x: missed
        scen("typed-1MiB-loan", one_way_p50_ns=130),
        scen("typed-64B-loan", one_way_p50_ns=131),
        scen("stream-typed-64B", msgs_per_s=30e6, floor_before_p50_ns=50, floor_after_p50_ns=70),
        scen("reqrep-64B", calls_per_s=3e6),
        scen("pushpull-64B-x1", jobs_per_s=11e6),             # 73x: missed
        {"id": "pushpull-64B-x4", "ok": False},                # failed row: not measured
    ]}))
    (tmp_path / "python.json").write_text(json.dumps({"cases": [
        {"id": "orig-reqrep", "ok": True, "round_trips_per_s": 5000.0},
        {"id": "orig-pushpull", "ok": True, "recv_per_s": 150e3},
        {"id": "ours-pushpull", "ok": True, "recv_per_s": 0.9e6},
        {"id": "ours-stream-busy", "ok": True, "recv_per_s": 3e6},
        {"id": "zmq-ipc-stream", "ok": True, "recv_per_s": 1e6},
    ]}))
    rows = _rows(tmp_path)
    assert _find(rows, "Rust typed 64 B busy p50 ≤ 2×")[1] == "yes"
    detail, met = _find(rows, "Rust typed 64 B busy p50 ≤ 0.5×")
    assert met == "**no**" and "0.60×" in detail
    assert _find(rows, "Rust 1 MiB loan")[1] == "yes"
    detail, met = _find(rows, "Rust stream")
    assert met == "yes" and "16.67 M/s" in detail and "1.80×" in detail
    detail, met = _find(rows, "Rust REQ/REP")
    assert met == "yes" and "600×" in detail
    assert _find(rows, "Rust PUSH/PULL jobs/s (1 puller)")[1] == "**no**"
    assert _find(rows, "Rust PUSH/PULL jobs/s (4 pullers)") == ("not measured", "–")
    assert _find(rows, "Python 64 B blocking recv")[1] == "–"
    # Lossless against lossless: the lossy PUB/SUB rate does not count.
    detail, met = _find(rows, "Python stream msgs/s")
    assert met == "**no**" and "0.90×" in detail and "PUB/SUB received 3.00 M/s" in detail
