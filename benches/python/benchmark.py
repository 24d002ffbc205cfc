#!/usr/bin/env python3
"""Cross-process benchmark of shm_comm against the usual alternatives.

    benches/setup_peers.sh                          # peers: pyzmq, iceoryx2, shm-comm 1.0.0
    .venv/bin/python benches/python/benchmark.py --quick  # < ~60 s
    .venv/bin/python benches/python/benchmark.py --json bench.json --png bench.png
    .venv/bin/python benches/python/benchmark.py --check  # regression guard, ~15 s

Every measurement runs in two fresh processes: a *driver* (started by this
script, pinned to the first allowed CPU) and its *echo* or *receiver* (started
by the driver, pinned to the second). Both sides of the original shm-comm
1.0.0 rows run in the original's own venv (``.venv-orig``, made by
``benches/setup_peers.sh``), because it has the same module name as ours.

* Ping-pong rows: the driver sends message ``i`` and waits for the echo to
  send it back; one-way latency = round trip / 2, every round trip after the
  warm-up is recorded (in µs, ``time.perf_counter_ns``). The ``-1kHz`` rows
  wait 1 ms between round trips, so the echo is idle (asleep, for blocking
  receivers) when each ping arrives: the wake-up cost of a sparse topic.
* Stream rows: the driver sends 64 B messages as fast as it can for a fixed
  time and the receiver counts the ones it gets in order; msgs/s = messages
  received / time between the first and the last one. Lossy transports
  (PUB/SUB) report their loss.

Progress goes to stderr, the table (Markdown) to stdout. ``ratio`` is the
reference row's figure divided into the peer's (latency: peer p50 / ours p50;
throughput: ours msgs/s / peer msgs/s), i.e. how many times faster ours is;
below 1 means the peer is faster. Peers that are not installed are skipped
with a note, never faked; a peer that fails or hangs is reported as failed.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aio
import typed_msgs
from cases import CASES, LATENCY
from check import run_check
from common import ORIG_PY, SCRIPT, log
from peers import (
    TRANSPORTS, _RAW_SIZE, Failed, _pin, echo_loop, pingpong_driver, raw_driver, raw_echo,
    raw_map, run_pipe_driver, stream_receiver, stream_sender,
)
from report import (
    check_peers, cleanup, machine_info, pick_run, plot, ratio_of, run_case, skip_reason,
    summarize, table,
)

# ---------------------------------------------------------------------------
# Roles: driver (one measurement) and echo (its peer)
# ---------------------------------------------------------------------------

def _read_line(proc, timeout):
    """One line of the child's stdout, or None after `timeout` seconds."""
    fd = proc.stdout.fileno()
    buf = b""
    end = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0 or proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
            return None
        if select.select([fd], [], [], min(left, 0.2))[0]:
            chunk = os.read(fd, 1)
            if not chunk:
                return None
            buf += chunk
    return buf.decode().strip()


#: Every transport: the peers' and the event-loop rows' (aio.py).
KITS = {**TRANSPORTS, **aio.TRANSPORTS}


