"""Running a case in fresh processes, summarizing its samples, and the report:
machine info, the Markdown table, the JSON and the plot."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cases import LATENCY
from common import REPO, SCRIPT, log

# ---------------------------------------------------------------------------
# Orchestrator
# ---------------------------------------------------------------------------

def _has(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _rel(p) -> str:
    """`p` relative to the repository when it lies inside it."""
    try:
        r = os.path.relpath(p, REPO)
    except ValueError:
        return str(p)
    return str(p) if r.startswith("..") else r


def check_peers(orig_py: Path):
    """{impl/transport: None if usable, else the reason to skip}."""
    notes = {}
    try:
        import shm_comm
        ok = hasattr(shm_comm, "Loan")
        notes["ours"] = None if ok else "the shm_comm importable here is not ours"
    except ImportError as e:
        notes["ours"] = f"shm_comm not importable ({e}); build it with maturin develop"
    notes["zmq"] = None if _has("zmq") else "pyzmq not installed (benches/setup_peers.sh)"
    notes["zmqaio"] = notes["zmq"]
    notes["iox2"] = None if _has("iceoryx2") else "iceoryx2 not installed (benches/setup_peers.sh)"
    notes["pipe"] = None
    notes["raw"] = None if os.path.isdir("/dev/shm") else "no /dev/shm"
    if not orig_py.exists():
        notes["orig"] = f"{_rel(orig_py)} missing: run benches/setup_peers.sh"
    else:
        try:
            out = subprocess.run(
                [str(orig_py), "-c", "import shm_comm; print(shm_comm.__version__);"
                 "print(hasattr(shm_comm, 'Loan'))"],
                capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir())
            ver, is_ours = (out.stdout.split() + ["", ""])[:2]
            if out.returncode != 0 or ver != "1.0.0" or is_ours != "False":
                notes["orig"] = (f"{_rel(orig_py)} does not import shm-comm 1.0.0 "
                                 f"({(out.stderr.strip().splitlines() or [ver])[-1]})")
            else:
                notes["orig"] = None
        except (OSError, subprocess.TimeoutExpired) as e:
            notes["orig"] = f"{_rel(orig_py)} unusable: {e}"
    return notes


def skip_reason(case, notes):
    if case["impl"] in ("ours", "orig") and notes[case["impl"]]:
        return notes[case["impl"]]
    if case["transport"] in notes and notes[case["transport"]]:
        return notes[case["transport"]]
    return None


def run_case(case, cfg, idx, tmpdir, orig_py):
    spec = dict(case)
    spec.update(
        tag=f"shmbench_{os.getpid()}_{idx}",
        tmpdir=tmpdir,
        warmup=cfg["warmup"],
        duration=cfg["duration"] if case["kind"] in LATENCY else cfg["stream"],
        cpu_driver=cfg["cpus"][0] if cfg["cpus"] else None,
        cpu_echo=cfg["cpus"][1] if cfg["cpus"] else None,
        samples_path=os.path.join(tmpdir, f"case{idx}.f64"),
    )
    py = str(orig_py) if case["impl"] == "orig" else sys.executable
    timeout = spec["warmup"] + spec["duration"] + 90.0
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [py, str(SCRIPT), "--role", "driver", "--spec", json.dumps(spec)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, cwd=tempfile.gettempdir())
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)      # the driver and its echo
        proc.communicate()
        return {"ok": False, "error": f"timed out after {timeout:.0f} s (killed)"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        res = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " / ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        return {"ok": False, "error": f"driver exited {proc.returncode} without a result: {tail}"}
    res["wall_s"] = round(time.monotonic() - t0, 2)
    if res.get("ok") and "n" in res:
        import numpy as np
        res["samples"] = np.fromfile(spec["samples_path"], dtype=np.float64)
        os.unlink(spec["samples_path"])
    return res


def _key(case, res):
    if case["kind"] == "idle":
        return res.get("cpu_pct")
    return res.get("p50") if case["kind"] in LATENCY else res.get("recv_per_s")


def pick_run(case, runs):
    """With --repeat: the run whose p50 (or msgs/s) is the median of the
    successful ones, with every run's headline figures attached."""
    good = [r for r in runs if r.get("ok") and _key(case, r) is not None]
    if not good:
        return runs[-1]
    good.sort(key=lambda r: _key(case, r), reverse=case["kind"] == "stream")  # best first
    chosen = good[(len(good) - 1) // 2]
    if len(runs) > 1:
        chosen["runs"] = [{"ok": r.get("ok"), "error": r.get("error"),
                           "p50": r.get("p50"), "p99": r.get("p99"),
                           "recv_per_s": r.get("recv_per_s")} for r in runs]
        for r in runs:                      # keep only the chosen run's samples
            if r is not chosen:
                r.pop("samples", None)
    return chosen


def summarize(res):
    import numpy as np
    s = res.get("samples")
    if s is None:
        return
    if len(s) == 0:
        res.update(ok=False, error="no sample recorded")
        return
    qs = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]
    vals = dict(zip(qs, (float(v) for v in np.percentile(s, qs))))
    res["latency_us"] = {f"p{q:g}": round(v, 3) for q, v in vals.items()}
    res["latency_us"].update(mean=round(float(s.mean()), 3), std=round(float(s.std()), 3))
    res["p50"] = vals[50]
    res["p99"] = vals[99]
    res["p999"] = vals[99.9] if len(s) >= 10_000 else None
    res["round_trips_per_s"] = round(1e6 / (2 * float(s.mean())), 1)
    edges = np.logspace(-1, 6, 7 * 20 + 1)        # 0.1 µs .. 1 s, 20 bins a decade
    counts, _ = np.histogram(s, bins=edges)
    nz = np.nonzero(counts)[0]
    res["histogram"] = {"edges_us_log10": [-1, 6, 20],
                        "bins": {int(i): int(counts[i]) for i in nz}}


