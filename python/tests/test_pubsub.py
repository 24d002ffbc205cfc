"""PUB/SUB: Publisher and Subscriber, in one process and across processes."""

from __future__ import annotations

import datetime
import decimal
import fractions
import pickle
import threading
import time

import numpy as np
import pytest

import shm_comm
from shm_comm import Publisher, SHMConnectionError, SHMError, Subscriber

SLACK = 0.15  # seconds a timed call may overrun its timeout

PICKLE_VALUES = [
    0, -1, 2**100, 1.5, "text", "ünïcödé", b"bytes", bytearray(b"ba"), [1, [2, [3]]], (1, "a"),
    {"x": 1.0, "y": [1, 2]}, {1, 2, 3}, frozenset({4}), 1 + 2j, True, range(3),
    datetime.datetime(2024, 1, 2, 3, 4, 5), decimal.Decimal("1.10"), fractions.Fraction(1, 3),
    np.arange(12, dtype=np.float32).reshape(3, 4),
]


@pytest.mark.parametrize("value", PICKLE_VALUES, ids=lambda v: type(v).__name__)
def test_pickle_round_trip(value, chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        assert pub.send(value) is True
        got = sub.recv(timeout=1.0)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value)
            assert got.dtype == value.dtype
        else:
            assert got == value and type(got) is type(value)


def test_messages_arrive_in_order(chan):
    with Publisher(chan, num_slots=256) as pub, Subscriber(chan) as sub:
        for i in range(200):
            pub.send({"i": i})
        assert [sub.recv(1.0)["i"] for _ in range(200)] == list(range(200))
        assert sub.recv(0) is None


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-slice",
                                  "numpy-f64-2d", "numpy-i16", "numpy-empty", "empty-bytes"])
def test_send_bytes_accepts_any_contiguous_buffer(kind, chan):
    arr = np.arange(24, dtype=np.float64).reshape(4, 6)
    payload = {
        "bytes": b"hello",
        "bytearray": bytearray(b"\x00\x01\x02"),
        "memoryview": memoryview(b"view"),
        "memoryview-slice": memoryview(b"0123456789")[2:7],
        "numpy-f64-2d": arr,
        "numpy-i16": np.array([-1, 2, -3], dtype=np.int16),
        "numpy-empty": np.zeros(0),
        "empty-bytes": b"",
    }[kind]
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        assert pub.send_bytes(payload) is True
        got = sub.recv_bytes(timeout=1.0)
        assert isinstance(got, bytes)
        assert got == bytes(memoryview(payload).cast("B"))
    if kind == "numpy-f64-2d":
        np.testing.assert_array_equal(np.frombuffer(got, dtype=np.float64).reshape(4, 6), arr)


