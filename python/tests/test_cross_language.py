"""Dynamic (untyped) channels between Rust and Python: msgpack frames from
Rust arrive as Python dicts and lists, raw frames as bytes, and a Python
requester talks to a Rust replier."""

from __future__ import annotations

import time

import pytest

from shm_comm import Requester, Subscriber

SOURCES = ["battery", "lidar", "arm"]


def test_rust_msgpack_arrives_as_python_dicts(chan, spawn, rust_bin):
    """examples/dynamic_pubsub.rs publishes serde structs as msgpack (even
    frames) and raw images (odd frames)."""
    example = rust_bin("dynamic_pubsub", kind="example")
    count = 40
    rust = spawn.program([example, "publisher", "--topic", chan, "--count", count,
                          "--rate", 400])
    events, images = {}, {}
    with Subscriber(chan, timeout_connect=10.0, last_value=True) as sub:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = sub.recv(timeout=0.5)
            if got is None:
                if not sub.stats()["publisher_alive"]:
                    break
                continue
            if isinstance(got, dict):
                events[got["seq"]] = got
                seq = got["seq"]
            else:
                assert isinstance(got, bytes), type(got)
                seq = int.from_bytes(got[:8], "little")
                images[seq] = got
            if seq == count - 1:
                break
    rust.kill()
    assert events and images, (events, images)
    assert max(max(events), max(images)) == count - 1
    # A late joiner misses at most the first few frames.
    assert len(events) + len(images) >= count // 2
    for seq, e in events.items():
        assert seq % 2 == 0
        assert set(e) == {"seq", "stamp_ns", "source", "level", "tags", "extra", "note"}
        assert e["source"] == SOURCES[seq // 2 % 3]
        assert isinstance(e["level"], float) and abs(e["level"] - (100.0 - seq * 0.05)) < 1e-9
        assert e["tags"] == ["demo", f"batch-{seq // 10}"]
        assert e["extra"] == {"retries": seq % 5}
        assert e["note"] == ("all nominal" if seq % 4 == 0 else None)
        assert isinstance(e["stamp_ns"], int) and e["stamp_ns"] > 0
    for seq, img in images.items():
        assert seq % 2 == 1
        assert len(img) == 16 + 16 * 16
        pixels = img[16:]
        assert all(pixels[y * 16 + x] == ((x + y) * 8 + seq) % 256
                   for y in range(16) for x in range(16))


@pytest.fixture
def dyn_replier(chan, spawn, rust_bin):
    peer = rust_bin("shm-comm-pattern-peer")
    rust = spawn.program([peer, "dyn-replier", chan, 4096])
    rust.expect("ready")
    yield rust
    rust.say("stop")
    rust.expect("served")
    rust.wait()


def test_python_requester_to_rust_replier_msgpack(chan, dyn_replier):
    """The Rust service doubles the number and upper-cases the text of a
    msgpack ``(u64, String)`` request."""
    with Requester(chan, serialization="msgpack") as req:
        for n in (0, 1, 2**40):
            assert req.request([n, f"hello {n}"], timeout=5.0) == [2 * n, f"HELLO {n}"]


def test_python_requester_to_rust_replier_raw_and_pickle(chan, dyn_replier):
    with Requester(chan) as req:
        req.send_bytes(b"abcdef")
        assert req.recv_bytes(timeout=5.0) == b"fedcba"  # reversed
        # Frames of other codecs are echoed with their tag: pickle round-trips.
        assert req.request({"any": ("python", "object")}, timeout=5.0) == \
            {"any": ("python", "object")}