def machine_info(cpus):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "pinned": list(cpus) if cpus else None,
        "loadavg_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "machine": platform.machine(),
    }
    versions = {}
    for mod in ("shm_comm", "numpy", "zmq", "iceoryx2"):
        try:
            m = __import__(mod)
            versions[mod] = getattr(m, "__version__", None) or getattr(m, "pyzmq_version", lambda: "?")()
        except Exception:
            versions[mod] = None
    try:
        import zmq
        versions["libzmq"] = zmq.zmq_version()
    except Exception:
        pass
    try:
        from importlib.metadata import version
        versions["iceoryx2"] = version("iceoryx2")
    except Exception:
        pass
    info["versions"] = versions
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        info["git"] = rev or None
    except (OSError, subprocess.TimeoutExpired):
        info["git"] = None
    return info


def _fmt(v, digits=1):
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio_of(case, res, results):
    ref = case.get("ref")
    if not ref or ref not in results or not res.get("ok"):
        return None
    r = results[ref]
    if not r.get("ok"):
        return None
    if case["kind"] in LATENCY:
        if r.get("p50") and res.get("p50"):
            return res["p50"] / r["p50"]
    else:
        if r.get("recv_per_s") and res.get("recv_per_s"):
            return r["recv_per_s"] / res["recv_per_s"]
    return None


def table(cases, results):
    rows = ["| benchmark | p50 µs | p99 µs | p99.9 µs | msgs/s | ratio | vs | notes |",
            "|---|---:|---:|---:|---:|---:|---|---|"]
    for c in cases:
        res = results[c["id"]]
        note = ""
        if res.get("skipped"):
            rows.append(f"| {c['id']} | – | – | – | – | – | {c.get('ref') or ''} | "
                        f"skipped: {res['skipped']} |")
            continue
        if not res.get("ok"):
            rows.append(f"| {c['id']} | – | – | – | – | – | {c.get('ref') or ''} | "
                        f"failed: {res.get('error')} |")
            continue
        ratio = ratio_of(c, res, results)
        spread = ""
        vals = [_key(c, r) for r in res.get("runs", []) if r.get("ok") and _key(c, r)]
        if len(vals) > 1:
            lo, hi = min(vals), max(vals)
            spread = (f", median of {len(vals)} runs (p50 {lo:.2f}–{hi:.2f})" if c["kind"] in LATENCY
                      else f", median of {len(vals)} runs ({lo:,.0f}–{hi:,.0f}/s)")
        if c["kind"] == "idle":
            rows.append(f"| {c['id']} | – | – | – | – | – | | {res['cpu_pct']:.2f}% of a core over "
                        f"{res['wall_s']} s, {res['handles']:,} handles, {res['ready']} ready |")
            continue
        if c["kind"] in LATENCY:
            msgs = "–"
            note = f"n={res['n']:,}" if c["kind"] == "pingpong" else \
                f"{res['n']:,} batches of 100, one process"
            if c["transport"] == "reqrep":
                note += f", {res['round_trips_per_s']:,.0f} calls/s"
            if res.get("bad"):
                note += f", {res['bad']} wrong replies"
            p50, p99, p999 = _fmt(res["p50"], 2), _fmt(res["p99"], 2), _fmt(res.get("p999"), 1)
        else:
            p50 = p99 = p999 = "–"
            msgs = _fmt(res.get("recv_per_s"), 0)
            lost = 1 - res["received"] / res["sent"] if res.get("sent") else None
            note = f"sent {res['sent_per_s']:,.0f}/s"
            if lost is not None and lost > 0.0005:
                note += f", {lost:.1%} not received"
            if not res.get("end_marker_seen"):
                note += ", end marker lost"
        note += spread
        rows.append(f"| {c['id']} | {p50} | {p99} | {p999} | {msgs} | "
                    f"{'' if ratio is None else f'{ratio:.2f}'} | {c.get('ref') or ''} | {note} |")
    return "\n".join(rows)