def test_send_bytes_rejects_what_is_not_a_contiguous_buffer(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        with pytest.raises(TypeError):
            pub.send_bytes("a str is not bytes")
        with pytest.raises((ValueError, BufferError)):
            pub.send_bytes(np.arange(10.0)[::2])  # not contiguous
        assert sub.recv(0) is None


def test_recv_of_a_raw_frame_gives_bytes_and_recv_bytes_of_an_object_gives_its_pickle(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send_bytes(b"raw")
        assert sub.recv(1.0) == b"raw"
        pub.send({"a": 1})
        assert pickle.loads(sub.recv_bytes(1.0)) == {"a": 1}


def test_recv_frame_bytes_names_the_codec(chan):
    with Publisher(chan) as pub, Publisher(chan + "m", serialization="msgpack") as mpub, \
            Subscriber(chan) as sub, Subscriber(chan + "m") as msub:
        try:
            pub.send([1])
            pub.send_bytes(b"r")
            assert sub.recv_frame_bytes(1.0)[0] == "pickle"
            assert sub.recv_frame_bytes(1.0) == ("raw", b"r")
            mpub.send([1])
            assert msub.recv_frame_bytes(1.0) == ("msgpack", b"\x91\x01")
            assert sub.recv_frame_bytes(0) is None
        finally:
            shm_comm.force_unlink(chan + "m")


def test_frames_are_decoded_by_their_codec_not_the_subscribers_setting(chan):
    with Publisher(chan, serialization="msgpack") as pub, Subscriber(chan, serialization="pickle") as sub:
        pub.send({"k": [1, 2]})
        assert sub.recv(1.0) == {"k": [1, 2]}


def test_recv_without_timeout_waits_for_the_message(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        timer = threading.Timer(0.3, pub.send, args=("late",))
        t0 = time.monotonic()
        timer.start()
        try:
            assert sub.recv() == "late"
        finally:
            timer.join()
        assert time.monotonic() - t0 >= 0.25


def test_recv_none_blocks_until_a_message(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        got = []
        t = threading.Thread(target=lambda: got.append(sub.recv(timeout=None)))
        t.start()
        time.sleep(0.3)
        assert t.is_alive() and not got  # still waiting
        pub.send(42)
        t.join(timeout=2.0)
        assert got == [42]


def test_recv_zero_checks_once(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        t0 = time.monotonic()
        assert sub.recv(timeout=0) is None
        assert sub.recv_bytes(timeout=0) is None
        assert sub.borrow(timeout=0) is None
        assert time.monotonic() - t0 < 0.05
        pub.send("there")
        assert sub.recv(timeout=0) == "there"


@pytest.mark.parametrize("timeout", [0.05, 0.3])
def test_recv_timeout_returns_none_on_time(timeout, chan):
    with Publisher(chan), Subscriber(chan) as sub:
        for call in (sub.recv, sub.recv_bytes, sub.borrow):
            t0 = time.monotonic()
            assert call(timeout=timeout) is None
            took = time.monotonic() - t0
            assert timeout - 0.005 <= took < timeout + SLACK, (call, took)


def test_nan_timeout_is_rejected(chan):
    with Publisher(chan), Subscriber(chan) as sub:
        with pytest.raises(ValueError):
            sub.recv(timeout=float("nan"))


def test_stats(chan):
    with Publisher(chan, num_slots=8, slot_size=128) as pub, Subscriber(chan) as sub:
        for i in range(3):
            pub.send(i)
        ps, ss = pub.stats(), sub.stats()
        for key in ("msg_count", "drop_count", "num_slots", "slot_size"):
            assert key in ps and key in ss, key
        assert ps["msg_count"] == 3 and ps["drop_count"] == 0
        assert ss["msg_count"] == 3 and ss["lag"] == 3 and ss["drop_count"] == 0
        sub.recv(0)
        assert sub.stats()["lag"] == 2
        assert sub.stats()["local_tail"] == 1
        assert sub.stats()["publisher_alive"] == 1


def test_every_subscriber_gets_every_message(chan):
    with Publisher(chan) as pub:
        subs = [Subscriber(chan) for _ in range(4)]
        try:
            for i in range(10):
                pub.send(i)
            for s in subs:
                assert [s.recv(1.0) for _ in range(10)] == list(range(10))
        finally:
            for s in subs:
                s.close()


def test_late_subscriber_gets_only_what_is_published_after_it_attached(chan):
    with Publisher(chan) as pub:
        for i in range(5):
            pub.send(("early", i))
        with Subscriber(chan) as sub:
            assert sub.recv(0) is None
            pub.send(("late", 0))
            assert sub.recv(1.0) == ("late", 0)
            assert sub.recv(0) is None


def test_last_value_subscriber_also_gets_the_newest_earlier_message(chan):
    with Publisher(chan) as pub:
        for i in range(5):
            pub.send(i)
        with Subscriber(chan, last_value=True) as sub:
            assert sub.recv(1.0) == 4
            assert sub.recv(0) is None


def test_slow_subscriber_skips_the_oldest_and_counts_them(chan):
    with Publisher(chan, num_slots=8) as pub, Subscriber(chan) as sub:
        for i in range(20):
            pub.send(i)
        got = []
        while (m := sub.recv(0)) is not None:
            got.append(m)
        assert got == list(range(12, 20))
        assert sub.stats()["drop_count"] == 12
        assert sub.stats()["lag"] == 0


def test_publisher_never_blocks_on_a_subscriber_that_does_not_read(chan):
    with Publisher(chan, num_slots=4) as pub, Subscriber(chan):
        t0 = time.monotonic()
        for i in range(5000):
            assert pub.send(i, block=True, timeout=0.001) is True
        assert time.monotonic() - t0 < 5.0


def test_subscriber_without_publisher_times_out_with_connection_error(chan):
    t0 = time.monotonic()
    with pytest.raises(SHMConnectionError, match="does not exist"):
        Subscriber(chan, timeout_connect=0.3)
    took = time.monotonic() - t0
    assert 0.29 <= took < 0.3 + SLACK
    t0 = time.monotonic()
    with pytest.raises(SHMConnectionError):
        Subscriber(chan, timeout_connect=0)
    assert time.monotonic() - t0 < 0.1


def test_subscriber_waits_for_a_publisher_that_starts_later(chan):
    holder = []
    timer = threading.Timer(0.3, lambda: holder.append(Publisher(chan)))
    timer.start()
    try:
        with Subscriber(chan, timeout_connect=5.0) as sub:
            timer.join()
            holder[0].send("hi")
            assert sub.recv(1.0) == "hi"
    finally:
        timer.join()
        for p in holder:
            p.close()


def test_publisher_close_removes_the_topic_and_the_name_can_be_reused(chan):
    pub = Publisher(chan)
    sub = Subscriber(chan)
    assert f"{chan}.pub" in shm_comm.list_segments()
    pub.close()
    assert f"{chan}.pub" not in shm_comm.list_segments()
    # The old subscriber keeps working (nothing new arrives).
    assert sub.recv(timeout=0.05) is None
    assert sub.stats()["publisher_alive"] == 0
    with Publisher(chan) as pub2, Subscriber(chan) as sub2:
        pub2.send("second life")
        assert sub2.recv(1.0) == "second life"
    sub.close()


def test_second_publisher_in_the_same_process_is_refused(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        with pytest.raises(SHMConnectionError, match="owned"):
            Publisher(chan)
        pub.send("still mine")
        assert sub.recv(1.0) == "still mine"


def test_publisher_and_subscriber_in_separate_processes(chan, spawn):
    child = spawn("""
        import sys, shm_comm
        with shm_comm.Subscriber(sys.argv[1], timeout_connect=10) as sub:
            print("ready", flush=True)
            total = 0
            for i in range(100):
                msg = sub.recv(timeout=10)
                assert msg == {"i": i, "data": list(range(i % 7))}, (i, msg)
                total += 1
            print("got", total, sub.stats()["drop_count"])
    """, chan)
    with Publisher(chan, num_slots=128) as pub:
        child.expect("ready")
        for i in range(100):
            pub.send({"i": i, "data": list(range(i % 7))})
        assert child.expect("got") == "got 100 0"
        assert child.wait() == 0


def test_subscriber_in_parent_publisher_in_child(chan, spawn):
    child = spawn("""
        import sys, shm_comm, numpy as np
        with shm_comm.Publisher(sys.argv[1]) as pub:
            print("ready", flush=True)
            sys.stdin.readline()
            for i in range(50):
                pub.send_bytes(np.full(16, i, dtype=np.int32))
            pub.send(None)
            print("done", flush=True)
            sys.stdin.readline()
    """, chan)
    child.expect("ready")
    with Subscriber(chan) as sub:
        child.say("go")
        for i in range(50):
            arr = np.frombuffer(sub.recv_bytes(5.0), dtype=np.int32)
            assert (arr == i).all() and arr.size == 16
        assert sub.recv_frame_bytes(5.0)[0] == "pickle"
        child.expect("done")
        child.say("exit")
        assert child.wait() == 0


def test_publisher_process_exit_removes_the_topic(chan, spawn):
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    assert f"{chan}.pub" in shm_comm.list_segments()
    sub = Subscriber(chan)
    assert sub.stats()["publisher_pid"] == child.pid
    child.say("exit")
    assert child.wait() == 0
    assert f"{chan}.pub" not in shm_comm.list_segments()
    assert sub.stats()["publisher_alive"] == 0
    sub.close()


def test_killed_publisher_leaves_a_topic_that_a_new_publisher_takes_over(chan, spawn):
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    child.kill()
    # The segment of the dead publisher is still there...
    assert f"{chan}.pub" in shm_comm.list_segments()
    with Subscriber(chan, timeout_connect=0) as stale:
        assert stale.stats()["publisher_alive"] == 0
    # ...and a new publisher replaces it.
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send("new")
        assert sub.recv(1.0) == "new"


def test_repr_and_properties(chan):
    with Publisher(chan, serialization="msgpack") as pub, Subscriber(chan) as sub:
        assert repr(pub) == f'Publisher("{chan}", open)'
        assert repr(sub) == f'Subscriber("{chan}", open)'
        assert pub.name == sub.name == chan
        assert pub.serialization == "msgpack" and sub.serialization == "pickle"
        assert pub.layout() is None and sub.layout() is None
        assert sub.msg_type is None and pub.msg_type is None


def test_closed_publisher_frees_its_name_even_with_subscribers_left(chan):
    pub = Publisher(chan)
    subs = [Subscriber(chan) for _ in range(3)]
    pub.close()
    with Publisher(chan) as again:
        assert again.stats()["msg_count"] == 0
    for s in subs:
        s.close()


def test_recv_on_a_subscriber_closed_by_another_thread_raises(chan):
    with Publisher(chan):
        sub = Subscriber(chan)
        errors = []

        def reader():
            try:
                sub.recv(timeout=5.0)
            except SHMError as e:
                errors.append(e)

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        sub.close()
        t.join(timeout=5.0)
        assert not t.is_alive()
        # The waiting recv notices the close (promptness: test_blocking.py).
        assert time.monotonic() - t0 < 5.0
        assert len(errors) == 1 and "closed" in str(errors[0])
