"""The public API of the original pure-Python shm-comm 1.0.0, name for name:
what a program written against it imports, constructs and calls."""

from __future__ import annotations

import os

import importlib.util
import inspect
import math
import threading
import time

import numpy as np
import pytest

import shm_comm
from shm_comm import (
    Puller,
    Publisher,
    Pusher,
    Replier,
    Requester,
    SHMBufferFullError,
    SHMConnectionError,
    SHMError,
    SHMSerializationError,
    SHMTimeoutError,
    Subscriber,
    force_unlink,
    list_segments,
)

ORIGINAL_NAMES = [
    "Publisher", "Subscriber", "Requester", "Replier", "Pusher", "Puller",
    "SHMError", "SHMConnectionError", "SHMTimeoutError", "SHMBufferFullError",
    "SHMSerializationError", "force_unlink", "list_segments",
]


def test_every_original_name_is_importable():
    for name in ORIGINAL_NAMES:
        assert hasattr(shm_comm, name), name
        assert name in shm_comm.__all__, name
    assert isinstance(shm_comm.__version__, str)
    major = int(shm_comm.__version__.split(".")[0])
    assert major >= 1


def test_star_import_gives_the_original_names():
    ns: dict = {}
    exec("from shm_comm import *", ns)
    for name in ORIGINAL_NAMES:
        assert name in ns, name


def test_exception_hierarchy():
    for exc in (SHMConnectionError, SHMTimeoutError, SHMBufferFullError, SHMSerializationError,
                shm_comm.SHMMessageTooLargeError, shm_comm.SHMNameError, shm_comm.SHMConfigError,
                shm_comm.SHMLayoutError):
        assert issubclass(exc, SHMError), exc
    assert issubclass(SHMError, Exception)
    # Extra built-in bases, so that generic handlers keep working.
    assert issubclass(SHMTimeoutError, TimeoutError)
    assert issubclass(SHMConnectionError, ConnectionError)
    assert issubclass(shm_comm.SHMMessageTooLargeError, ValueError)
    assert issubclass(shm_comm.SHMNameError, ValueError)
    assert issubclass(shm_comm.SHMLayoutError, SHMConnectionError)


# ---------------------------------------------------------------------------
# Constructor signatures and defaults
# ---------------------------------------------------------------------------

ORIGINAL_SIGNATURES = {
    Publisher: [("name", inspect.Parameter.empty), ("num_slots", 64), ("slot_size", 4096),
                ("serialization", "pickle")],
    Subscriber: [("name", inspect.Parameter.empty), ("timeout_connect", 5.0),
                 ("serialization", "pickle")],
    Replier: [("name", inspect.Parameter.empty), ("num_slots", 16), ("slot_size", 8192),
              ("serialization", "pickle")],
    Requester: [("name", inspect.Parameter.empty), ("timeout_connect", 5.0),
                ("serialization", "pickle")],
    Pusher: [("name", inspect.Parameter.empty), ("num_slots", 128), ("slot_size", 4096),
             ("serialization", "pickle")],
    Puller: [("name", inspect.Parameter.empty), ("timeout_connect", 5.0),
             ("serialization", "pickle")],
}


