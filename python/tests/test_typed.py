"""Typed topics: fixed-layout messages shared with Rust (``#[derive(ShmMessage)]``)
with no generated code on the Python side, zero-copy borrow and loan.

The Rust side is the workspace's test peer (``tests/support/peer.rs``),
which publishes and receives ``Check { seq: u64, stamp_ns: u64, data:
[u64; 30], sum: u64 }`` (``tests/support/lib.rs``), and the
``typed_pubsub`` example (a ``Pose``).
"""

from __future__ import annotations

import copy
import ctypes
import dataclasses
import pickle
import re
import textwrap

import numpy as np
import pytest

import shm_comm
from shm_comm import Publisher, SHMError, SHMLayoutError, Subscriber, typed
from support import (
    CHECK_LAYOUT,
    check_digest,
    check_mix,
    make_check,
    parse_fields,
    verify_check,
)

Check = typed.message_class(CHECK_LAYOUT)

#: `Pose` of examples/typed_pubsub.rs, written by hand.
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

VEC3 = {"name": "Vec3", "size": 24, "align": 8, "fields": [
    {"name": "x", "offset": 0, "kind": "f64"},
    {"name": "y", "offset": 8, "kind": "f64"},
    {"name": "z", "offset": 16, "kind": "f64"},
]}

#: Every kind of field: nested struct, array of structs, FixedString,
#: FixedVec of scalars and of structs, flag, keyword-named field.
SCAN = {"name": "Scan", "size": 240, "align": 8, "fields": [
    {"name": "stamp", "offset": 0, "kind": "u64"},
    {"name": "origin", "offset": 8, "kind": "struct", "layout": VEC3},
    {"name": "frame", "offset": 32, "kind": "string", "capacity": 16},
    {"name": "count", "offset": 52, "kind": "u32"},
    {"name": "ranges", "offset": 56, "kind": "vec", "capacity": 8, "elem": {"kind": "f32"}},
    {"name": "poses", "offset": 96, "kind": "struct", "layout": VEC3, "shape": [2]},
    {"name": "ok", "offset": 144, "kind": "flag"},
    {"name": "pad", "offset": 145, "kind": "u8", "shape": [7]},
    {"name": "points", "offset": 152, "kind": "vec", "capacity": 3,
     "elem": {"kind": "struct", "layout": VEC3}},
    {"name": "class", "offset": 232, "kind": "i16", "shape": [2, 2]},
]}


@pytest.fixture
def peer(rust_bin):
    return rust_bin("shm-comm-test-peer")


# ---------------------------------------------------------------------------
# Rust -> Python
# ---------------------------------------------------------------------------


def test_rust_typed_topic_arrives_as_dataclasses(chan, spawn, peer):
    rust = spawn.program([peer, "pub", chan, 50, 64, 0])
    rust.expect("ready")
    with Subscriber(chan) as sub:  # no msg_type: the layout comes from the topic
        cls = sub.msg_type
        assert dataclasses.is_dataclass(cls) and cls.__name__ == "Check"
        assert [f.name for f in dataclasses.fields(cls)] == ["seq", "stamp_ns", "data", "sum"]
        rust.say("go")
        msgs = [sub.recv(timeout=5.0) for _ in range(50)]
        rust.expect("sent 50")
    rust.say("exit")
    assert rust.wait() == 0
    assert [m.seq for m in msgs] == list(range(50))
    for m in msgs:
        assert isinstance(m, cls)
        assert isinstance(m.seq, int) and isinstance(m.sum, int)
        assert isinstance(m.data, np.ndarray) and m.data.dtype == np.uint64 and m.data.shape == (30,)
        assert verify_check(m), m
    assert msgs[-1].stamp_ns >= msgs[0].stamp_ns > 0


def test_rust_layout_hash_matches_a_hand_written_layout(chan, spawn, peer):
    rust = spawn.program([peer, "pub", chan, 1, 64, 0])
    rust.expect("ready")
    with Subscriber(chan) as sub:
        theirs = sub.layout()
    rust.kill()
    assert theirs["name"] == "Check" and theirs["size"] == 264 and theirs["align"] == 8
    assert typed.layout_hash(CHECK_LAYOUT) == theirs["hash"]
    assert typed.first_difference(CHECK_LAYOUT, theirs) is None
    assert [(f["name"], f["offset"], f["kind"], f["shape"]) for f in theirs["fields"]] == [
        ("seq", 0, "u64", []), ("stamp_ns", 8, "u64", []), ("data", 16, "u64", [30]),
        ("sum", 256, "u64", []),
    ]


def test_subscriber_with_our_class_checks_the_layout(chan, spawn, peer):
    rust = spawn.program([peer, "pub", chan, 3, 64, 0])
    rust.expect("ready")
    with Subscriber(chan, msg_type=Check) as sub:
        assert sub.msg_type is Check
        rust.say("go")
        got = [sub.recv(5.0) for _ in range(3)]
    assert all(type(m) is Check for m in got)
    assert [m.seq for m in got] == [0, 1, 2]
    rust.say("exit")


