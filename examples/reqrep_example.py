"""Request / reply between two processes: an arm controller service.

Run in two terminals (start the server first, or start the client within
its ``--wait`` seconds):

    python examples/reqrep_example.py server
    python examples/reqrep_example.py client

The client sends ``--count`` requests (default 10) and prints the replies
and the round-trip times; ``client --shutdown`` also stops the server.
The server runs until Ctrl-C, a ``shutdown`` request, or ``--count``
requests served. ``--service NAME`` (default ``arm/control``).

Several clients may call one server at once: each gets its own replies.
A client whose request times out gets ``SHMTimeoutError``; the late reply is
dropped, never handed to its next request.
"""

from __future__ import annotations

import argparse
import os
import time

from shm_comm import Replier, Requester, SHMTimeoutError


def server(args: argparse.Namespace) -> None:
    joints = [0.0] * 6
    served = 0
    with Replier(args.service) as rep:
        print(f"server | serving {args.service!r} (pid {os.getpid()}); Ctrl-C stops", flush=True)
        try:
            while args.count is None or served < args.count:
                req = rep.recv(timeout=1.0)
                if req is None:
                    continue
                served += 1
                command = req.get("command") if isinstance(req, dict) else None
                if command == "get_status":
                    reply = {"status": "ok", "served": served, "joints": joints}
                elif command == "move":
                    joint, angle = int(req["joint"]), float(req["angle"])
                    if 0 <= joint < len(joints):
                        joints[joint] = angle
                        reply = {"status": "ok", "joints": joints}
                    else:
                        reply = {"status": "error", "reason": f"no joint {joint}"}
                elif command == "shutdown":
                    rep.send({"status": "ok", "bye": True})
                    print("server | shutdown requested", flush=True)
                    break
                else:
                    reply = {"status": "error", "reason": f"unknown request {req!r}"}
                rep.send(reply)
        except KeyboardInterrupt:
            pass
    print(f"server | served {served} requests", flush=True)


def client(args: argparse.Namespace) -> None:
    rtts = []
    with Requester(args.service, timeout_connect=args.wait) as req:
        print(f"client | connected to {args.service!r}", flush=True)
        try:
            for i in range(args.count):
                request = ({"command": "move", "joint": i % 6, "angle": round(0.1 * i, 3)}
                           if i % 2 else {"command": "get_status"})
                t0 = time.perf_counter()
                try:
                    reply = req.request(request, timeout=2.0)
                except SHMTimeoutError as e:
                    print(f"client | #{i} timed out: {e}", flush=True)
                    continue
                rtts.append(time.perf_counter() - t0)
                print(f"client | #{i} {request['command']:<10} -> {reply}", flush=True)
            if args.shutdown:
                print(f"client | shutdown -> {req.request({'command': 'shutdown'}, timeout=2.0)}",
                      flush=True)
        except KeyboardInterrupt:
            pass
    if rtts:
        rtts.sort()
        print(f"client | {len(rtts)} calls, round trip p50 {rtts[len(rtts) // 2] * 1e6:.0f} us, "
              f"max {rtts[-1] * 1e6:.0f} us", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--count", type=int, default=None,
                   help="requests to send (client, default 10) or serve (server, default: forever)")
    p.add_argument("--service", default="arm/control")
    p.add_argument("--shutdown", action="store_true", help="client: stop the server at the end")
    p.add_argument("--wait", type=float, default=10.0, help="seconds the client waits for the server")
    args = p.parse_args()
    if args.role == "client" and args.count is None:
        args.count = 10
    (server if args.role == "server" else client)(args)


if __name__ == "__main__":
    main()
