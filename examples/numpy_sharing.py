"""Sharing numpy arrays between processes: camera frames, two ways.

Run in two terminals (start either first):

    python examples/numpy_sharing.py publisher
    python examples/numpy_sharing.py subscriber

    python examples/numpy_sharing.py publisher --zero-copy
    python examples/numpy_sharing.py subscriber --zero-copy

Without ``--zero-copy`` every frame is sent as raw bytes (``send_bytes`` of
the array, ``numpy.frombuffer`` of ``recv_bytes``): one copy in, one copy
out, any shape or dtype.

With ``--zero-copy`` the topic is *typed*: a fixed layout (a header and a
240x320 ``uint8`` image) stored in the topic itself. The publisher borrows a
slot (``Publisher.loan()``) and draws straight into shared memory; the
subscriber borrows the slot (``Subscriber.borrow()``) and reads it through a
read-only numpy view, no copy at all (fields by name: ``loan["seq"] = n``,
``sample["pixels"]``). The slot stays pinned while the view
lives, so the frame cannot change under the reader.

Options: ``--count N`` frames (default: until Ctrl-C), ``--rate HZ``
(default 30), ``--topic NAME`` (default ``camera/frames``, plus ``-typed``
with ``--zero-copy``).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from shm_comm import Publisher, Subscriber, typed

HEIGHT, WIDTH = 240, 320

#: The typed frame: what ``#[derive(ShmMessage)] #[repr(C)] struct Frame {
#: seq: u64, stamp_ns: u64, exposure_us: f32, gain: f32, pixels: [[u8; 320]; 240] }``
#: describes in Rust.
FRAME_LAYOUT = {
    "name": "Frame",
    "size": 24 + HEIGHT * WIDTH,
    "align": 8,
    "fields": [
        {"name": "seq", "offset": 0, "kind": "u64"},
        {"name": "stamp_ns", "offset": 8, "kind": "u64"},
        {"name": "exposure_us", "offset": 16, "kind": "f32"},
        {"name": "gain", "offset": 20, "kind": "f32"},
        {"name": "pixels", "offset": 24, "kind": "u8", "shape": [HEIGHT, WIDTH]},
    ],
}
Frame = typed.message_class(FRAME_LAYOUT)

_YY, _XX = np.mgrid[0:HEIGHT, 0:WIDTH]


def render(seq: int, out: npt.NDArray[np.uint8] | None = None) -> npt.NDArray[np.uint8]:
    """Frame ``seq`` of a moving diagonal gradient (drawn into ``out`` if given)."""
    if out is None:
        out = np.empty((HEIGHT, WIDTH), dtype=np.uint8)
    np.add(_XX, _YY, out=out, casting="unsafe")
    out += np.uint8(seq % 256)
    return out


def frames(args: argparse.Namespace) -> Iterable[int]:
    return itertools.count() if args.count is None else range(args.count)


def publisher(args: argparse.Namespace) -> None:
    period = 1.0 / args.rate
    start = time.monotonic()
    sent = 0
    if args.zero_copy:
        pub = Publisher(args.topic, num_slots=8, msg_type=Frame)
    else:
        pub = Publisher(args.topic, num_slots=8, slot_size=HEIGHT * WIDTH + 64)
    with pub:
        mode = "zero-copy loans" if args.zero_copy else "send_bytes"
        print(f"pub | {HEIGHT}x{WIDTH} frames on {args.topic!r} at {args.rate:g} Hz ({mode})",
              flush=True)
        try:
            for seq in frames(args):
                delay = start + seq * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if args.zero_copy:
                    loan = pub.loan()                       # a slot of the ring, ours to fill
                    loan["seq"] = seq                       # fields by name, in place
                    loan["stamp_ns"] = time.monotonic_ns()
                    loan["exposure_us"] = 500.0
                    loan["gain"] = 1.5
                    render(seq, out=loan["pixels"])         # drawn in shared memory
                    loan.send()                             # published: no copy made
                else:
                    header = np.array([seq, time.monotonic_ns()], dtype=np.uint64)
                    pub.send_bytes(header.tobytes() + render(seq).tobytes())
                sent += 1
        except KeyboardInterrupt:
            pass
        time.sleep(0.2)  # let subscribers read the last frames before the topic goes
    print(f"pub | sent {sent} frames", flush=True)


def subscriber(args: argparse.Namespace) -> None:
    print(f"sub | waiting for {args.topic!r}", flush=True)
    received = bad = 0
    with Subscriber(args.topic, timeout_connect=args.wait) as sub:
        print(f"sub | connected ({'typed ' + sub.msg_type.__name__ if sub.msg_type else 'bytes'})",
              flush=True)
        try:
            while args.count is None or received < args.count:
                if args.zero_copy:
                    sample = sub.borrow(timeout=1.0)      # pinned slot, no copy
                    if sample is None:
                        seq = None
                    else:
                        seq, stamp = sample["seq"], sample["stamp_ns"]
                        image = sample["pixels"]          # read-only view; keeps the slot pinned
                        del sample
                else:
                    raw = sub.recv_bytes(timeout=1.0)
                    if raw is None:
                        seq = None
                    else:
                        seq, stamp = (int(v) for v in np.frombuffer(raw, dtype=np.uint64, count=2))
                        image = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(HEIGHT, WIDTH)
                if seq is None:
                    if not sub.stats()["publisher_alive"]:
                        print("sub | the publisher is gone", flush=True)
                        break
                    continue
                ok = np.array_equal(image, render(seq))
                bad += not ok
                received += 1
                latency_us = (time.monotonic_ns() - stamp) / 1e3
                if received <= 3 or received % 30 == 0:
                    print(f"sub | frame {seq}: mean {image.mean():.1f}, "
                          f"{'ok' if ok else 'CORRUPT'}, latency {latency_us:.0f} us", flush=True)
                del image
        except KeyboardInterrupt:
            pass
        missed = sub.stats()["drop_count"]
    print(f"sub | received {received} frames, {bad} corrupt, missed {missed}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("role", choices=["publisher", "subscriber"])
    p.add_argument("--zero-copy", action="store_true", help="typed topic with loan/borrow")
    p.add_argument("--count", type=int, default=None, help="frames (default: until Ctrl-C)")
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--topic", default=None)
    p.add_argument("--wait", type=float, default=60.0, help="seconds the subscriber waits")
    args = p.parse_args()
    if args.topic is None:
        args.topic = "camera/frames-typed" if args.zero_copy else "camera/frames"
    (publisher if args.role == "publisher" else subscriber)(args)


if __name__ == "__main__":
    main()