@pytest.mark.parametrize("change,field", [
    (lambda L: L["fields"][3].update(name="checksum"), "sum"),
    (lambda L: L["fields"][1].update(kind="i64"), "stamp_ns"),
    (lambda L: L["fields"][2].update(shape=[29]) or L.update(size=256)
        or L["fields"][3].update(offset=248), "data"),
], ids=["renamed", "retyped", "resized"])
def test_subscriber_with_another_layout_raises_layout_error_naming_the_field(
        change, field, chan, spawn, peer):
    other = copy.deepcopy(CHECK_LAYOUT)
    change(other)
    Other = typed.message_class(other)
    rust = spawn.program([peer, "pub", chan, 1, 64, 0])
    rust.expect("ready")
    with pytest.raises(SHMLayoutError) as info:
        Subscriber(chan, msg_type=Other)
    msg = str(info.value)
    print(msg)
    assert f"`{field}`" in msg
    assert "Check" in msg
    assert isinstance(info.value, shm_comm.SHMConnectionError) and isinstance(info.value, TypeError)
    rust.kill()


def test_rust_flood_is_never_torn_for_python(chan, spawn, peer):
    """A Rust publisher floods a 16-slot ring; every Check Python receives,
    copied or borrowed, verifies."""
    rust = spawn.program([peer, "flood", chan, 0.5, 16])
    rust.expect("ready")
    ok = bad = borrowed = 0
    last = -1
    with Subscriber(chan) as sub:
        rust.say("go")
        i = 0
        while True:
            i += 1
            if i % 2:
                m = sub.recv(timeout=0.3)
            else:
                s = sub.borrow(timeout=0.3)
                m = None if s is None else typed.view(s, sub.msg_type)
                borrowed += s is not None
            if m is None:
                break
            if verify_check(m) and m.seq > last:
                ok += 1
            else:
                bad += 1
            last = int(m.seq)
            del m
        missed = sub.stats()["drop_count"]
    sent = int(rust.expect("sent").split()[1])
    rust.say("exit")
    print(f"rust sent {sent}, python verified {ok} ({borrowed} borrowed), missed {missed}")
    assert bad == 0
    assert ok > 100
    assert ok + missed == sent


# ---------------------------------------------------------------------------
# Python -> Rust
# ---------------------------------------------------------------------------


def test_python_typed_publisher_to_rust_subscriber(chan, spawn, peer):
    with Publisher(chan, msg_type=Check, num_slots=256) as pub:
        rust = spawn.program([peer, "sub", chan, 100])
        rust.expect("ready")
        for seq in range(100):
            pub.send(Check(**make_check(seq)))
        line = rust.expect("got")
    f = parse_fields(line)
    assert f["got"] == "100" and f["missed"] == "0" and f["corrupt"] == "0", line
    assert int(f["digest"]) == check_digest(range(100))
    assert rust.wait() == 0


def test_python_loans_to_rust_subscriber(chan, spawn, peer):
    """Zero-copy publish: fill the slot in place with numpy, then send."""
    with Publisher(chan, msg_type=Check, num_slots=64) as pub:
        rust = spawn.program([peer, "sub", chan, 20])
        rust.expect("ready")
        for seq in range(20):
            loan = pub.loan()
            rec = typed.writable(loan, Check)
            c = make_check(seq)
            rec["seq"] = c["seq"]
            rec["stamp_ns"] = c["stamp_ns"]
            rec["data"][:] = np.array(c["data"], dtype=np.uint64)
            rec["sum"] = c["sum"]
            del rec
            assert loan.send() is True
        line = rust.expect("got")
    f = parse_fields(line)
    assert f["got"] == "20" and f["corrupt"] == "0", line
    assert int(f["digest"]) == check_digest(range(20))


def test_python_dict_and_packed_bytes_publish_to_rust(chan, spawn, peer):
    with Publisher(chan, msg_type=Check) as pub:
        rust = spawn.program([peer, "sub", chan, 2])
        rust.expect("ready")
        pub.send(make_check(0))  # a dict works as well as the dataclass
        pub.send_bytes(typed.encode(CHECK_LAYOUT, make_check(1)))
        f = parse_fields(rust.expect("got"))
    assert f["got"] == "2" and f["corrupt"] == "0"