@pytest.mark.parametrize("cls", list(ORIGINAL_SIGNATURES), ids=lambda c: c.__name__)
def test_constructor_signature_matches_the_original(cls):
    params = list(inspect.signature(cls).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    want = ORIGINAL_SIGNATURES[cls]
    assert [(p.name, p.default) for p in positional[: len(want)]] == want


def test_publisher_defaults(chan):
    with Publisher(chan) as pub:
        st = pub.stats()
        assert st["num_slots"] == 64
        assert st["slot_size"] == 4096
        assert pub.serialization == "pickle"
        with Subscriber(chan) as sub:
            st = sub.stats()
            assert (st["num_slots"], st["slot_size"]) == (64, 4096)
            assert sub.serialization == "pickle"


def test_publisher_geometry_arguments(chan):
    with Publisher(chan, 8, 100, "msgpack") as pub:
        assert (pub.stats()["num_slots"], pub.stats()["slot_size"]) == (8, 100)
        assert pub.serialization == "msgpack"
    with Publisher(chan, num_slots=3, slot_size=10) as pub:
        assert (pub.stats()["num_slots"], pub.stats()["slot_size"]) == (3, 10)


def test_replier_defaults(chan):
    with Replier(chan) as rep:
        assert rep.stats()["slot_size"] == 8192
        # A request of exactly 8192 bytes fits; one more byte does not.
        with Requester(chan) as req:
            req.send_bytes(b"x" * 8192)
            assert rep.recv_bytes(timeout=2.0) == b"x" * 8192
            with pytest.raises(shm_comm.SHMMessageTooLargeError):
                req.send_bytes(b"x" * 8193)


def test_replier_default_queue_depth_is_16(chan):
    """16 requests can wait unanswered; the 17th waits for room."""
    with Replier(chan) as rep:
        reqs = [Requester(chan) for _ in range(17)]
        try:
            for r in reqs[:16]:
                assert r.send(1)
            assert rep.stats()["pending"] == 16
            timer = threading.Timer(0.3, lambda: rep.recv(timeout=0))
            timer.start()
            t0 = time.monotonic()
            try:
                assert reqs[16].send(2)
            finally:
                timer.join()
            assert time.monotonic() - t0 >= 0.25
            assert rep.stats()["pending"] == 16
        finally:
            for r in reqs:
                r.close()


def test_pusher_defaults(chan):
    with Pusher(chan) as push:
        st = push.stats()
        assert (st["num_slots"], st["slot_size"]) == (128, 4096)
        with Puller(chan) as pull:
            st = pull.stats()
            assert (st["num_slots"], st["slot_size"]) == (128, 4096)
            assert pull.serialization == "pickle"
            # 128 jobs fit without a consumer, the 129th does not.
            for i in range(128):
                assert push.send(i, block=False)
            assert not push.send(128, block=False)


@pytest.mark.parametrize("cls", [Subscriber, Requester, Puller], ids=lambda c: c.__name__)
def test_connect_timeout_default_is_5s(cls):
    assert inspect.signature(cls).parameters["timeout_connect"].default == 5.0


@pytest.mark.parametrize("cls", [Publisher, Replier, Pusher], ids=lambda c: c.__name__)
def test_unknown_serialization_creator(cls, chan):
    with pytest.raises(SHMSerializationError, match="json"):
        cls(chan, serialization="json")
    # Nothing was created.
    assert not [s for s in list_segments() if s.startswith(chan + ".")]


@pytest.mark.parametrize("cls", [Subscriber, Requester, Puller], ids=lambda c: c.__name__)
def test_unknown_serialization_connector(cls, chan):
    # Raised at once, before waiting for the channel.
    with pytest.raises(SHMSerializationError):
        cls(chan, timeout_connect=5.0, serialization="yaml")


# ---------------------------------------------------------------------------
# Life cycle
# ---------------------------------------------------------------------------


def _pairs(chan):
    """(creator, connector) of each pattern."""
    return [
        (lambda: Publisher(chan), lambda: Subscriber(chan, timeout_connect=1.0)),
        (lambda: Replier(chan), lambda: Requester(chan, timeout_connect=1.0)),
        (lambda: Pusher(chan), lambda: Puller(chan, timeout_connect=1.0)),
    ]


@pytest.mark.parametrize("pattern", [0, 1, 2], ids=["pubsub", "reqrep", "pipeline"])
def test_context_managers_and_idempotent_close(pattern, chan):
    make_creator, make_connector = _pairs(chan)[pattern]
    with make_creator() as creator:
        assert not creator.closed
        assert creator.name == chan
        assert chan in repr(creator)
        with make_connector() as connector:
            assert not connector.closed
            assert connector.name == chan
        assert connector.closed
        connector.close()
        connector.close()
    assert creator.closed
    creator.close()
    creator.close()
    assert "closed" in repr(creator)
    # The creator's segments are gone.
    assert not [s for s in list_segments() if s.rsplit(".", 1)[0] == chan]


def test_context_manager_does_not_swallow_exceptions(chan):
    with pytest.raises(KeyError):
        with Publisher(chan):
            raise KeyError("boom")
    # ...and the publisher was closed: the name is free again.
    Publisher(chan).close()


@pytest.mark.parametrize("op", ["send", "send_bytes", "stats"])
def test_publisher_calls_after_close_raise(op, chan):
    pub = Publisher(chan)
    pub.close()
    with pytest.raises(SHMError, match="closed"):
        if op == "stats":
            pub.stats()
        else:
            getattr(pub, op)(b"x")


def test_subscriber_calls_after_close_raise(chan):
    with Publisher(chan):
        sub = Subscriber(chan)
        sub.close()
        for call in (lambda: sub.recv(0), lambda: sub.recv_bytes(0), sub.stats,
                     lambda: sub.borrow(0)):
            with pytest.raises(SHMError, match="closed"):
                call()


def test_pipeline_and_reqrep_calls_after_close_raise(chan, make_chan):
    with Pusher(chan) as push, Puller(chan) as pull:
        push.close()
        pull.close()
        with pytest.raises(SHMError):
            push.send(1)
        with pytest.raises(SHMError):
            pull.recv(0)
    other = make_chan()
    with Replier(other) as rep, Requester(other) as req:
        req.close()
        rep.close()
        with pytest.raises(SHMError):
            req.request(1, timeout=0.1)
        with pytest.raises(SHMError):
            rep.recv(0)


def test_list_segments_and_force_unlink(chan, make_chan, caplog):
    svc, queue = make_chan(), make_chan()
    pub = Publisher(chan)
    rep = Replier(svc)
    push = Pusher(queue)
    try:
        segs = list_segments()
        assert all(isinstance(s, str) for s in segs)
        mine = sorted(s for s in segs if s.rsplit(".", 1)[0] in (chan, svc, queue))
        assert mine == sorted([f"{chan}.pub", f"{svc}.svc", f"{queue}.queue"]), mine
        # A segment in use (this process owns them all) is refused, with a
        # warning naming the user, unless force=True.
        for name in mine + [chan, svc, queue]:
            caplog.clear()
            assert force_unlink(name) is False
            assert "still uses it" in caplog.text and str(os.getpid()) in caplog.text
        assert sorted(s for s in list_segments() if s in mine) == mine
        # Every name list_segments() gives is one force_unlink(force=True) takes.
        assert force_unlink(f"{chan}.pub", force=True) is True
        assert force_unlink(f"{chan}.pub", force=True) is False
        assert not [s for s in list_segments() if s.rsplit(".", 1)[0] == chan]
        # A channel name removes all its segments.
        assert force_unlink(svc, force=True) and force_unlink(queue, force=True)
        assert not [s for s in list_segments() if s in mine]
    finally:
        pub.close()
        rep.close()
        push.close()


def test_force_unlink_removes_a_dead_owners_segment(chan, spawn):
    """What force_unlink is for: a segment left by a crashed program."""
    from shm_comm.utils import pub_segment_name
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    assert force_unlink(pub_segment_name(chan)) is False  # alive: refused
    child.kill()
    assert force_unlink(pub_segment_name(chan)) is True
    assert f"{chan}.pub" not in list_segments()


def test_force_unlink_takes_the_names_of_1_0_0(make_chan):
    """1.0.0 named segments ``shmcomm_<kind>_<channel>``; code (and its docs'
    example ``force_unlink("shmcomm_pub_sensors")``) may still use them."""
    chan = make_chan().replace("/", "_")
    for make, legacy in ((Publisher, "shmcomm_pub_"), (Replier, "shmcomm_rep_"),
                         (Pusher, "shmcomm_push_")):
        obj = make(chan)
        try:
            assert force_unlink(legacy + chan) is False
            assert force_unlink(legacy + chan, force=True) is True
            assert not [s for s in list_segments() if s.rsplit(".", 1)[0] == chan]
        finally:
            obj.close()


def test_force_unlink_of_a_name_that_never_existed(chan):
    assert force_unlink(chan) is False


@pytest.mark.parametrize("bad", ["", "a//b", "../x", "a b", "x" * 101, "/a", "a/", "é", "a/./b",
                                 "shm\0x"])
def test_invalid_names_raise_a_value_error(bad):
    with pytest.raises(shm_comm.SHMNameError) as info:
        Publisher(bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(shm_comm.SHMNameError):
        Subscriber(bad, timeout_connect=0)
    with pytest.raises(shm_comm.SHMNameError):
        Pusher(bad)
    with pytest.raises(shm_comm.SHMNameError):
        Replier(bad)
    with pytest.raises(shm_comm.SHMNameError):
        force_unlink(bad)


def test_longest_name_is_accepted(chan):
    name = (chan + "/" + "x" * 100)[:100]
    try:
        with Publisher(name) as pub, Subscriber(name) as sub:
            pub.send("ok")
            assert sub.recv(1.0) == "ok"
    finally:
        force_unlink(name)


@pytest.mark.parametrize("cls", [Publisher, Pusher, Replier], ids=lambda c: c.__name__)
@pytest.mark.parametrize("geometry", [{"num_slots": 0}, {"slot_size": 0}, {"num_slots": 2**31},
                                      {"slot_size": 2**31}])
def test_invalid_geometry_raises_config_error(cls, geometry, chan):
    with pytest.raises(shm_comm.SHMConfigError) as info:
        cls(chan, **geometry)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("cls", [Publisher, Pusher, Replier], ids=lambda c: c.__name__)
def test_negative_geometry_is_rejected(cls, chan):
    with pytest.raises((OverflowError, ValueError)):
        cls(chan, num_slots=-1)


# ---------------------------------------------------------------------------
# Messages larger than a slot
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["send", "send_bytes"])
def test_publisher_payload_larger_than_slot(method, chan):
    with Publisher(chan, slot_size=64) as pub, Subscriber(chan) as sub:
        payload = b"x" * 200
        with pytest.raises(SHMError) as info:
            getattr(pub, method)(payload)
        assert isinstance(info.value, ValueError)
        assert "64" in str(info.value), str(info.value)
        # Nothing was sent, nothing truncated.
        assert sub.recv(0) is None
        assert pub.stats()["msg_count"] == 0
        # A payload of exactly the slot size fits.
        pub.send_bytes(b"y" * 64)
        assert sub.recv_bytes(1.0) == b"y" * 64


@pytest.mark.parametrize("method", ["send", "send_bytes"])
def test_pusher_payload_larger_than_slot(method, chan):
    with Pusher(chan, slot_size=64) as push, Puller(chan) as pull:
        with pytest.raises(SHMError) as info:
            getattr(push, method)(b"x" * 200)
        assert isinstance(info.value, ValueError)
        assert "64" in str(info.value)
        assert pull.recv(0) is None


def test_reqrep_payload_larger_than_slot(chan):
    with Replier(chan, slot_size=128) as rep, Requester(chan) as req:
        with pytest.raises(SHMError) as info:
            req.request(b"x" * 500, timeout=1.0)
        assert isinstance(info.value, ValueError) and "128" in str(info.value)
        req.send("small")
        assert rep.recv(1.0) == "small"
        with pytest.raises(SHMError) as info:
            rep.send(b"x" * 500)
        assert isinstance(info.value, ValueError) and "128" in str(info.value)


# ---------------------------------------------------------------------------
# msgpack, built in
# ---------------------------------------------------------------------------

MSGPACK_VALUES = [
    None, True, False, 0, 1, -1, 127, 128, -33, 255, 65535, 2**32, -(2**31) - 1, 2**63, 2**64 - 1,
    -(2**63), 0.0, 1.5, -2.25, float("inf"), "", "héllo wörld", "x" * 300, b"", b"\x00\xff" * 100,
    [], [1, 2, 3], {}, {"a": 1, "b": [1.0, None, True], "c": {"d": b"e"}},
    {1: "int key", "s": "str key"}, list(range(70000 // 7)), {"k%d" % i: i for i in range(20)},
]


def test_msgpack_needs_no_msgpack_package():
    if importlib.util.find_spec("msgpack") is not None:  # pragma: no cover
        pytest.skip("the msgpack package is installed here; the point is that it is not needed")
    assert importlib.util.find_spec("msgpack") is None


@pytest.mark.parametrize("value", MSGPACK_VALUES, ids=lambda v: type(v).__name__)
def test_msgpack_round_trip(value, chan):
    with Publisher(chan, slot_size=100_000, serialization="msgpack") as pub, \
            Subscriber(chan, serialization="msgpack") as sub:
        pub.send(value)
        got = sub.recv_frame_bytes(timeout=1.0)
        assert got is not None and got[0] == "msgpack"
        pub.send(value)
        out = sub.recv(timeout=1.0)
        assert out == value and type(out) is type(value)


def test_msgpack_nan_and_tuples(chan):
    with Publisher(chan, serialization="msgpack") as pub, Subscriber(chan, serialization="msgpack") as sub:
        pub.send(float("nan"))
        assert math.isnan(sub.recv(1.0))
        pub.send((1, (2, 3)))
        assert sub.recv(1.0) == [1, [2, 3]]  # msgpack has arrays, not tuples


@pytest.mark.parametrize("value", [object(), {1, 2}, 2**64, -(2**63) - 1, 1j, np.arange(3),
                                   [1, object()], {"k": {1, 2}}],
                         ids=lambda v: type(v).__name__)
def test_msgpack_unsupported_objects_raise(value, chan):
    with Publisher(chan, serialization="msgpack") as pub, Subscriber(chan) as sub:
        with pytest.raises(SHMSerializationError):
            pub.send(value)
        assert sub.recv(0) is None
        assert pub.stats()["msg_count"] == 0


def test_msgpack_map_with_array_key_fails_on_receive_not_crash(chan):
    """msgpack allows an array as a map key, Python cannot hash the list it
    becomes: the receiver gets an SHMSerializationError (as msgpack-python
    would raise), and the next message is fine."""
    with Publisher(chan, serialization="msgpack") as pub, Subscriber(chan) as sub:
        pub.send({(1, 2): 3})
        with pytest.raises(SHMSerializationError):
            sub.recv(1.0)
        pub.send({None: 1, 1.5: 2, b"b": 3, True: 4})
        assert sub.recv(1.0) == {None: 1, 1.5: 2, b"b": 3, True: 4}


def test_msgpack_across_every_pattern(chan, make_chan):
    with Replier(chan, serialization="msgpack") as rep, \
            Requester(chan, serialization="msgpack") as req:
        t = threading.Thread(target=lambda: rep.send({"echo": rep.recv(2.0)}))
        t.start()
        assert req.request({"q": [1, 2]}, timeout=2.0) == {"echo": {"q": [1, 2]}}
        t.join()
    q = make_chan()
    with Pusher(q, serialization="msgpack") as push, Puller(q, serialization="msgpack") as pull:
        push.send({"job": 1})
        assert pull.recv(1.0) == {"job": 1}


def test_unpicklable_object_raises_serialization_error(chan):
    with Publisher(chan) as pub:
        with pytest.raises(SHMSerializationError):
            pub.send(lambda x: x)
    with Pusher(chan) as push:
        with pytest.raises(SHMSerializationError):
            push.send(lambda x: x)
