"""The regression guard (`--check`): ours-64B rows against the raw-mmap floor
measured in the same rounds."""

from __future__ import annotations

import os
import tempfile
import time

from cases import CASES
from common import ORIG_PY
from report import cleanup, run_case, summarize

# ---------------------------------------------------------------------------
# --check: a quick latency regression guard
# ---------------------------------------------------------------------------

CHECK_ROUNDS = 5
CHECK_CFG = {"warmup": 0.1, "duration": 0.4, "stream": 0.4}
# Largest accepted median of (ours p50 / the raw-mmap floor around it). On the
# 2-vCPU VM this was written on, the medians were 0.84-0.97 (busy) and
# 0.78-0.96 (blocking), whichever cache-line floor the host gave (single
# rounds that straddle a change of it: 0.5-1.8). Ours is as fast as the
# Python floor because both are bound by the interpreter. A 2x latency
# regression gives 1.6-1.9, so 1.5 trips on it with 55% over the highest
# median seen.
CHECK_THRESHOLDS = {"ours-64B-busy": 1.5, "ours-64B-block": 1.5}
# A round is not counted when other processes used more than this share of a
# core while its checked case ran (another load, not the code under test).
CHECK_MAX_OTHERS = 0.25
# Smallest accepted median of (pickle.dumps + loads µs / typed send + recv µs)
# of the same dataclass, both timed alternately in this process (issue #18's
# acceptance: typed at least 5x faster). Written when the medians were
# 8.7x (PoseStamped), 10.4x (Imu), 11.3x (Odometry) on the 2-vCPU VM; the
# Python conversion this replaced gave 0.4-0.55x.
TYPED_MIN_RATIO = 5.0
TYPED_ROUNDS = 9


def _others_ticks():
    """CPU time (clock ticks) used so far by every other process of the
    machine, kernel threads included, keyed by (pid, start time)."""
    me = os.getpid()
    ticks = {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 1:].split()     # fields[0] is field 3
        try:
            ticks[(pid, fields[19])] = int(fields[11]) + int(fields[12])
        except (IndexError, ValueError):
            continue
    return ticks


def _others_share(before, after, wall):
    """Share of a core that other processes used between two snapshots."""
    if before is None or after is None or wall <= 0:
        return None
    ticks = sum(max(0, t - before.get(k, 0)) for k, t in after.items())
    return ticks / os.sysconf("SC_CLK_TCK") / wall


def _check_rounds(first, count, cfg, tmpdir, tallies, floors):
    """Runs `count` rounds: raw floor, each checked case, raw floor after
    it, ... A checked case's floor is the mean of the floor runs just before
    and just after it. Appends ratios / errors to `tallies`."""
    by_id = {c["id"]: c for c in CASES}
    floor_case = by_id["raw-shm-floor"]
    idx = 0

    def measure(case):
        nonlocal idx
        idx += 1
        before, t0 = _others_ticks(), time.monotonic()
        res = run_case(case, cfg, 100_000 + first * 100 + idx, tmpdir, ORIG_PY)
        others = _others_share(before, _others_ticks(), time.monotonic() - t0)
        summarize(res)
        if res.get("ok") and res.get("p50"):
            return res["p50"], None, others
        return None, res.get("error") or "no result", others

    for rnd in range(first, first + count):
        if not floors or floors[-1][0] is None:
            floors.append(measure(floor_case))
        parts = [f"check: round {rnd}:"]
        for cid in CHECK_THRESHOLDS:
            before = floors[-1][0]
            p50, err, others = measure(by_id[cid])
            after_run = measure(floor_case)
            floors.append(after_run)
            after = after_run[0]
            known = [f for f in (before, after) if f]
            if err:
                tallies[cid]["errors"].append(f"round {rnd}: {err}")
                parts.append(f"{cid} FAILED ({err});")
            elif not known:
                tallies[cid]["errors"].append(f"round {rnd}: no raw floor around it "
                                              f"({after_run[1]})")
                parts.append(f"{cid}: no floor;")
            else:
                floor = sum(known) / len(known)
                ratio = p50 / floor
                note = ""
                if others is not None and others > CHECK_MAX_OTHERS:
                    tallies[cid]["busy"].append(ratio)
                    note = f", NOT COUNTED: other processes used {others:.0%} of a core"
                else:
                    tallies[cid]["ratios"].append(ratio)
                fmt = lambda f: f"{f:.3f}" if f else "-"
                parts.append(f"{cid} {p50:.3f} µs = {ratio:.2f}x "
                             f"(floor {fmt(before)}->{fmt(after)} µs{note});")
        print(" ".join(parts).rstrip(";"), flush=True)


