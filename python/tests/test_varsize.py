"""Variable-size typed topics from Python, against Rust processes.

The Rust test peer (``tests/support/peer.rs``) publishes and checks
frames of ``FrameHead`` (seq, width, height) followed by ``width *
height`` RGB pixels (``[u8; 3]`` elements) whose values depend on the
frame's sequence number (``suite::pixel``), so every byte can be checked
on the other side: Rust loans, Python borrows numpy views; Python loans
or sends, Rust checks; either side grows the topic while the other reads.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

import shm_comm
from shm_comm import Publisher, Subscriber, msgs, typed

T = 60.0

#: The peer's `FrameHead` with a tail of `[u8; ELEM]` pixels.
def frame_layout(elem: int = 3, width_name: str = "width") -> dict:
    return {
        "name": "FrameHead", "size": 16, "align": 8,
        "fields": [
            {"name": "seq", "offset": 0, "kind": "u64"},
            {"name": width_name, "offset": 8, "kind": "u32"},
            {"name": "height", "offset": 12, "kind": "u32"},
        ],
        "tail": {"elem": {"kind": "u8", "shape": [elem], "size": elem}},
    }


FRAME = typed.message_class(frame_layout())


def pixels(seq: int, n: int) -> np.ndarray:
    """Frame ``seq``'s ``n`` pixels, as ``suite::pixel`` paints them."""
    x = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B9) + np.uint64(seq)
    out = np.empty((n, 3), dtype=np.uint8)
    out[:, 0] = x & 0xFF
    out[:, 1] = (x >> 8) & 0xFF
    out[:, 2] = ((x >> 16) & 0xFF) ^ (seq & 0xFF)
    return out


@pytest.fixture
def peer(rust_bin):
    return rust_bin("shm-comm-test-peer")


def test_rust_frames_are_numpy_views_of_exactly_the_sent_size(chan, spawn, peer):
    rust = spawn.program([peer, "vframes", chan])
    rust.expect("ready", T)
    sizes = [(640, 480), (3840, 2160), (640, 480), (3840, 2160), (1, 1)]
    with Subscriber(chan) as sub:  # the class comes from the topic's layout
        assert sub.msg_type is not None and typed.tail_name(sub.msg_type) == "data"
        for seq, (w, h) in enumerate(sizes):
            rust.say(f"{w} {h}")
            assert rust.expect("sent", T) == f"sent {seq}"
            want = pixels(seq, w * h)
            if seq % 3 == 0:  # a message object whose tail is a view
                msg = sub.recv_view(timeout=T)
                assert (msg.seq, msg.width, msg.height) == (seq, w, h)
                got = msg.data
                del msg
            elif seq % 3 == 1:  # the sample itself
                sample = sub.borrow(timeout=T)
                assert sample["seq"] == seq and len(sample) == 16 + 3 * w * h
                got = sample.tail
                assert np.shares_memory(got, sample["data"])
                del sample
            else:  # a copy
                msg = sub.recv(timeout=T)
                assert (msg.seq, msg.width, msg.height) == (seq, w, h)
                got = msg.data
                assert got.flags.writeable
            assert got.shape == (w * h, 3) and got.dtype == np.uint8
            assert seq % 3 == 2 or not got.flags.writeable
            assert np.array_equal(got, want), f"frame {seq} differs"
            del got
        assert sub.stats()["drop_count"] == 0
    rust.say("end")


def test_python_frames_are_checked_byte_for_byte_by_rust(chan, spawn, peer):
    sizes = [(640, 480), (3840, 2160), (1, 1), (640, 480)]
    with Publisher(chan, msg_type=FRAME, max_len=3840 * 2160) as pub:
        rust = spawn.program([peer, "vcheck", chan, len(sizes)])
        rust.expect("ready", T)
        for seq, (w, h) in enumerate(sizes):
            if seq == 3:  # sent from a message object (copied in)
                pub.send(FRAME(seq=seq, width=w, height=h, data=pixels(seq, w * h)))
            else:  # written in place
                with pub.loan(w * h) as loan:
                    loan["seq"], loan["width"], loan["height"] = seq, w, h
                    tail = loan.tail
                    assert tail.shape == (w * h, 3) and tail.flags.writeable
                    tail[...] = pixels(seq, w * h)
                    del tail
                    loan.send()
            assert rust.expect("frame", T) == f"frame {seq} {w}x{h} {w * h} ok"
        assert rust.expect("missed", T) == "missed 0"


