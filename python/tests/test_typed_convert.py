"""The native converters of typed topics against the Python reference.

``Publisher.send`` and ``Subscriber.recv`` of a typed topic convert between
objects and message bytes with a plan compiled once per layout in the
extension; ``shm_comm.typed.encode`` / ``decode`` are the reference they
must agree with, byte for byte and type for type. Every message of the
standard set (and a layout with every kind of field) goes through both with
random contents; the values the plan leaves to numpy's conversion (floats
in integer fields, lists for arrays, records) must still give what the
reference gives, errors included.
"""

from __future__ import annotations

import dataclasses
import keyword

import numpy as np
import pytest

import shm_comm
from shm_comm import Publisher, Subscriber, msgs, typed

from test_typed import SCAN, VEC3

_SCALAR = {"u8": "u1", "u16": "u2", "u32": "u4", "u64": "u8", "i8": "i1", "i16": "i2",
           "i32": "i4", "i64": "i8", "f32": "f4", "f64": "f8", "flag": "u1"}

#: Every message of the standard set up to 1 MiB (the larger ones are the
#: same kinds of fields with larger capacities), and every kind of field.
STD = sorted((c for c in vars(msgs).values()
              if isinstance(c, type) and hasattr(c, "__shm_layout__")
              and c.__shm_layout__["size"] <= 1 << 20), key=lambda c: c.__name__)
#: Flags alone and in arrays and vectors, and an opaque block.
FLAGS = {"name": "Flags", "size": 20, "align": 4, "fields": [
    {"name": "a", "offset": 0, "kind": "flag"},
    {"name": "grid", "offset": 1, "kind": "flag", "shape": [2, 2]},
    {"name": "blob", "offset": 5, "kind": "opaque", "size": 3, "align": 1},
    {"name": "bits", "offset": 8, "kind": "vec", "capacity": 4, "elem": {"kind": "flag"}},
]}
CLASSES = STD + [typed.message_class(SCAN), typed.message_class(FLAGS)]


def _py(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) else name


def _number(kind: str, rng: np.random.Generator):
    if kind == "flag":
        return bool(rng.integers(0, 2))
    dt = np.dtype(_SCALAR[kind])
    if dt.kind == "f":
        return float(dt.type(rng.normal() * 1e3))
    info = np.iinfo(dt)
    return int(rng.integers(info.min, info.max, endpoint=True, dtype=np.int64 if dt.kind == "i" else np.uint64))


def _numbers(kind: str, shape, rng):
    if kind == "flag":
        return rng.integers(0, 2, size=shape).astype(bool)
    dt = np.dtype(_SCALAR[kind])
    if dt.kind == "f":
        return (rng.normal(size=shape) * 1e3).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)