def role_driver(spec):
    _pin(spec.get("cpu_driver"))
    if spec["transport"] == "inproc":
        return typed_msgs.run(spec)
    if spec["transport"] == "pipe":
        return run_pipe_driver(spec)
    raw_path = raw_mm = None
    kit = None
    if spec["transport"] == "raw":
        raw_path = f"/dev/shm/{spec['tag']}_raw"
        fd = os.open(raw_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, _RAW_SIZE)
        os.close(fd)
        raw_mm = raw_map(raw_path)
        spec["raw_path"] = raw_path
    else:
        kit = KITS[spec["transport"]](spec, "driver")
        kit.driver_pre()
    err = tempfile.TemporaryFile()
    echo = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--role", "echo", "--spec", json.dumps(spec)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)

    def echo_err():
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
        return (" | echo stderr: " + " / ".join(lines[-3:])) if lines else ""

    try:
        line = _read_line(echo, 60.0)
        if line != "READY":
            raise Failed(f"the echo process did not get ready ({line!r}){echo_err()}")
        if raw_path is not None:
            os.unlink(raw_path)          # both sides have it mapped
            raw_path = None
            samples, bad = raw_driver(spec, raw_mm)
            res = {"samples": samples, "bad": bad}
        else:
            kit.driver_post()
            if spec["kind"] == "pingpong":
                loop = aio.pingpong_driver if spec["mode"] == "async" else pingpong_driver
                samples, bad = loop(kit, spec)
                res = {"samples": samples, "bad": bad}
            elif spec["kind"] == "idle":
                res = {}            # the echo measures; its figures are its last line
            else:
                res = stream_sender(kit, spec)
        try:
            out, _ = echo.communicate(timeout=30.0)
        except subprocess.TimeoutExpired:
            raise Failed(f"the echo process did not finish{echo_err()}") from None
        if echo.returncode != 0:
            raise Failed(f"the echo process failed (exit {echo.returncode}){echo_err()}")
        if spec["kind"] in ("stream", "idle"):
            lines = out.decode().strip().splitlines()
            if not lines:
                raise Failed(f"the receiver reported nothing{echo_err()}")
            res.update(json.loads(lines[-1]))
        return res
    except Failed as e:
        raise Failed(str(e) + ("" if "echo stderr" in str(e) else echo_err())) from None
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()
        if raw_path is not None:
            try:
                os.unlink(raw_path)
            except OSError:
                pass
        if kit is not None:
            try:
                kit.close()
            except Exception:
                pass


def role_echo(spec):
    _pin(spec.get("cpu_echo"))
    ppid = os.getppid()
    if spec["transport"] == "raw":
        raw_echo(spec, spec["raw_path"], ppid)
        return
    kit = KITS[spec["transport"]](spec, "echo")
    kit.echo_setup()
    print("READY", flush=True)
    try:
        if spec["kind"] == "pingpong":
            (aio.echo_loop if spec["mode"] == "async" else echo_loop)(kit, spec, ppid)
        elif spec["kind"] == "idle":
            print(json.dumps(kit.idle()), flush=True)
        else:
            print(json.dumps(stream_receiver(kit, spec, ppid)), flush=True)
    finally:
        kit.close()