def check_frames(sub, count: int) -> tuple[int, int]:
    """Reads ``count`` frames of the peer's ``vgrow``: (torn, gaps)."""
    torn = gaps = 0
    nxt = 0
    while nxt < count:
        msg = sub.recv_view(timeout=T)
        assert msg is not None, f"no frame after {nxt}"
        n = msg.width * msg.height
        if msg.data.shape != (n, 3) or not np.array_equal(msg.data, pixels(msg.seq, n)):
            torn += 1
        gaps += msg.seq - nxt
        nxt = msg.seq + 1
        del msg
    return torn, gaps


def test_growing_while_python_reads_loses_and_tears_nothing(chan, spawn, peer):
    count = 3000
    # 4 grows (16 -> 4096 pixels); a ring of 1024 frames and a frame every
    # 100 us keep the Python reader from being lapped.
    rust = spawn.program([peer, "vgrow", chan, count, 4, 1024, 100])
    rust.expect("ready", T)
    with Subscriber(chan, msg_type=FRAME) as sub:
        rust.say("go")
        assert check_frames(sub, count) == (0, 0)
        assert rust.expect("sent", T) == f"sent {count} generation 4"
        assert sub.layout()["tail"]["max_len"] == 16 * 4 ** 4
        assert sub.layout()["tail"]["generation"] == 4
        assert sub.stats()["drop_count"] == 0
    rust.say("end")


def test_growing_from_python_while_rust_reads(chan, spawn, peer):
    count = 2000
    # A ring of 1024 frames (at each growth) keeps the Rust reader, a debug
    # build that checks every pixel, from being lapped.
    with Publisher(chan, msg_type=FRAME, max_len=16, num_slots=1024) as pub:
        rust = spawn.program([peer, "vfollow", chan, count])
        rust.expect("ready", T)
        for seq in range(count):
            if seq and seq % 400 == 0:
                pub.grow(pub.max_len * 4)
            width = pub.max_len // 8
            rows = seq % 7 + 1
            with pub.loan(width * rows) as loan:
                loan["seq"], loan["width"], loan["height"] = seq, width, rows
                loan["data"] = pixels(seq, width * rows)
                loan.send()
            if seq % 64 == 0:
                time.sleep(0.002)
        assert (pub.generation, pub.max_len) == (4, 16 * 4 ** 4)
        assert pub.stats()["msg_count"] == count
        assert rust.expect("got", T) == f"got {count} missed 0 torn 0 gaps 0 generation 4"


def test_a_generation_never_seen_counts_as_dropped(chan):
    """Two grows before the subscriber looks: the middle generation's
    messages cannot be reached, and ``drop_count`` says how many."""
    with Publisher(chan, msg_type=FRAME, max_len=4) as pub, \
            Subscriber(chan, msg_type=FRAME) as sub:
        def send(seq: int) -> None:
            pub.send(FRAME(seq=seq, width=1, height=1, data=pixels(seq, 1)))

        send(0)
        pub.grow(8)
        send(1)
        send(2)
        pub.grow(16)
        send(3)
        got = [sub.recv(timeout=5.0).seq for _ in range(2)]
        assert got == [0, 3]
        assert sub.stats()["drop_count"] == 2
        assert sub.recv(timeout=0) is None


def test_a_frame_longer_than_the_maximum_is_a_typed_error(chan, make_chan):
    with Publisher(chan, msg_type=msgs.VarImage, max_len=100) as pub:
        too_long = msgs.VarImage(width=101, data=np.zeros(101, np.uint8))
        with pytest.raises(shm_comm.SHMMessageTooLongError, match="101 elements.*maximum of 100"):
            pub.send(too_long)
        with pytest.raises(shm_comm.SHMMessageTooLargeError):  # its base class
            pub.loan(101)
        assert pub.stats()["msg_count"] == 0
        pub.send(msgs.VarImage(width=100, data=np.zeros(100, np.uint8)))  # the maximum fits
        assert pub.stats()["msg_count"] == 1
    # auto_grow: a longer message grows the topic instead
    with Publisher(make_chan(), msg_type=msgs.VarImage, max_len=4, auto_grow=True) as pub:
        pub.send(msgs.VarImage(data=np.zeros(5, np.uint8)))
        assert (pub.max_len, pub.generation) == (8, 1)
        with pub.loan(100) as loan:
            loan.send()
        assert (pub.max_len, pub.generation, pub.stats()["msg_count"]) == (100, 2, 2)