def plot(path, cases, results, info):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("--png: matplotlib is not installed; no plot written")
        return False
    lat = [c for c in cases if c["kind"] in LATENCY and results[c["id"]].get("ok")]
    thr = [c for c in cases if c["kind"] == "stream" and results[c["id"]].get("ok")
           and results[c["id"]].get("recv_per_s")]
    fig = plt.figure(figsize=(17, max(9, 0.42 * max(len(lat), len(thr)) + 2)))
    grid = fig.add_gridspec(2, 2, width_ratios=[3, 2], height_ratios=[3, 2])
    ax = fig.add_subplot(grid[:, 0])
    if lat:
        stats = []
        for c in lat[::-1]:
            q = results[c["id"]]["latency_us"]
            stats.append({"med": q["p50"], "q1": q["p25"], "q3": q["p75"],
                          "whislo": q["p1"], "whishi": q["p99"], "fliers": [], "label": c["id"]})
        labels = [c["id"] for c in lat][::-1]
        colors = ["tab:blue" if c["impl"] == "ours" else "tab:orange" if c["impl"] == "orig"
                  else "tab:gray" for c in lat][::-1]
        kw = dict(showfliers=False, patch_artist=True, medianprops={"color": "black"})
        try:
            bp = ax.bxp(stats, orientation="horizontal", **kw)
        except TypeError:                   # matplotlib < 3.10
            bp = ax.bxp(stats, vert=False, **kw)
        ax.set_yticks(range(1, len(labels) + 1), labels)
        for patch, col in zip(bp["boxes"], colors):
            patch.set_facecolor(col)
            patch.set_alpha(0.6)
        for k, c in enumerate(lat[::-1], start=1):
            p999 = results[c["id"]].get("p999")
            if p999:
                ax.plot([p999], [k], marker="|", color="red", markersize=10)
        ax.set_xscale("log")
        ax.set_xlabel("one-way latency, µs (box: p25–p75, whiskers: p1–p99, red: p99.9)")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.set_title("ping-pong, one-way latency (log scale)")
    ax = fig.add_subplot(grid[0, 1])
    # CDF of the 64 B hot path (every recorded sample of the run shown).
    cdf = [c for c in lat if c["payload"] == "b64" and not c.get("gap_ms")
           and results[c["id"]].get("samples") is not None and len(results[c["id"]]["samples"])]
    if cdf:
        import numpy as np
        styles = {"ours": "-", "orig": "--"}
        for c in cdf:
            s = np.sort(np.asarray(results[c["id"]]["samples"], dtype=float))
            if len(s) > 4000:                        # plot 4000 quantiles
                s = s[np.linspace(0, len(s) - 1, 4000).astype(int)]
            y = np.linspace(0, 1, len(s))
            color = "black" if c["transport"] == "raw" else None
            ax.plot(s, y, styles.get(c["impl"], ":") if c["transport"] != "raw" else "-",
                    color=color, lw=1.6 if c["impl"] == "ours" else 1.2,
                    label=f"{c['id']} (p50 {results[c['id']]['p50']:.2f} µs)")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        # Up to a few times the largest p99.9 (p99): the last 0.1% would only
        # stretch the axis.
        tails = [results[c["id"]].get("p999") or results[c["id"]]["p99"] for c in cdf]
        lows = [results[c["id"]]["latency_us"]["p0"] for c in cdf]
        ax.set_xlim(min(lows) / 1.5, max(tails) * 3)
        ax.set_xlabel("one-way latency, µs (log scale; cut a little above the largest p99.9)")
        ax.set_ylabel("fraction of round trips ≤ x")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("CDF, 64 B ping-pong back to back")
    ax = fig.add_subplot(grid[1, 1])
    if thr:
        vals = [results[c["id"]]["recv_per_s"] for c in thr][::-1]
        labels = [c["id"] for c in thr][::-1]
        colors = ["tab:blue" if c["impl"] == "ours" else "tab:orange" if c["impl"] == "orig"
                  else "tab:gray" for c in thr][::-1]
        ax.barh(labels, [v / 1e6 for v in vals], color=colors, alpha=0.7)
        ax.set_xlabel("million messages received / s (64 B)")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.set_title("one-way stream throughput")
    fig.suptitle(f"shm_comm Python benchmark — {info['cpu_model']}, {info['cpu_count']} CPUs, "
                 f"load {info['loadavg_start'][0]:.2f}, {info['date'][:10]}, "
                 f"Python {info['python']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def cleanup(tag_prefix):
    """Removes any segment this run left behind (only after a crash)."""
    left = []
    try:
        import shm_comm
        for seg in shm_comm.list_segments():
            if seg.startswith(tag_prefix):
                left.append(seg)
                shm_comm.force_unlink(seg.rsplit(".", 1)[0])
    except Exception:
        pass
    try:
        for entry in os.listdir("/dev/shm"):
            if tag_prefix in entry:
                left.append(entry)
                try:
                    os.unlink(os.path.join("/dev/shm", entry))
                except OSError:
                    pass
    except OSError:
        pass
    if left:
        log(f"removed {len(left)} leftover segment(s) of this run: {sorted(set(left))[:6]}")


