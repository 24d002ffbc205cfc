"""A typed topic of the standard message set: IMU readings at 200 Hz.

Run in two terminals (start either one first; the subscriber waits for the
topic to appear):

    python examples/imu_pubsub.py publisher
    python examples/imu_pubsub.py subscriber

``shm_comm.msgs.Imu`` is a dataclass generated from ``schemas/`` with the
layout of the Rust ``shm_comm::msgs::Imu``, so a Rust node can take either
side. The handles are generic over it: ``Subscriber(..., msg_type=Imu)`` is
a ``Subscriber[Imu]`` whose ``recv()`` returns an ``Imu`` (or ``None`` on
timeout), which a type checker (``mypy --strict``) follows down to the
numpy dtype of each array field.

Options: ``--count N`` readings, then exit (default: until Ctrl-C),
``--rate HZ`` (default 200), ``--topic NAME`` (default ``robot/imu``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from shm_comm import Publisher, Subscriber
from shm_comm.msgs import Header, Imu, Quaternion, Time, Vector3


def reading(seq: int) -> Imu:
    """The ``seq``-th reading of a robot turning at 0.5 rad/s."""
    now = time.time_ns()
    yaw = 0.5 * seq / 200.0
    return Imu(
        header=Header(stamp=Time(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000),
                      seq=seq, frame_id="imu_link"),
        orientation=Quaternion(z=math.sin(yaw / 2), w=math.cos(yaw / 2)),
        angular_velocity=Vector3(z=0.5),
        linear_acceleration=Vector3(z=9.81),
        linear_acceleration_covariance=np.diag([0.01, 0.01, 0.01]).reshape(-1),
    )


def publisher(args: argparse.Namespace) -> None:
    period = 1.0 / args.rate
    with Publisher(args.topic, msg_type=Imu) as pub:
        print(f"pub | Imu on {args.topic!r} at {args.rate:g} Hz (Ctrl-C stops)", flush=True)
        start = time.monotonic()
        sent = 0
        try:
            for seq in itertools.count() if args.count is None else range(args.count):
                delay = start + seq * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pub.send(reading(seq))
                sent += 1
        except KeyboardInterrupt:
            pass
        time.sleep(0.1)  # let subscribers read the last readings before the topic goes
    print(f"pub | sent {sent} readings", flush=True)


def subscriber(args: argparse.Namespace) -> None:
    print(f"sub | waiting for {args.topic!r}", flush=True)
    received = 0
    with Subscriber(args.topic, timeout_connect=args.wait, msg_type=Imu) as sub:
        print(f"sub | connected to {args.topic!r}", flush=True)
        try:
            while args.count is None or received < args.count:
                imu = sub.recv(timeout=1.0)
                if imu is None:
                    if not sub.stats()["publisher_alive"]:
                        print("sub | the publisher is gone", flush=True)
                        break
                    continue
                received += 1
                q = imu.orientation
                yaw = math.degrees(2 * math.atan2(q.z, q.w))
                accel_sd = float(np.sqrt(imu.linear_acceleration_covariance[0]))
                if received <= 3 or received % 100 == 0:
                    print(f"sub | #{imu.header.seq:<5} {imu.header.frame_id}  yaw {yaw:+7.2f} deg  "
                          f"gyro z {imu.angular_velocity.z:.2f} rad/s  "
                          f"accel z {imu.linear_acceleration.z:.2f} m/s2 (sd {accel_sd:.2f})",
                          flush=True)
        except KeyboardInterrupt:
            pass
        missed = sub.stats()["drop_count"]
    print(f"sub | received {received} readings, missed {missed}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("role", choices=["publisher", "subscriber"])
    p.add_argument("--count", type=int, default=None, help="readings (default: until Ctrl-C)")
    p.add_argument("--rate", type=float, default=200.0, help="publish rate in Hz")
    p.add_argument("--topic", default="robot/imu")
    p.add_argument("--wait", type=float, default=60.0, help="seconds the subscriber waits")
    args = p.parse_args()
    if not args.rate > 0 or (args.count is not None and args.count < 0):
        p.error("--rate must be positive and --count not negative")
    (publisher if args.role == "publisher" else subscriber)(args)


if __name__ == "__main__":
    main()