def test_misuse_is_refused_with_clear_errors(make_chan):
    with pytest.raises(shm_comm.SHMConfigError, match="variable-size.*max_len"):
        Publisher(make_chan(), msg_type=msgs.VarImage)
    with pytest.raises(shm_comm.SHMConfigError, match="max_len.*`Imu` has a fixed size"):
        Publisher(make_chan(), msg_type=msgs.Imu, max_len=10)
    with Publisher(make_chan(), msg_type=msgs.Imu) as fixed:
        with pytest.raises(TypeError, match="variable-size"):
            fixed.loan(3)
        with pytest.raises(shm_comm.SHMConfigError):
            fixed.grow(10)
        assert fixed.max_len is None
    with Publisher(make_chan(), msg_type=msgs.VarPointCloud, max_len=64) as pub:
        with pytest.raises(TypeError, match="how many elements of `data`"):
            pub.loan()
        with pytest.raises(shm_comm.SHMSerializationError, match="8-byte items"):
            pub.send(msgs.VarPointCloud(data=np.zeros(4, np.float64)))
        with pytest.raises(shm_comm.SHMSerializationError, match="not a buffer"):
            pub.send(msgs.VarPointCloud(data=[1, 2, 3]))


def test_a_subscriber_of_another_element_type_is_refused_by_field(chan, spawn, peer):
    rust = spawn.program([peer, "vframes", chan])
    rust.expect("ready", T)
    with pytest.raises(shm_comm.SHMLayoutError, match=r"tail element: \[u8; 4\] vs \[u8; 3\]"):
        Subscriber(chan, msg_type=typed.message_class(frame_layout(elem=4)))
    with pytest.raises(shm_comm.SHMLayoutError, match="`cols`"):
        Subscriber(chan, msg_type=typed.message_class(frame_layout(width_name="cols")))
    rust.say("end")


def test_rust_refuses_a_python_topic_of_another_element(chan, spawn, peer):
    with Publisher(chan, msg_type=FRAME, max_len=16):
        rust = spawn.program([peer, "vwrong", chan])
        said = rust.expect("error", T)
        assert "tail element: [u8; 4] vs [u8; 3]" in said, said


def test_generated_and_topic_classes_carry_the_tail():
    assert msgs.VarImage.__shm_tail__ == "data"
    img = msgs.VarImage()
    assert img.data.shape == (0,) and img.data.dtype == np.uint8
    assert [f.name for f in dataclasses.fields(FRAME)][-1] == "data"
    assert FRAME().data.shape == (0, 3)
    assert typed.tail_dtype(typed.layout_of(FRAME)) == np.dtype(("u1", (3,)))
    assert typed.tail_name(msgs.Imu) is None


def test_an_asyncio_subscriber_follows_growth(chan):
    import asyncio

    import shm_comm.asyncio as sa

    async def main() -> list[tuple[int, int]]:
        with Publisher(chan, msg_type=msgs.VarImage, max_len=4) as pub, \
                sa.Subscriber(chan, msg_type=msgs.VarImage) as sub:
            async def produce() -> None:
                for i in range(20):
                    if i in (5, 12):
                        pub.grow(pub.max_len * 4)
                    pub.send(msgs.VarImage(width=i, data=np.full(pub.max_len, i, np.uint8)))
                    await asyncio.sleep(0.002)

            task = asyncio.create_task(produce())
            got = []
            for _ in range(20):
                m = await sub.recv(timeout=T)
                assert m is not None and np.all(m.data == m.width)
                got.append((m.width, len(m.data)))
            await task
            assert sub.stats()["drop_count"] == 0
            return got

    got = asyncio.run(main())
    assert got == [(i, 4 if i < 5 else 16 if i < 12 else 64) for i in range(20)]