def driver_main(spec):
    """Runs one measurement; its last stdout line is a JSON summary."""
    try:
        res = role_driver(spec)
        samples = res.pop("samples", None)
        if samples is not None:
            with open(spec["samples_path"], "wb") as f:
                samples.tofile(f)
            res["n"] = len(samples)
        res["ok"] = True
    except Failed as e:
        res = {"ok": False, "error": str(e)}
    except Exception as e:          # report, never hang or crash the run
        res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(res), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (under ~60 s in all)")
    ap.add_argument("--json", metavar="PATH", help="write every number and the machine info")
    ap.add_argument("--png", metavar="PATH", help="plot the latency distributions (matplotlib)")
    ap.add_argument("--only", action="append", metavar="PREFIX",
                    help="run the cases whose id starts with PREFIX (repeatable); "
                         "their reference rows are added")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--check", action="store_true",
                    help="regression guard (about 20 s): ours-64B-busy and ours-64B-block "
                         "against the raw-mmap floor in several short rounds; exit 1 if the "
                         "median ratio exceeds its threshold; ends with "
                         "'check: N passed, N failed'")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run the whole list N times, interleaved, and report for each "
                         "case the run with the median p50 (msgs/s for streams)")
    ap.add_argument("--raw-samples", action="store_true",
                    help="put every latency sample into the --json file")
    ap.add_argument("--orig-python", metavar="PATH", default=str(ORIG_PY),
                    help="interpreter of a venv with shm-comm==1.0.0 (default: .venv-orig)")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.role == "driver":
        driver_main(json.loads(args.spec))
        return 0
    if args.role == "echo":
        role_echo(json.loads(args.spec))
        return 0

    if args.check:
        return run_check()

    if args.list:
        for c in CASES:
            print(f"{c['id']:22s} {c['label']}" + (f"   [ratio vs {c['ref']}]" if c["ref"] else ""))
        return 0

    cases = CASES
    if args.only:
        keep = {c["id"] for c in CASES if any(c["id"].startswith(p) for p in args.only)}
        keep |= {c["ref"] for c in CASES if c["id"] in keep and c["ref"]}
        cases = [c for c in CASES if c["id"] in keep]
        if not cases:
            ap.error("--only matched no case (see --list)")

    cfg = ({"warmup": 0.2, "duration": 1.0, "stream": 0.8} if args.quick
           else {"warmup": 0.5, "duration": 4.0, "stream": 3.0})
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cfg["cpus"] = (allowed[0], allowed[1]) if len(allowed) >= 2 else None
    orig_py = Path(args.orig_python)
    info = machine_info(cfg["cpus"])
    log(f"shm_comm Python benchmark: {info['cpu_model']}, {info['cpu_count']} CPUs, "
        f"load {info['loadavg_start'][0]:.2f}, Python {info['python']}, "
        + (f"driver on CPU {cfg['cpus'][0]}, echo on CPU {cfg['cpus'][1]}" if cfg["cpus"]
           else "one CPU allowed: processes not pinned"))
    notes = check_peers(orig_py)
    for k, v in notes.items():
        if v:
            log(f"  note: {k}: {v}")

    results = {}
    runs = {c["id"]: [] for c in cases}
    tag_prefix = f"shmbench_{os.getpid()}_"
    t_all = time.monotonic()
    reps = max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="shmbench-") as tmpdir:
        try:
            for rep in range(reps):
                if reps > 1:
                    log(f"--- round {rep + 1} of {reps}")
                for idx, case in enumerate(cases):
                    head = f"[{idx + 1:2d}/{len(cases)}] {case['id']:22s}"
                    reason = skip_reason(case, notes)
                    if reason:
                        results[case["id"]] = {"ok": False, "skipped": reason}
                        if rep == 0:
                            log(f"{head} skipped: {reason}")
                        continue
                    log(f"{head} {case['label']} ...")
                    res = run_case(case, cfg, rep * 1000 + idx, tmpdir, orig_py)
                    summarize(res)
                    runs[case["id"]].append(res)
                    results[case["id"]] = pick_run(case, runs[case["id"]])
                    if not res.get("ok"):
                        log(f"      failed: {res.get('error')}")
                    elif case["kind"] == "idle":
                        log(f"      {res['cpu_pct']:.2f}% of a core over {res['wall_s']} s")
                    elif case["kind"] in LATENCY:
                        log(f"      p50 {res['p50']:.2f} µs  p99 {res['p99']:.2f} µs  n={res['n']:,}"
                            + (f"  WRONG REPLIES: {res['bad']}" if res.get("bad") else ""))
                    else:
                        rate = res.get("recv_per_s")
                        log(f"      received {rate or 0:,.0f} msgs/s (sent {res['sent_per_s']:,.0f}/s, "
                            f"{res['received']:,} of {res['sent']:,})")
        except KeyboardInterrupt:
            log("interrupted: reporting what ran")
        finally:
            cleanup(tag_prefix)
    info["loadavg_end"] = list(os.getloadavg())
    info["total_s"] = round(time.monotonic() - t_all, 1)

    ran = [c for c in cases if c["id"] in results]
    print(f"\nshm_comm Python benchmark, {info['date']}: {info['cpu_model']}, "
          f"{info['cpu_count']} CPUs, load {info['loadavg_start'][0]:.2f} → "
          f"{info['loadavg_end'][0]:.2f}, Python {info['python']}"
          + (" (quick)" if args.quick else "")
          + (f", {reps} interleaved rounds" if reps > 1 else "") + "\n")
    print(table(ran, results))
    print("\nratio = peer p50 / ours p50 (latency) or ours msgs/s / peer msgs/s "
          "(throughput), against the row named in `vs`: how many times faster ours is.")

    if args.png:
        if plot(args.png, ran, results, info):
            log(f"wrote {args.png}")
    if args.json:
        out = {"machine": info, "config": {k: v for k, v in cfg.items()},
               "quick": args.quick, "cases": []}
        for c in ran:
            res = dict(results[c["id"]])
            samples = res.pop("samples", None)
            if args.raw_samples and samples is not None:
                res["samples_us"] = [round(float(x), 3) for x in samples]
            res["ratio"] = ratio_of(c, res, results)
            out["cases"].append({**c, **res})
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
