"""Publish / subscribe between two processes: a robot pose at 100 Hz.

Run in two terminals (start either one first; the subscriber waits for the
topic to appear):

    python examples/simple_pubsub.py publisher
    python examples/simple_pubsub.py subscriber

Ctrl-C stops either side. Options: ``--count N`` publishes (or receives) N
poses and exits (default: run until Ctrl-C), ``--rate HZ`` (default 100),
``--topic NAME`` (default ``robot/pose``).

The publisher never waits for subscribers: a subscriber gets what is
published after it connected, and skips (and counts) messages it falls too
far behind on. Any number of subscribers may run at once.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

from shm_comm import Publisher, Subscriber


def publisher(args: argparse.Namespace) -> None:
    period = 1.0 / args.rate
    with Publisher(args.topic) as pub:
        print(f"pub | publishing on {args.topic!r} at {args.rate:g} Hz (Ctrl-C stops)", flush=True)
        start = time.monotonic()
        sent = 0
        try:
            for t in itertools.count() if args.count is None else range(args.count):
                # Absolute deadlines: the rate does not drift with the loop's cost.
                delay = start + t * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pub.send({"seq": t, "x": t * 0.1, "y": 0.0, "heading": t * 0.01,
                          "stamp": time.monotonic()})
                sent += 1
        except KeyboardInterrupt:
            pass
        # Tell subscribers we are done (they stop on it), then leave.
        pub.send({"done": True, "sent": sent})
        time.sleep(0.1)
        print(f"pub | sent {sent} poses", flush=True)


def subscriber(args: argparse.Namespace) -> None:
    print(f"sub | waiting for {args.topic!r}", flush=True)
    received, first, latencies = 0, None, []
    with Subscriber(args.topic, timeout_connect=args.wait) as sub:
        print(f"sub | connected to {args.topic!r}", flush=True)
        try:
            while args.count is None or received < args.count:
                pose = sub.recv(timeout=1.0)
                if pose is None:
                    if not sub.stats()["publisher_alive"]:
                        print("sub | the publisher is gone", flush=True)
                        break
                    continue
                if pose.get("done"):
                    break
                latencies.append(time.monotonic() - pose["stamp"])
                first = pose["seq"] if first is None else first
                received += 1
                if received <= 5 or received % 100 == 0:
                    print(f"sub | #{pose['seq']:<5} x={pose['x']:.2f}  heading={pose['heading']:.3f}",
                          flush=True)
        except KeyboardInterrupt:
            pass
        missed = sub.stats()["drop_count"]
    print(f"sub | received {received} poses (first #{first}), missed {missed}", flush=True)
    if latencies:
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1e6
        print(f"sub | latency p50 {p50:.0f} us, max {latencies[-1] * 1e6:.0f} us", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("role", choices=["publisher", "subscriber"])
    p.add_argument("--count", type=int, default=None, help="poses to send/receive (default: forever)")
    p.add_argument("--rate", type=float, default=100.0, help="publish rate in Hz")
    p.add_argument("--topic", default="robot/pose")
    p.add_argument("--wait", type=float, default=60.0, help="seconds the subscriber waits for the topic")
    args = p.parse_args()
    if args.rate <= 0 or (args.count is not None and args.count < 0) or math.isnan(args.rate):
        p.error("--rate must be positive and --count not negative")
    (publisher if args.role == "publisher" else subscriber)(args)


if __name__ == "__main__":
    main()