def _fill(t: dict, rng):
    kind, shape = t["kind"], list(t.get("shape") or [])
    if shape:
        if kind in _SCALAR:
            return _numbers(kind, shape, rng)
        return [_fill(dict(t, shape=shape[1:]), rng) for _ in range(shape[0])]
    if kind in _SCALAR:
        return _number(kind, rng)
    if kind == "struct":
        return _make(t["layout"], rng)
    if kind == "string":
        n = int(rng.integers(0, t["capacity"] // 2 + 1))
        return "".join(rng.choice(list("abcü/_ "), size=n))
    if kind == "vec":
        n = int(rng.integers(0, min(t["capacity"], 64) + 1))
        elem = t["elem"]
        if elem["kind"] in _SCALAR and not elem.get("shape"):
            return _numbers(elem["kind"], [n], rng).astype(_SCALAR[elem["kind"]])
        return [_fill(elem, rng) for _ in range(n)]
    if kind == "opaque":
        return rng.bytes(t["size"])
    raise AssertionError(kind)


def _make(layout: dict, rng):
    cls = typed.message_class(layout)
    return cls(**{_py(f["name"]): _fill(f, rng) for f in layout["fields"]})


def _same(a, b, where="msg"):
    """Same type and value, recursively (arrays: same dtype, shape, values)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: {a} vs {b}"
        assert a.flags.writeable and b.flags.writeable, where
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _trip(chan: str, cls: type, values: list):
    """Each value of `values` sent on a typed topic of `cls`: (bytes seen
    by a raw reader, object received) or the exception of `send`."""
    out = []
    # A variable-size message: room for the random tails of the test.
    max_len = 64 if typed.tail_name(cls) else None
    with Publisher(chan, num_slots=4, msg_type=cls, max_len=max_len) as pub, \
            Subscriber(chan, msg_type=cls) as sub, Subscriber(chan) as raw:
        for v in values:
            try:
                pub.send(v)
            except Exception as e:  # noqa: BLE001 (compared with the reference's)
                out.append(e)
                continue
            out.append((raw.recv_bytes(1.0), sub.recv(1.0)))
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_random_messages_convert_as_the_reference_does(cls, chan):
    rng = np.random.default_rng(sum(map(ord, cls.__name__)))
    layout = typed.layout_of(cls)
    sent = [_make(layout, rng) for _ in range(5)] + [cls()]
    if typed.tail_name(cls):  # elements of random lengths, up to the maximum
        for obj in sent[:5]:
            n = int(rng.integers(0, 65))
            setattr(obj, typed.tail_name(cls), rng.integers(0, 256, n).astype(typed.tail_dtype(layout)))
    for obj, got in zip(sent, _trip(chan, cls, sent)):
        assert not isinstance(got, Exception), got
        data, received = got
        assert data == typed.encode(layout, obj)
        _same(received, typed.decode(layout, data))


def _reference(layout: dict, value):
    try:
        return typed.encode(layout, value)
    except Exception as e:  # noqa: BLE001
        return e


#: Values of `Imu` fields the plan converts itself and ones it leaves to
#: numpy or to `typed.encode`.
IMU_CASES = {
    "float in an integer field": {"header": {"seq": 3.9}},
    "numpy integer": {"header": {"seq": np.int64(7)}},
    "numpy float32 in a float field": {"orientation": {"w": np.float32(0.5)}},
    "negative unsigned": {"header": {"seq": -1}},
    "unsigned too large": {"header": {"seq": 1 << 32}},
    "string for a number": {"orientation": {"x": "1.5"}},
    "list for an array": {"orientation_covariance": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
    "int array for a float array": {"orientation_covariance": np.arange(9)},
    "strided array": {"orientation_covariance": np.arange(18.0)[::2]},
    "scalar broadcast": {"orientation_covariance": 2.0},
    "wrong shape": {"orientation_covariance": np.zeros(8)},
    "string too long": {"header": {"frame_id": "x" * 65}},
    "not a string": {"header": {"frame_id": 42}},
    "unrelated nested object": {"orientation": 42},
    "numpy record": "record",
    "dict of dicts": {"header": {"stamp": {"sec": -5, "nanosec": 7}, "frame_id": "é"},
                      "linear_acceleration": msgs.Vector3(0, 0, 9.81)},
    "another class with the fields": {"angular_velocity": msgs.Point(1, 2, 3)},
}


@pytest.mark.parametrize("case", IMU_CASES, ids=list(IMU_CASES))
def test_values_left_to_numpy_convert_as_the_reference_does(case, chan):
    layout = typed.layout_of(msgs.Imu)
    value = IMU_CASES[case]
    if value == "record":
        value = np.frombuffer(typed.encode(layout, {"header": {"seq": 9}}),
                              dtype=msgs.Imu.__shm_dtype__)[0]
    want = _reference(layout, value)
    (got,) = _trip(chan, msgs.Imu, [value])
    if isinstance(want, Exception):
        assert type(got) is type(want) and str(got) == str(want)
    else:
        assert not isinstance(got, Exception), got
        assert got[0] == want
        _same(got[1], typed.decode(layout, want))


def test_scan_errors_and_fallbacks_match_the_reference(chan):
    S = typed.message_class(SCAN)
    layout = typed.layout_of(S)
    V = typed.message_class(VEC3)
    values = [
        {"frame": "x" * 17}, {"ranges": np.zeros(9, dtype=np.float32)},
        {"ranges": [1.0, 2.0]}, {"ranges": np.zeros(3)}, {"points": [V(1, 2, 3)] * 4},
        {"points": [None]}, {"poses": [V(1, 2, 3)] * 3}, {"poses": ({"x": 1.0},)},
        {"class": np.ones((2, 2), dtype=np.int16)}, {"ok": 5}, {"ok": 256},
        {"pad": [1, 2, 3, 4, 5, 6, 7]}, {"origin": None}, "not a message",
    ]
    for value, got in zip(values, _trip(chan, S, values)):
        want = _reference(layout, value)
        if isinstance(want, Exception):
            assert type(got) is type(want) and str(got) == str(want), value
        else:
            assert not isinstance(got, Exception), (value, got)
            assert got[0] == want, value
            _same(got[1], typed.decode(layout, want))


def test_a_class_with_post_init_is_called(chan):
    """A registered class whose `__init__` does more than store the fields
    gets its objects from `__init__`, as `typed.decode` makes them."""

    @typed.register
    @dataclasses.dataclass
    class Triple:
        x: float = 0.0
        y: float = 0.0
        z: float = 0.0
        __shm_layout__ = dict(VEC3, name="Triple", hash=typed.layout_hash(dict(VEC3, name="Triple")))

        def __post_init__(self):
            self.norm = (self.x ** 2 + self.y ** 2 + self.z ** 2) ** 0.5

    with Publisher(chan, msg_type=Triple) as pub, Subscriber(chan, msg_type=Triple) as sub:
        pub.send(Triple(3.0, 4.0, 0.0))
        got = sub.recv(1.0)
    assert type(got) is Triple and got.norm == 5.0


def test_received_objects_equal_ones_made_by_the_class(chan):
    """The objects made without calling the class are indistinguishable
    from ones its `__init__` makes: equal, same attributes, same repr."""
    m = msgs.PoseStamped()
    m.header.frame_id = "map"
    m.pose.position.x = 1.5
    with Publisher(chan, msg_type=msgs.PoseStamped) as pub, Subscriber(chan) as sub:
        pub.send(m)
        got = sub.recv(1.0)
    assert got == m and repr(got) == repr(m)
    assert vars(got) == vars(m) and vars(got.header) == vars(m.header)
    assert list(vars(got)) == list(vars(m))
    got.header.seq = 3  # an ordinary, mutable object
    assert dataclasses.replace(got, pose=msgs.Pose()).header.seq == 3


def test_a_typed_subscriber_still_returns_frames_of_other_codecs(chan):
    with Publisher(chan, msg_type=msgs.Vector3) as pub, Subscriber(chan) as sub:
        pub.send_bytes(typed.encode(typed.layout_of(msgs.Vector3), {"x": 1.0}))
        assert sub.recv(1.0) == msgs.Vector3(1.0, 0.0, 0.0)
        assert sub.recv(0) is None