def test_python_layout_hash_equals_the_hash_rust_reports(chan, spawn, rust_bin):
    """examples/typed_pubsub prints its layout with the hash; the hand-written
    Python layout of Pose must hash the same."""
    example = rust_bin("typed_pubsub", kind="example")
    rust = spawn.program([example, "publisher", "--topic", chan, "--count", "20", "--rate", "200"])
    header = rust.expect("pub |   Pose")
    m = re.search(r"hash (0x[0-9a-f]+)", header)
    assert m, header
    assert typed.layout_hash(POSE_LAYOUT) == int(m.group(1), 16)
    with Subscriber(chan, msg_type=typed.message_class(POSE_LAYOUT), last_value=True) as sub:
        pose = sub.recv(timeout=5.0)
    assert pose.frame_id == "map" and pose.valid is True
    assert pose.position.shape == (3,) and pose.orientation.shape == (4,)
    assert abs(np.linalg.norm(pose.orientation) - 1.0) < 1e-9
    assert abs(np.hypot(pose.position[0], pose.position[1]) - 2.0) < 1e-9
    rust.kill()


# ---------------------------------------------------------------------------
# Python <-> Python typed topics
# ---------------------------------------------------------------------------


def test_python_typed_round_trip(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        assert pub.msg_type is Check
        assert sub.layout()["hash"] == typed.layout_hash(CHECK_LAYOUT)
        assert sub.msg_type is Check  # the class is cached by layout
        pub.send(Check(**make_check(7, stamp_ns=123)))
        got = sub.recv(1.0)
        assert verify_check(got) and got.seq == 7 and got.stamp_ns == 123
        # Fields left None are zero.
        pub.send(Check(seq=3))
        got = sub.recv(1.0)
        assert got.seq == 3 and got.sum == 0 and not got.data.any()
        # The raw frame is the packed struct.
        pub.send(Check(seq=1))
        codec, raw = sub.recv_frame_bytes(1.0)
        assert codec == "typed" and len(raw) == 264 and raw[:8] == (1).to_bytes(8, "little")


def test_typed_topic_rejects_frames_of_the_wrong_size(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        for n in (0, 10, 263, 265):
            with pytest.raises(SHMError):
                pub.send_bytes(b"x" * n)
        assert sub.recv(0) is None
        assert pub.stats()["slot_size"] == 264


def test_typed_subscriber_on_a_dynamic_topic_raises(chan):
    with Publisher(chan):
        with pytest.raises(SHMLayoutError, match="dynamic"):
            Subscriber(chan, msg_type=Check)


def test_dynamic_subscriber_may_read_raw_typed_frames(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        pub.send(make_check(5))
        raw = sub.recv_bytes(1.0)
        rec = np.frombuffer(raw, dtype=Check.__shm_dtype__)[0]
        assert rec["seq"] == 5 and verify_check({k: rec[k] for k in ("seq", "stamp_ns", "data", "sum")})


def test_dtype_of_matches_the_layout():
    dt = typed.dtype_of(CHECK_LAYOUT)
    assert dt.itemsize == 264
    assert dt.fields["seq"][1] == 0 and dt.fields["data"][1] == 16 and dt.fields["sum"][1] == 256
    assert dt.fields["data"][0].shape == (30,)
    assert Check.__shm_dtype__ == dt
    sdt = typed.dtype_of(SCAN)
    assert sdt.itemsize == 240
    for f in SCAN["fields"]:
        assert sdt.fields[f["name"]][1] == f["offset"]


# ---------------------------------------------------------------------------
# Borrow: zero-copy receive
# ---------------------------------------------------------------------------


def test_borrow_returns_a_read_only_sample(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        pub.send(make_check(1))
        sample = sub.borrow(timeout=1.0)
        assert isinstance(sample, shm_comm.Sample)
        assert len(sample) == 264 and sample.codec == "typed"
        arr = np.frombuffer(sample, dtype=Check.__shm_dtype__)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr["seq"] = 5
        with pytest.raises(ValueError):
            np.frombuffer(sample, dtype=np.uint8).setflags(write=True)
        mv = memoryview(sample)
        assert mv.readonly
        with pytest.raises(TypeError):
            mv[0:1] = b"x"
        mv.release()
        with pytest.raises((BufferError, TypeError)):
            (ctypes.c_char * 264).from_buffer(sample)  # asks for a writable buffer
        assert arr["seq"][0] == 1
        assert sample.tobytes() == bytes(memoryview(sample))
        del arr
        sample.release()


def test_a_borrowed_slot_stays_pinned_while_viewed(chan):
    """Publish more than num_slots messages while holding a view: the viewed
    data must not change (the publisher writes around the pinned slot)."""
    with Publisher(chan, msg_type=Check, num_slots=4) as pub, Subscriber(chan) as sub:
        pub.send(make_check(0, stamp_ns=1))
        sample = sub.borrow(timeout=1.0)
        view = np.frombuffer(sample, dtype=Check.__shm_dtype__)[0]
        before = bytes(memoryview(sample))
        del sample  # the numpy view alone keeps it pinned
        for seq in range(1, 50):
            pub.send(make_check(seq, stamp_ns=1))
        assert int(view["seq"]) == 0
        assert view.tobytes() == before
        assert verify_check({k: view[k] for k in ("seq", "stamp_ns", "data", "sum")})
        # The subscriber meanwhile reads on, past the pinned slot.
        newest = []
        while (m := sub.recv(0)) is not None:
            newest.append(m.seq)
        assert newest == list(range(46, 50))


def test_release_raises_while_views_exist(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send_bytes(b"abcdef")
        sample = sub.borrow(1.0)
        view = memoryview(sample)
        arr = np.frombuffer(sample, dtype=np.uint8)
        with pytest.raises(BufferError):
            sample.release()
        view.release()
        with pytest.raises(BufferError):
            sample.release()  # the numpy array still views it
        assert bytes(arr) == b"abcdef"
        del arr
        sample.release()
        sample.release()  # idempotent
        assert len(sample) == 0
        with pytest.raises(BufferError):
            memoryview(sample)
        with pytest.raises(SHMError):
            sample.tobytes()


def test_sample_as_context_manager(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send_bytes(b"xyz")
        with sub.borrow(1.0) as sample:
            assert bytes(memoryview(sample)) == b"xyz"
        with pytest.raises(BufferError):
            memoryview(sample)


def test_sample_outlives_its_subscriber_and_publisher(chan):
    """A view keeps its mapping: closing both ends does not invalidate it."""
    pub = Publisher(chan)
    sub = Subscriber(chan)
    pub.send_bytes(b"persistent")
    sample = sub.borrow(1.0)
    arr = np.frombuffer(sample, dtype=np.uint8)
    sub.close()
    pub.close()
    assert bytes(arr) == b"persistent"
    del arr
    sample.release()


def test_borrow_limit(chan):
    with Publisher(chan, num_slots=16) as pub, Subscriber(chan, max_borrows=2) as sub:
        for i in range(4):
            pub.send_bytes(bytes([i]))
        a = sub.borrow(1.0)
        b = sub.borrow(1.0)
        with pytest.raises(SHMError):
            sub.borrow(0)
        a.release()
        c = sub.borrow(0)
        assert c is not None and c.tobytes() == b"\x02"
        b.release()
        c.release()


def test_typed_view_is_zero_copy(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        pub.send(make_check(9))
        sample = sub.borrow(1.0)
        msg = typed.view(sample, Check)
        assert type(msg) is Check and msg.seq == 9 and verify_check(msg)
        assert isinstance(msg.data, np.ndarray) and not msg.data.flags.writeable
        assert not msg.data.flags.owndata  # a view into the slot
        with pytest.raises(BufferError):
            sample.release()
        del msg
        sample.release()
        # recv_view does borrow + view in one call.
        pub.send(make_check(10))
        msg = sub.recv_view(timeout=1.0)
        assert msg.seq == 10 and not msg.data.flags.writeable
        assert sub.recv_view(timeout=0) is None


def test_recv_view_needs_a_typed_topic(chan):
    with Publisher(chan), Subscriber(chan) as sub:
        with pytest.raises(SHMError):
            sub.recv_view(0)


def test_borrow_of_a_dynamic_frame(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send({"a": 1})
        s = sub.borrow(1.0)
        assert s.codec == "pickle"
        assert pickle.loads(s.tobytes()) == {"a": 1}
        s.release()


# ---------------------------------------------------------------------------
# Loan: zero-copy publish
# ---------------------------------------------------------------------------


def test_loan_fill_and_send(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        assert isinstance(loan, shm_comm.Loan) and len(loan) == 264
        rec = typed.writable(loan, Check)
        rec["seq"] = 77
        rec["data"][:] = np.arange(30, dtype=np.uint64)
        del rec
        assert loan.send() is True
        got = sub.recv(1.0)
        assert got.seq == 77 and list(got.data) == list(range(30))
        with pytest.raises(SHMError):
            loan.send()  # once only
        with pytest.raises(BufferError):
            memoryview(loan)


def test_loan_through_numpy_frombuffer_is_writable(chan):
    with Publisher(chan, slot_size=64) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        assert len(loan) == 64
        arr = np.frombuffer(loan, dtype=np.float64, count=8)
        assert arr.flags.writeable
        arr[:] = np.linspace(0, 1, 8)
        del arr
        loan.send(8 * 8)
        codec, raw = sub.recv_frame_bytes(1.0)
        assert codec == "raw"
        np.testing.assert_array_equal(np.frombuffer(raw), np.linspace(0, 1, 8))
        loan = pub.loan()
        memoryview(loan)[:3] = b"abc"
        loan.send(3)  # a prefix of the slot
        assert sub.recv_bytes(1.0) == b"abc"


def test_loan_dropped_unsent_publishes_nothing(chan):
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        typed.writable(loan, Check)["seq"] = 5
        del loan
        assert sub.recv(0) is None and pub.stats()["msg_count"] == 0
        with pub.loan() as loan:
            typed.writable(loan, Check)["seq"] = 6
        assert sub.recv(0) is None
        loan = pub.loan()
        loan.discard()
        loan.discard()
        with pytest.raises(SHMError):
            loan.send()
        assert sub.recv(0) is None and pub.stats()["msg_count"] == 0
        # The publisher is usable again.
        pub.send(Check(seq=8))
        assert sub.recv(1.0).seq == 8


def test_one_open_loan_at_a_time(chan):
    with Publisher(chan) as pub:
        loan = pub.loan()
        with pytest.raises(SHMError):
            pub.loan()
        with pytest.raises(SHMError):
            pub.send("while a loan is open")
        loan.discard()
        assert pub.send("now fine")


def test_loan_send_larger_than_the_slot_raises(chan):
    with Publisher(chan, slot_size=16) as pub:
        loan = pub.loan()
        with pytest.raises(shm_comm.SHMMessageTooLargeError):
            loan.send(17)


LOAN_AFTER_CLOSE = """
    import sys, numpy as np, shm_comm
    name, case = sys.argv[1], sys.argv[2]
    pub = shm_comm.Publisher(name)
    loan = pub.loan()
    if case == "view-then-close":
        arr = np.frombuffer(loan, dtype=np.uint8)
        try:
            pub.close()
        except BufferError as e:
            print("refused", e, flush=True)
        arr[:] = 7                      # must not touch unmapped memory
        print("wrote", int(arr.sum()), flush=True)
    else:
        pub.close()
        try:
            arr = np.frombuffer(loan, dtype=np.uint8)
        except (BufferError, shm_comm.SHMError) as e:
            print("refused", e, flush=True)
        else:
            print("read", int(arr.sum()), flush=True)
    print("ok", flush=True)
"""


@pytest.mark.parametrize("case", ["view-then-close", "close-then-view"])
def test_loan_view_never_outlives_the_mapping(case, chan, spawn):
    """BUG (open): ``Publisher.close()`` unmaps the topic while a loan (and a
    numpy view of it) is alive, and ``Loan.__getbuffer__`` hands out a view
    after the close: touching the view then segfaults. Run in a child so a
    crash fails this test instead of killing pytest. Expected: ``close()``
    raises ``BufferError`` while loan views exist (as ``mmap.close()`` does)
    or keeps the mapping alive, and a closed publisher's loan refuses to
    export a buffer."""
    child = spawn(LOAN_AFTER_CLOSE, chan, case)
    rc = child.wait(20)
    assert rc == 0, f"child died with {rc} (-11 = SIGSEGV): {child.output} {child.stderr}"
    assert child.output[-1] == "ok"


# ---------------------------------------------------------------------------
# Nested structs, FixedString, FixedVec
# ---------------------------------------------------------------------------


def _scan_sample():
    S, V = typed.message_class(SCAN), typed.message_class(VEC3)
    return S, V, S(
        stamp=5, origin=V(1.0, 2.0, 3.0), frame="lidar/ü", count=3,
        ranges=np.array([1.5, 2.5, 3.5], dtype=np.float32), poses=[V(1, 1, 1), V(2, 2, 2)],
        ok=True, pad=None, points=[V(0, 0, 1), V(0, 1, 0)],
        class_=np.array([[1, -2], [3, -4]], dtype=np.int16),
    )


def test_nested_string_and_vec_round_trip_through_encode_decode():
    S, V, msg = _scan_sample()
    layout = typed.layout_of(S)
    raw = typed.encode(layout, msg)
    assert isinstance(raw, bytes) and len(raw) == 240
    out = typed.decode(layout, raw)
    assert type(out) is S
    assert out.stamp == 5 and out.count == 3 and out.ok is True
    assert out.origin == V(1.0, 2.0, 3.0) and type(out.origin) is V
    assert out.frame == "lidar/ü"
    assert out.ranges.dtype == np.float32 and out.ranges.tolist() == [1.5, 2.5, 3.5]
    assert out.poses == [V(1.0, 1.0, 1.0), V(2.0, 2.0, 2.0)]
    assert out.points == [V(0.0, 0.0, 1.0), V(0.0, 1.0, 0.0)]
    assert out.class_.tolist() == [[1, -2], [3, -4]]
    # Bytes of the FixedString: u32 length then UTF-8.
    assert int.from_bytes(raw[32:36], "little") == len("lidar/ü".encode())
    assert raw[36:36 + 8] == "lidar/ü".encode()
    # FixedVec: u32 len, 4 reserved bytes, items.
    assert int.from_bytes(raw[56:60], "little") == 3
    assert np.frombuffer(raw[64:76], dtype=np.float32).tolist() == [1.5, 2.5, 3.5]


def test_nested_types_round_trip_through_a_topic(chan):
    S, V, msg = _scan_sample()
    with Publisher(chan, msg_type=S) as pub, Subscriber(chan) as sub:
        assert sub.layout()["hash"] == typed.layout_hash(SCAN)
        pub.send(msg)
        out = sub.recv(1.0)
        assert out.frame == "lidar/ü" and out.points[1] == V(0.0, 1.0, 0.0)
        pub.send({"frame": "", "ranges": []})
        out = sub.recv(1.0)
        assert out.frame == "" and out.ranges.size == 0 and out.points == []


def test_fixed_capacity_overflow_raises_too_large():
    S, _, _ = _scan_sample()
    layout = typed.layout_of(S)
    with pytest.raises(shm_comm.SHMMessageTooLargeError, match="frame"):
        typed.encode(layout, {"frame": "x" * 17})
    with pytest.raises(shm_comm.SHMMessageTooLargeError, match="frame"):
        typed.encode(layout, {"frame": "é" * 9})  # 18 UTF-8 bytes
    typed.encode(layout, {"frame": "x" * 16})
    with pytest.raises(shm_comm.SHMMessageTooLargeError, match="ranges"):
        typed.encode(layout, {"ranges": np.zeros(9)})


def test_decode_clamps_a_corrupt_length():
    """A FixedString/FixedVec length beyond capacity (a hostile or corrupt
    frame) is clamped to the capacity, never read past the field."""
    S, _, msg = _scan_sample()
    layout = typed.layout_of(S)
    raw = bytearray(typed.encode(layout, msg))
    raw[32:36] = (10**6).to_bytes(4, "little")
    raw[56:60] = (10**6).to_bytes(4, "little")
    out = typed.decode(layout, bytes(raw))
    assert len(out.frame.encode()) <= 16
    assert out.ranges.size == 8


def test_keyword_field_names_get_a_trailing_underscore():
    S, _, _ = _scan_sample()
    assert "class_" in [f.name for f in dataclasses.fields(S)]


def test_message_class_is_cached_and_validated():
    assert typed.message_class(CHECK_LAYOUT) is Check
    assert typed.layout_of(Check)["hash"] == typed.layout_hash(CHECK_LAYOUT)
    with pytest.raises(TypeError):
        typed.layout_of(int)
    for bad in (dict(CHECK_LAYOUT, size=10),
                dict(VEC3, fields=[{"name": "x", "offset": 4, "kind": "f64"}]),
                dict(VEC3, fields=[{"name": "x", "offset": 0, "kind": "c128"}]),
                {"name": "NoFields"}):
        with pytest.raises(ValueError):
            typed.message_class(bad)


def test_flag_fields_decode_any_nonzero_byte_as_true():
    F = {"name": "F", "size": 4, "align": 1, "fields": [
        {"name": "a", "offset": 0, "kind": "flag"}, {"name": "b", "offset": 1, "kind": "flag"},
        {"name": "c", "offset": 2, "kind": "flag", "shape": [2]}]}
    out = typed.decode(F, bytes([0, 7, 1, 0]))
    assert out.a is False and out.b is True and out.c.tolist() == [True, False]


def test_typed_send_of_an_unrelated_object(chan):
    """``send`` of something that is neither the message class nor a dict.

    The message would be all zeros; refusing it is better."""
    with Publisher(chan, msg_type=Check) as pub, Subscriber(chan) as sub:
        with pytest.raises((SHMError, TypeError)):
            pub.send("not a Check")
        with pytest.raises((SHMError, TypeError)):
            pub.send(42)
        assert sub.recv(0) is None


def test_layout_from_rust_needs_no_code_in_a_fresh_process(chan, spawn, peer):
    """A separate Python program opens the Rust topic knowing only its name."""
    rust = spawn.program([peer, "pub", chan, 5, 64, 10_000])
    rust.expect("ready")
    py = spawn(textwrap.dedent("""
        import sys, shm_comm
        with shm_comm.Subscriber(sys.argv[1]) as sub:
            print("ready", sub.msg_type.__name__, flush=True)
            for _ in range(5):
                m = sub.recv(timeout=10)
                print("msg", m.seq, m.data[0], flush=True)
    """), chan)
    assert py.expect("ready") == "ready Check"
    rust.say("go")
    lines = [py.expect("msg") for _ in range(5)]
    assert lines == [f"msg {s} {check_mix(s, 0)}" for s in range(5)]
    rust.say("exit")
    assert py.wait() == 0


# ---------------------------------------------------------------------------
# Fields by name on samples and loans
# ---------------------------------------------------------------------------

#: One plain field of every scalar kind, then arrays and nested kinds.
ALL_SCALARS = {"name": "AllScalars", "size": 64, "align": 8, "fields": [
    {"name": "u64", "offset": 0, "kind": "u64"},
    {"name": "i64", "offset": 8, "kind": "i64"},
    {"name": "f64", "offset": 16, "kind": "f64"},
    {"name": "u32", "offset": 24, "kind": "u32"},
    {"name": "i32", "offset": 28, "kind": "i32"},
    {"name": "f32", "offset": 32, "kind": "f32"},
    {"name": "u16", "offset": 36, "kind": "u16"},
    {"name": "i16", "offset": 38, "kind": "i16"},
    {"name": "u8", "offset": 40, "kind": "u8"},
    {"name": "i8", "offset": 41, "kind": "i8"},
    {"name": "flag", "offset": 42, "kind": "flag"},
    {"name": "pad", "offset": 43, "kind": "u8", "shape": [5]},
    {"name": "grid", "offset": 48, "kind": "i16", "shape": [2, 4]},
]}

EXTREMES = {"u64": 2**64 - 1, "i64": -2**63, "f64": -1.5e300, "u32": 2**32 - 1,
            "i32": -2**31, "f32": 0.25, "u16": 65535, "i16": -32768, "u8": 255,
            "i8": -128, "flag": True}


def test_loan_and_sample_fields_by_name_round_trip_every_scalar_kind(chan):
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        for name, value in EXTREMES.items():
            loan[name] = value
            assert loan[name] == value and type(loan[name]) is type(value)
        loan["grid"] = [[1, 2, 3, 4], [-5, -6, -7, -8]]
        assert loan["grid"].flags.writeable
        loan["grid"][1, 3] = 9
        loan.send()
        sample = sub.borrow(1.0)
        for name, value in EXTREMES.items():
            assert sample[name] == value and type(sample[name]) is type(value), name
        grid = sample["grid"]
        assert grid.shape == (2, 4) and not grid.flags.writeable
        assert grid.tolist() == [[1, 2, 3, 4], [-5, -6, -7, 9]]
        # The copying path agrees with the in-place one.
        pub.send(cls(**EXTREMES, pad=np.zeros(5, np.uint8), grid=np.zeros((2, 4), np.int16)))
        got = sub.recv(1.0)
        assert all(getattr(got, k) == v for k, v in EXTREMES.items())


def test_field_errors_are_clear_and_typed(chan):
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        with pytest.raises(KeyError, match="nope"):
            loan["nope"] = 1
        with pytest.raises(OverflowError, match="`u8`"):
            loan["u8"] = 256
        with pytest.raises(OverflowError, match="`u64`"):
            loan["u64"] = -1
        with pytest.raises(TypeError, match="`i32`"):
            loan["i32"] = "seven"
        with pytest.raises(TypeError, match="`f64`"):
            loan["f64"] = None
        loan["u8"] = 7
        loan.send()
        with pytest.raises(SHMError, match="already sent"):
            loan["u8"]
        with pytest.raises(SHMError, match="already sent"):
            loan["u8"] = 1
        sample = sub.borrow(1.0)
        assert sample["u8"] == 7
        with pytest.raises(KeyError):
            sample["nope"]
        with pytest.raises(TypeError):
            sample["u8"] = 1  # read-only
        sample.release()
        with pytest.raises(SHMError, match="released"):
            sample["u8"]
    with Publisher(chan + "d", slot_size=64) as pub, Subscriber(chan + "d") as sub:
        with pytest.raises(TypeError, match="typed topic"):
            pub.loan()["x"] = 1
        pub.send_bytes(b"x")
        with pytest.raises(TypeError, match="typed topic"):
            sub.borrow(1.0)["x"]


def test_nested_fields_by_name_are_views(chan):
    cls = typed.message_class(SCAN)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        loan["stamp"] = 5
        loan["origin"] = {"x": 1.0, "y": 2.0, "z": 3.0}
        loan["frame"] = "map"
        loan["ranges"] = [0.5, 1.5]
        loan["ok"] = 1
        loan.send()
        s = sub.borrow(1.0)
        assert s["stamp"] == 5 and s["ok"] is True
        assert (s["origin"].x, s["origin"].z) == (1.0, 3.0)
        assert s["frame"] == "map"
        assert s["ranges"].tolist() == [0.5, 1.5]
        assert s["class"].shape == (2, 2)


def test_a_typed_loan_sends_whole_messages_only(chan):
    """A typed topic carries whole messages: a loan sent short is refused
    (and given back unpublished), so field access never meets a short frame."""
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        loan["u64"] = 11
        with pytest.raises(SHMError, match="8 bytes"):
            loan.send(8)
        assert sub.borrow(0) is None
        loan = pub.loan()
        loan["u64"] = 12
        assert loan.send() is True
        assert sub.borrow(1.0)["u64"] == 12


def test_rust_sample_fields_by_name(chan, spawn, peer):
    """A Rust publisher's `Check` read in place by field name, with no
    generated code: the values verify as the dataclass path's do."""
    rust = spawn.program([peer, "pub", chan, 50, 64, 0])
    rust.expect("ready")
    with Subscriber(chan) as sub:
        rust.say("go")
        rust.expect("sent 50")
        for seq in range(50):
            s = sub.borrow(5.0)
            assert s is not None and s["seq"] == seq
            fields = {k: s[k] for k in ("seq", "stamp_ns", "data", "sum")}
            assert isinstance(fields["data"], np.ndarray) and fields["data"].shape == (30,)
            assert verify_check(fields), fields
            del s, fields
    rust.say("exit")
    assert rust.wait() == 0


def test_a_value_whose_conversion_uses_the_loan_does_not_deadlock(chan):
    """Converting the value may run Python code (`__index__`); code that
    discards the loan meanwhile gets an error, never a deadlock."""
    import threading
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub:
        loan = pub.loan()

        class Sneaky:
            def __index__(self):
                loan.discard()
                return 5

        outcome = []

        def run():
            try:
                loan["u64"] = Sneaky()
                outcome.append("stored")
            except SHMError as e:
                outcome.append(str(e))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(10)
        assert not t.is_alive(), "deadlocked"
        assert outcome == ["loan already sent or discarded"]
        assert pub.stats()["msg_count"] == 0


def test_a_loan_is_not_sent_while_a_view_of_it_is_alive(chan):
    """A view kept past `send` could rewrite a message readers hold: `send`
    refuses (BufferError) and the loan stays open until the views are gone."""
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        grid = loan["grid"]
        grid[0, 0] = 42
        with pytest.raises(BufferError, match="views"):
            loan.send()
        assert sub.borrow(0) is None
        del grid
        arr = np.frombuffer(loan, dtype=np.uint8)
        with pytest.raises(BufferError):
            loan.send()
        del arr
        assert loan.send() is True
        assert sub.borrow(1.0)["grid"][0, 0] == 42


def test_a_loan_is_not_discarded_while_a_view_of_it_is_alive(chan):
    """Discarding gives the slot back for the next message: a view kept past
    it would write into that message. `discard` refuses while views live; a
    `with` block leaving with a view alive keeps the loan open (no exception
    of its own) and the slot comes back once the view and the loan are gone."""
    cls = typed.message_class(ALL_SCALARS)
    with Publisher(chan, msg_type=cls) as pub, Subscriber(chan) as sub:
        loan = pub.loan()
        arr = np.frombuffer(loan, dtype=np.uint8)
        with pytest.raises(BufferError, match="views"):
            loan.discard()
        with pytest.raises(shm_comm.SHMError, match="still open"):
            pub.send({"u64": 1})
        del arr
        loan.discard()
        loan.discard()                      # idempotent
        with pytest.raises(shm_comm.SHMError, match="sent or discarded"):
            loan["u64"] = 3
        assert pub.send({"u64": 2}) is True
        assert sub.recv(1.0).u64 == 2

        with pytest.raises(ZeroDivisionError):
            with pub.loan() as loan:
                arr = np.frombuffer(loan, dtype=np.uint8)
                1 / 0
        with pytest.raises(shm_comm.SHMError, match="still open"):
            pub.send({"u64": 3})
        del arr, loan
        assert pub.send({"u64": 4}) is True
        assert sub.recv(1.0).u64 == 4
        assert sub.borrow(0) is None


def test_a_closed_publisher_keeps_an_open_loan_writable(chan):
    """`close()` removes the topic at once, but an open loan's scalar fields
    can still be written, into memory nobody reads; it gives no new view
    (array fields, buffers), and sending it reports the closed publisher."""
    cls = typed.message_class(ALL_SCALARS)
    pub = Publisher(chan, msg_type=cls)
    loan = pub.loan()
    pub.close()
    loan["u64"] = 7
    assert loan["u64"] == 7
    with pytest.raises(BufferError, match="closed"):
        loan["grid"]
    with pytest.raises(shm_comm.SHMError, match="closed"):
        loan.send()
    with pytest.raises(shm_comm.SHMError):
        Subscriber(chan, timeout_connect=0.0)


LOAN_FREED_BY_GC = """
    import gc, sys, shm_comm
    pub = shm_comm.Publisher(sys.argv[1])
    class Holder:
        pass
    h = Holder()
    h.me, h.loan = h, pub.loan()        # the loan lives only in a cycle now
    del h
    gc.set_threshold(1)                 # the next tracked allocation collects
    try:
        pub.send_bytes(b"x")            # the error it builds runs the collection
    except shm_comm.SHMError as e:
        print("refused", type(e).__name__, flush=True)
    gc.collect()
    gc.set_threshold(700)
    print("sent", pub.send_bytes(b"y"), flush=True)
    pub.close()
    print("ok", flush=True)
"""


def test_a_loan_freed_by_the_garbage_collector_inside_a_publisher_call(chan, spawn):
    """A collection can run while the publisher's lock is held (building an
    exception allocates) and free an open loan of that publisher: its drop
    must not wait for the lock this very thread holds (it used to hang), and
    the slot comes back for the next send."""
    child = spawn(LOAN_FREED_BY_GC, chan)
    rc = child.wait(20)
    assert rc == 0, f"child exited with {rc} (None: hung): {child.output} {child.stderr}"
    assert child.output[-2:] == ["sent True", "ok"]