def _median(v):
    v = sorted(v)
    n = len(v)
    if not n:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def _verdict(tally, threshold):
    """("ok" | "FAILED" | "SKIPPED", reason)."""
    if tally["errors"]:
        return "FAILED", f"{len(tally['errors'])} failed run(s), first: {tally['errors'][0]}"
    n_all = len(tally["ratios"]) + len(tally["busy"])
    if len(tally["ratios"]) < 3:
        if n_all >= 3:
            return "SKIPPED", (f"other processes used more than {CHECK_MAX_OTHERS:.0%} of a "
                               f"core in {len(tally['busy'])} of {n_all} rounds: the machine "
                               "is too busy to judge")
        return "FAILED", f"only {n_all} round(s) measured"
    m = _median(tally["ratios"])
    if m > threshold:
        return "FAILED", (f"median {m:.2f}x of the raw-mmap floor exceeds "
                          f"{threshold:.2f}x: a latency regression")
    return "ok", ""


def run_check():
    """`--check`: CHECK_ROUNDS short rounds of the raw-mmap floor and ours
    (busy and blocking); fails when the median of ours p50 / the floor around
    it exceeds its threshold. A failing check runs the rounds again once and
    judges on all of them, so that only a regression that persists fails."""
    t0 = time.monotonic()
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cfg = dict(CHECK_CFG, cpus=(allowed[0], allowed[1]) if len(allowed) >= 2 else None)
    print("check: " + f"{CHECK_ROUNDS} rounds of raw-shm-floor, "
          + ", ".join(f"{k} <= {v:.2f}x" for k, v in CHECK_THRESHOLDS.items())
          + " (median ratio p50 / raw-mmap floor)", flush=True)
    tallies = {cid: {"ratios": [], "busy": [], "errors": []} for cid in CHECK_THRESHOLDS}
    notes = {}
    try:
        import shm_comm
        if not hasattr(shm_comm, "Loan"):
            notes["ours"] = f"the shm_comm importable here ({shm_comm.__file__}) is not ours"
    except ImportError as e:
        notes["ours"] = f"shm_comm not importable ({e}); build it with maturin develop"
    if not os.path.isdir("/dev/shm"):
        notes["raw"] = "no /dev/shm"
    tag_prefix = f"shmbench_{os.getpid()}_"
    interrupted = False
    if not notes:
        with tempfile.TemporaryDirectory(prefix="shmbench-") as tmpdir:
            floors = []
            try:
                _check_rounds(1, CHECK_ROUNDS, cfg, tmpdir, tallies, floors)
                if any(_verdict(tallies[c], t)[0] != "ok" for c, t in CHECK_THRESHOLDS.items()):
                    print(f"check: not all checks passed; running {CHECK_ROUNDS} more rounds "
                          "to confirm", flush=True)
                    _check_rounds(CHECK_ROUNDS + 1, CHECK_ROUNDS, cfg, tmpdir, tallies, floors)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                cleanup(tag_prefix)
    counts = {"ok": 0, "FAILED": 0, "SKIPPED": 0}
    if not notes and not interrupted:
        _typed_check(counts, tag_prefix)
    for cid, threshold in CHECK_THRESHOLDS.items():
        t = tallies[cid]
        r = sorted(t["ratios"])
        spread = (f"{len(r)} round(s), {r[0]:.2f}..{r[-1]:.2f}x, median {_median(r):.2f}x"
                  if r else "no round counted")
        if t["busy"]:
            spread += f"; {len(t['busy'])} round(s) not counted (other load)"
        if notes:
            word, reason = "FAILED", "; ".join(notes.values())
        elif interrupted:
            word, reason = "FAILED", "interrupted"
        else:
            word, reason = _verdict(t, threshold)
        counts[word] += 1
        print(f"check {cid}: {word}{': ' + reason if reason else ''} "
              f"({spread}; threshold {threshold:.2f}x)")
    print(f"check: took {time.monotonic() - t0:.1f} s")
    print(f"check: {counts['ok']} passed, {counts['FAILED']} failed"
          + (f", {counts['SKIPPED']} skipped" if counts["SKIPPED"] else ""), flush=True)
    return 0 if counts["FAILED"] == 0 else 1


def _typed_check(counts, tag_prefix):
    """Typed send + recv of PoseStamped, Imu, Odometry against pickling the
    same dataclass: the median ratio must reach TYPED_MIN_RATIO."""
    import typed_msgs
    try:
        got = typed_msgs.ratios(TYPED_ROUNDS, tag_prefix + "typed")
    except Exception as e:              # report, never crash the check
        counts["FAILED"] += 1
        print(f"check typed: FAILED: {type(e).__name__}: {e}")
        return
    finally:
        cleanup(tag_prefix)
    for name, rounds in got.items():
        ratio = _median([r[0] for r in rounds])
        typed = _median([r[1] for r in rounds])
        pickled = _median([r[2] for r in rounds])
        word = "ok" if ratio >= TYPED_MIN_RATIO else "FAILED"
        counts[word] += 1
        print(f"check typed-{name}: {word} (typed send+recv {typed:.2f} µs, pickle "
              f"dumps+loads {pickled:.2f} µs: median {ratio:.1f}x over {len(rounds)} rounds; "
              f"threshold {TYPED_MIN_RATIO:.1f}x)", flush=True)
