"""Typed messages in one process: `send(msg)` + `recv()` into the generated
dataclass (PoseStamped, Imu, Odometry of the standard set), beside the
bytes path of the same size and `pickle.loads(pickle.dumps(msg))` of the
same dataclass, measured in the same process.

Each sample is the mean time of one operation over a batch (a batch of
100 takes 0.1-5 ms), so the clock's own cost (~50 ns a read) stays out.
"""

from __future__ import annotations

import array
import os
import pickle
import time

#: The messages measured, smallest first.
MESSAGES = ("PoseStamped", "Imu", "Odometry")
BATCH = 100


def sample_msg(name: str):
    """A `shm_comm.msgs` message with every kind of its fields set."""
    import numpy as np
    from shm_comm import msgs
    m = getattr(msgs, name)()
    m.header.seq = 7
    m.header.stamp.sec = 1_700_000_000
    m.header.stamp.nanosec = 123_456_789
    m.header.frame_id = "base_link"
    if name == "PoseStamped":
        m.pose.position.x, m.pose.position.y = 1.5, -2.25
        m.pose.orientation.w = 1.0
    elif name == "Imu":
        m.orientation.w = 1.0
        m.orientation_covariance = np.eye(3).reshape(-1) * 0.01
        m.angular_velocity.z = 0.1
        m.angular_velocity_covariance = np.eye(3).reshape(-1) * 0.02
        m.linear_acceleration.z = 9.81
        m.linear_acceleration_covariance = np.eye(3).reshape(-1) * 0.03
    else:
        m.child_frame_id = "odom"
        m.pose.pose.position.x = 2.0
        m.pose.pose.orientation.w = 1.0
        m.pose.covariance = np.eye(6) * 0.1
        m.twist.twist.linear.x = 0.5
        m.twist.covariance = np.eye(6) * 0.2
    return m


class Ops:
    """The three operations on message `name`, each a callable doing one
    round: `typed` (typed topic send + recv into the dataclass), `bytes`
    (send_bytes + recv_bytes of as many bytes), `pickle` (dumps + loads).
    Each result is checked once before timing."""

    def __init__(self, name: str, tag: str):
        import shm_comm
        from shm_comm import msgs
        cls = getattr(msgs, name)
        msg = sample_msg(name)
        size = cls.__shm_layout__["size"]
        self.size = size
        self._handles = [
            shm_comm.Publisher(f"{tag}_typed", num_slots=8, msg_type=cls),
            shm_comm.Publisher(f"{tag}_bytes", num_slots=8, slot_size=max(size, 64)),
        ]
        self._handles += [shm_comm.Subscriber(f"{tag}_typed"), shm_comm.Subscriber(f"{tag}_bytes")]
        tpub, bpub, tsub, bsub = self._handles
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)

        def typed(send=tpub.send, recv=tsub.recv, m=msg):
            send(m)
            return recv(0)

        def raw(send=bpub.send_bytes, recv=bsub.recv_bytes, p=payload):
            send(p)
            return recv(0)

        def pickled(dumps=pickle.dumps, loads=pickle.loads, m=msg):
            return loads(dumps(m))

        got = typed()
        if type(got) is not cls or got.header != msg.header or repr(got) != repr(msg):
            raise RuntimeError(f"typed round trip of {name} gave {got!r}")
        if raw() != payload:
            raise RuntimeError("bytes round trip gave other bytes")
        if repr(pickled()) != repr(msg):
            raise RuntimeError("pickle round trip gave another message")
        self.ops = {"typed": typed, "bytes": raw, "pickle": pickled}

    def close(self):
        for h in self._handles:
            h.close()


def time_batch(fn, n: int = BATCH) -> float:
    """Mean µs of one `fn()` over `n` calls."""
    now = time.perf_counter_ns
    t0 = now()
    for _ in range(n):
        fn()
    return (now() - t0) / n / 1000.0


def run(spec) -> dict:
    """The benchmark's `inproc` rows: batches of `spec["op"]` on message
    `spec["payload"]` for `spec["duration"]` seconds after a warm-up."""
    ops = Ops(spec["payload"], spec["tag"])
    try:
        fn = ops.ops[spec["op"]]
        samples = array.array("d")
        now = time.monotonic
        warm_end = now() + spec["warmup"]
        while now() < warm_end:
            time_batch(fn)
        end = now() + spec["duration"]
        while now() < end:
            samples.append(time_batch(fn))
        return {"samples": samples, "bad": 0}
    finally:
        ops.close()


def ratios(rounds: int, tag: str) -> dict:
    """{message: [pickle µs / typed µs per round]}: the two measured
    alternately in this process (so a change of load hits both)."""
    out = {}
    for i, name in enumerate(MESSAGES):
        ops = Ops(name, f"{tag}_{os.getpid()}_{i}")
        try:
            typed, pickled = ops.ops["typed"], ops.ops["pickle"]
            for _ in range(20):         # warm-up
                typed()
                pickled()
            r = []
            for _ in range(rounds):
                t = min(time_batch(typed) for _ in range(3))
                p = min(time_batch(pickled) for _ in range(3))
                r.append((p / t, t, p))
            out[name] = r
        finally:
            ops.close()
    return out
