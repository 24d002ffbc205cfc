"""A Python subscriber of a Rust publisher, with no generated code.

The Rust example ``examples/typed_pubsub.rs`` publishes a
``#[derive(ShmMessage)]`` struct ``Pose`` on ``demo/pose``. The topic
carries the struct's layout, so Python needs nothing but the topic name:
messages come back as dataclass instances, arrays as numpy arrays, the
``FixedString`` as ``str`` and the ``Flag`` as ``bool``.

Terminal 1 (the Rust side; from the workspace root):

    cargo run --release --example typed_pubsub -- publisher --count 5000

Terminal 2:

    python examples/cross_language.py

Start either first: the subscriber waits up to ``--wait`` seconds for the
topic. Options: ``--count N`` poses, then exit (default: until the publisher
is gone or Ctrl-C), ``--topic NAME`` (default ``demo/pose``), ``--strict``
(insist on a hand-written ``Pose`` layout: a Rust struct that changed
would be refused with ``SHMLayoutError`` naming the field), ``--zero-copy``
(borrow each message in place instead of copying it).

``examples/dynamic_pubsub.rs`` is the untyped counterpart: its msgpack
frames arrive in Python as dicts (``--dynamic``, topic ``demo/events``):

    cargo run --release --example dynamic_pubsub -- publisher --count 1000
    python examples/cross_language.py --dynamic
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from shm_comm import Subscriber, typed

#: The layout of the Rust ``Pose`` written by hand (used with ``--strict``).
POSE_LAYOUT = {
    "name": "Pose",
    "size": 112,
    "align": 8,
    "fields": [
        {"name": "stamp_ns", "offset": 0, "kind": "u64"},
        {"name": "seq", "offset": 8, "kind": "u64"},
        {"name": "position", "offset": 16, "kind": "f64", "shape": [3]},
        {"name": "orientation", "offset": 40, "kind": "f64", "shape": [4]},
        {"name": "frame_id", "offset": 72, "kind": "string", "capacity": 32},
        {"name": "valid", "offset": 108, "kind": "flag"},
        {"name": "_pad", "offset": 109, "kind": "u8", "shape": [3]},
    ],
}


def describe_layout(layout: dict[str, Any]) -> None:
    print(f"py  | layout {layout['name']} ({layout['size']} bytes, hash {layout['hash']:#018x}):",
          flush=True)
    for f in layout["fields"]:
        shape = "".join(f"[{d}]" for d in f["shape"])
        extra = f"<{f['capacity']}>" if "capacity" in f else ""
        print(f"py  |   {f['offset']:>4}  {f['name']}: {f['kind']}{extra}{shape}", flush=True)


def typed_subscriber(args: argparse.Namespace) -> None:
    msg_type = typed.message_class(POSE_LAYOUT) if args.strict else None
    print(f"py  | waiting for {args.topic!r}", flush=True)
    with Subscriber(args.topic, timeout_connect=args.wait, msg_type=msg_type,
                    last_value=True) as sub:
        print(f"py  | connected to {args.topic!r} (publisher pid {sub.stats()['publisher_pid']})",
              flush=True)
        layout = sub.layout()
        if layout is None:
            print(f"py  | {args.topic!r} is not a typed topic (try --dynamic)", flush=True)
            return
        describe_layout(layout)
        received, last_seq = 0, None
        try:
            while args.count is None or received < args.count:
                pose = sub.recv_view(timeout=0.5) if args.zero_copy else sub.recv(timeout=0.5)
                if pose is None:
                    if not sub.stats()["publisher_alive"]:
                        break
                    continue
                received += 1
                latency_us = (time.monotonic_ns() - pose.stamp_ns) / 1e3
                x, y, z = pose.position
                qx, qy, qz, qw = pose.orientation
                yaw = math.degrees(2 * math.atan2(qz, qw))
                if received <= 3 or received % 100 == 0:
                    print(f"py  | #{pose.seq:<5} pos ({x:+.3f}, {y:+.3f}, {z:+.3f}) m  "
                          f"yaw {yaw:+7.2f} deg  frame {pose.frame_id!r}  valid {pose.valid}  "
                          f"latency {latency_us:.0f} us", flush=True)
                last_seq = pose.seq
                del pose
        except KeyboardInterrupt:
            pass
        missed = sub.stats()["drop_count"]
    print(f"py  | received {received} poses (last #{last_seq}), missed {missed}", flush=True)


def dynamic_subscriber(args: argparse.Namespace) -> None:
    print(f"py  | waiting for {args.topic!r}", flush=True)
    with Subscriber(args.topic, timeout_connect=args.wait, last_value=True) as sub:
        print(f"py  | connected to {args.topic!r}", flush=True)
        events = images = 0
        try:
            while args.count is None or events + images < args.count:
                msg = sub.recv(timeout=0.5)
                if msg is None:
                    if not sub.stats()["publisher_alive"]:
                        break
                    continue
                if isinstance(msg, dict):          # a msgpack-encoded serde struct
                    events += 1
                    if events <= 3:
                        print(f"py  | event {msg}", flush=True)
                else:                              # a raw frame: bytes
                    images += 1
                    if images <= 3:
                        seq = int.from_bytes(msg[:8], "little")
                        print(f"py  | raw #{seq} {len(msg)} bytes", flush=True)
        except KeyboardInterrupt:
            pass
    print(f"py  | received {events} events and {images} raw frames", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--topic", default=None)
    p.add_argument("--count", type=int, default=None)
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the topic")
    p.add_argument("--strict", action="store_true", help="check against the hand-written layout")
    p.add_argument("--zero-copy", action="store_true", help="borrow instead of copy")
    p.add_argument("--dynamic", action="store_true", help="the dynamic_pubsub example instead")
    args = p.parse_args()
    if args.topic is None:
        args.topic = "demo/events" if args.dynamic else "demo/pose"
    (dynamic_subscriber if args.dynamic else typed_subscriber)(args)


if __name__ == "__main__":
    main()
