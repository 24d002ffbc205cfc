"""A Rust message with foreign ``bytemuck::Pod`` fields (``#[shm(pod)]``
``glam::Vec3``, examples/pod_field.rs) received in Python: the layout says
"opaque", and Python gets the field's bytes (a message object) or a
read-only ``uint8`` view (a sample)."""

from __future__ import annotations

import numpy as np
import pytest

from shm_comm import Publisher, Subscriber, typed
from shm_comm._errors import SHMSerializationError


def expected(seq: int) -> dict:
    """What examples/pod_field.rs's `target(seq)` holds."""
    t = np.float32(seq) * np.float32(0.1)
    return {
        "stamp_ns": 1_000_000 + seq,
        "position": np.array([t, np.float32(2.0) * t, -1.5], dtype=np.float32),
        "heading_rad": float(np.float32(0.25) * t),
        "velocity": np.array([1.0, 2.0, 0.0], dtype=np.float32),
    }


def test_rust_glam_fields_arrive_as_opaque_bytes(chan, spawn, rust_bin):
    example = rust_bin("pod_field", kind="example")
    rust = spawn.program([example, "publisher", "--topic", chan, "--count", "10"])
    with Subscriber(chan, timeout_connect=10.0, last_value=True) as sub:
        layout = sub.layout()
        kinds = {f["name"]: (f["kind"], f["offset"], f["size"], f.get("align")) for f in layout["fields"]}
        assert kinds["position"] == ("opaque", 12, 12, 4)
        assert kinds["velocity"] == ("opaque", 28, 12, 4)
        assert kinds["heading_rad"][0] == "f32"
        assert layout["hash"] == typed.layout_hash(layout)

        msg = sub.recv(timeout=10.0)
        assert msg is not None
        want = expected(msg.seq)
        assert msg.stamp_ns == want["stamp_ns"]
        assert isinstance(msg.position, bytes) and len(msg.position) == 12
        assert np.array_equal(np.frombuffer(msg.position, np.float32), want["position"])
        assert np.array_equal(np.frombuffer(msg.velocity, np.float32), want["velocity"])
        assert msg.heading_rad == pytest.approx(want["heading_rad"])

        # In place: a read-only uint8 view into the slot.
        sample = sub.borrow(timeout=10.0)
        view = typed.view(sample, sub.msg_type)
        assert isinstance(view.position, np.ndarray) and view.position.dtype == np.uint8
        assert view.position.shape == (12,) and not view.position.flags.writeable
        seq = view.seq
        assert np.array_equal(view.position.view(np.float32), expected(seq)["position"])
        del view
        sample.release()
    rust.kill()


def test_opaque_fields_round_trip_between_python_peers(chan):
    layout = {"name": "Target", "size": 16, "align": 4, "fields": [
        {"name": "position", "offset": 0, "kind": "opaque", "size": 12, "align": 4},
        {"name": "id", "offset": 12, "kind": "u32"},
    ]}
    cls = typed.message_class(layout)
    pos = np.array([1.0, -2.0, 3.5], dtype=np.float32)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        pub.send(cls(position=pos, id=7))  # a numpy array: its bytes
        got = sub.recv(1.0)
        assert got.id == 7 and np.array_equal(np.frombuffer(got.position, np.float32), pos)
        pub.send(cls(position=pos.tobytes(), id=8))  # bytes as they are
        assert sub.recv(1.0).position == pos.tobytes()
        with pytest.raises(SHMSerializationError):
            pub.send(cls(position=b"short", id=9))


def test_an_opaque_field_with_a_bad_alignment_is_refused():
    layout = {"name": "Bad", "size": 12, "align": 4, "fields": [
        {"name": "position", "offset": 0, "kind": "opaque", "size": 12, "align": 3},
    ]}
    with pytest.raises(ValueError):
        typed.layout_hash(layout)
