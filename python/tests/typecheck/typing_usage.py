"""Correct use of the public API, for ``mypy --strict`` (``test_typing.py``).

Never run: every line is checked by the type checker only, and
``assert_type`` fails the check when an inferred type is not the one the
stubs promise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import shm_comm
from shm_comm import (
    Loan,
    Publisher,
    Puller,
    Pusher,
    Replier,
    Requester,
    Sample,
    SHMError,
    SHMTimeoutError,
    Subscriber,
    force_unlink,
    list_segments,
    typed,
)
from shm_comm.msgs import Header, Imu, JointState, Time


def typed_topics() -> None:
    with Publisher("t/imu", msg_type=Imu) as pub, Subscriber("t/imu", msg_type=Imu) as sub:
        assert_type(pub, Publisher[Imu])
        assert_type(sub, Subscriber[Imu])
        assert_type(sub.msg_type, type[Imu] | None)
        assert_type(pub.send(Imu(header=Header(stamp=Time(sec=1), seq=2, frame_id="imu"))), bool)
        pub.send({"header": {"seq": 3}})
        msg = sub.recv(timeout=1.0)
        assert_type(msg, Imu | None)
        if msg is not None:
            assert_type(msg.header.seq, int)
            assert_type(msg.header.frame_id, str)
            assert_type(msg.angular_velocity.x, float)
            assert_type(msg.orientation_covariance, npt.NDArray[np.float64])
        view = sub.recv_view(timeout=0.5)
        assert_type(view, Imu | None)
        annotated: Subscriber[Imu] = sub
        assert_type(annotated.recv(), Imu | None)


def joint_state(sub: Subscriber[JointState]) -> float:
    js = sub.recv(None)
    if js is None:
        return 0.0
    assert_type(js.name, list[str])
    assert_type(js.position, npt.NDArray[np.float64])
    return float(js.position.sum())


def dynamic_topics() -> None:
    with Publisher("t/dyn", num_slots=8, slot_size=1024, serialization="msgpack") as pub:
        assert_type(pub, Publisher[Any])
        pub.send({"x": 1.0}, block=False, timeout=None)
        pub.send_bytes(b"raw")
        pub.send_bytes(np.zeros(4, dtype=np.uint8))
        assert_type(pub.stats(), dict[str, int])
        assert_type(pub.name, str)
        assert_type(pub.closed, bool)
    with Subscriber("t/dyn", timeout_connect=1.0, last_value=True) as sub:
        assert_type(sub.recv_bytes(0.1), bytes | None)
        assert_type(sub.recv_frame_bytes(0.1), tuple[str, bytes] | None)
        assert_type(sub.layout(), dict[str, Any] | None)


def zero_copy() -> None:
    with Publisher("t/frames", msg_type=Imu) as pub, Subscriber("t/frames", msg_type=Imu) as sub:
        loan = pub.loan()
        assert_type(loan, Loan)
        loan["header"] = {"seq": 1}
        assert_type(loan.send(), bool)
        sample = sub.borrow(timeout=1.0)
        assert_type(sample, Sample | None)
        if sample is not None:
            with sample:
                # (numpy's stubs take the buffer protocol only from Python 3.12)
                raw = np.frombuffer(memoryview(sample), dtype=np.uint8)
                assert_type(raw, npt.NDArray[np.uint8])
                assert_type(typed.view(sample, Imu), Imu)


def services_and_queues() -> None:
    with Replier("svc", num_slots=4) as rep, Requester("svc", timeout_connect=1.0) as req:
        assert_type(req.repliers(), int)
        req.send({"cmd": "status"})
        request = rep.recv(timeout=1.0)
        if request is not None:
            assert_type(rep.send({"ok": True}), bool)
        try:
            req.request({"cmd": "status"}, timeout=0.5)
        except SHMTimeoutError as e:
            assert_type(e, SHMTimeoutError)
    with Pusher("jobs", num_slots=4) as push, Puller("jobs") as pull:
        assert_type(push.send(1, block=True, timeout=0.5), bool)
        assert_type(pull.recv(0.1), Any)


def utilities() -> None:
    assert_type(list_segments(), list[str])
    assert_type(force_unlink("t/imu", force=True), bool)
    assert_type(shm_comm.__version__, str)
    assert_type(typed.message_class({"name": "M", "size": 8, "align": 8, "fields": []}), type[Any])
    assert_type(typed.layout_of(Imu), dict[str, Any])
    try:
        Subscriber("nobody", timeout_connect=0.0)
    except SHMError:
        pass
