"""An asyncio node: three topics and a service in one event loop, one thread.

Run it alone (it starts its peer as a second process), or in two terminals:

    python examples/asyncio_node.py            # demo: starts the peer, runs the node
    python examples/asyncio_node.py peer       # publishes imu, odom, battery; calls status
    python examples/asyncio_node.py node

The node awaits ``robot/imu``, ``robot/odom`` and ``robot/battery`` (one
task each, ``await sub.recv()``) and serves ``robot/status`` (``await
rep.recv()``) in the same loop; it stops after ``--count`` messages of each
topic (default 20) and at least one status call. The peer publishes the
three topics at ``--rate`` Hz (default 200) and calls ``status`` every 10
rounds, until the node is gone. ``--prefix NAME`` (default ``robot``)
names the channels; ``--wait S`` how long either side waits for the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import shm_comm
import shm_comm.asyncio as shm


def say(line: str) -> None:
    """Prints one line with a single write: the demo's two processes share
    stdout, and print() unbuffered (PYTHONUNBUFFERED) writes the newline
    separately, so their lines could interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


TOPICS = ("imu", "odom", "battery")


async def node(args: argparse.Namespace) -> None:
    subs = {t: shm.Subscriber(f"{args.prefix}/{t}", timeout_connect=args.wait) for t in TOPICS}
    counts = dict.fromkeys(TOPICS, 0)
    last: dict[str, Any] = {}
    served = 0
    with shm.Replier(f"{args.prefix}/status") as rep:
        say(f"node | awaiting {', '.join(TOPICS)} and serving {args.prefix}/status "
            f"(pid {os.getpid()})")

        async def consume(topic: str) -> None:
            sub = subs[topic]
            while counts[topic] < args.count:
                msg = await sub.recv(timeout=args.wait)
                if msg is None:
                    raise SystemExit(f"node | nothing on {topic} for {args.wait} s")
                counts[topic] += 1
                last[topic] = msg

        async def serve() -> None:
            nonlocal served
            while True:
                req = await rep.recv()
                served += 1
                reply = {"counts": dict(counts), "last": dict(last)} if req == "status" else None
                rep.send(reply)
                say(f"node | status call #{served} -> counts {counts}")

        server = asyncio.create_task(serve())
        await asyncio.gather(*(consume(t) for t in TOPICS))
        while served == 0:  # wait for the first call
            await asyncio.sleep(0.01)
        server.cancel()  # a cancelled recv takes no request
        for s in subs.values():
            s.close()
    say(f"node | received {', '.join(f'{n} {t}' for t, n in counts.items())}; "
        f"served {served} status calls; last imu {last['imu']}")


def peer(args: argparse.Namespace) -> None:
    pubs = {t: shm_comm.Publisher(f"{args.prefix}/{t}") for t in TOPICS}
    say("peer | publishing " + ", ".join(TOPICS))
    with shm_comm.Requester(f"{args.prefix}/status", timeout_connect=args.wait) as req:
        i = 0
        while True:
            pubs["imu"].send({"seq": i, "gyro_z": 0.5})
            pubs["odom"].send({"seq": i, "x": 0.01 * i})
            pubs["battery"].send({"seq": i, "volts": 24.0 - 0.001 * i})
            i += 1
            if i % 10 == 0:
                try:
                    req.request("status", timeout=1.0)
                except shm_comm.SHMTimeoutError:
                    if req.repliers() == 0:
                        break  # the node is gone
            time.sleep(1.0 / args.rate)
    for p in pubs.values():
        p.close()
    say(f"peer | published {i} rounds; the node is gone")


def demo(args: argparse.Namespace) -> None:
    cmd = [sys.executable, __file__, "peer", "--prefix", args.prefix, "--rate", str(args.rate),
           "--wait", str(args.wait)]
    with subprocess.Popen(cmd) as child:
        say(f"demo | started the peer (pid {child.pid})")
        try:
            asyncio.run(node(args))
        finally:
            rc = child.wait(timeout=args.wait + 5)
    say(f"demo | the peer exited ({rc})")


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("role", nargs="?", choices=["demo", "node", "peer"], default="demo")
    p.add_argument("--count", type=int, default=20, help="messages of each topic the node takes")
    p.add_argument("--prefix", default="robot")
    p.add_argument("--rate", type=float, default=200.0, help="peer: rounds per second")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the other side")
    args = p.parse_args()
    if args.role == "node":
        asyncio.run(node(args))
    elif args.role == "peer":
        peer(args)
    else:
        demo(args)


if __name__ == "__main__":
    main()
