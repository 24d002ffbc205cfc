"""Multi-publisher topics from Python: several publisher processes, one
subscriber that receives every publisher's messages in order and names
the sender; ordinary and multi-publisher topics of one name stay apart."""

from __future__ import annotations

import os

import pytest

import shm_comm
from shm_comm import MultiPublisher, MultiSubscriber, Publisher, Subscriber, msgs

#: Messages per publisher: few enough that a subscriber keeps up with the
#: paced publishers below without the ring (64 slots) ever lapping it.
COUNT = 200

PUBLISHER = """
    import sys, time, shm_comm
    name, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with shm_comm.MultiPublisher(name, serialization="msgpack") as pub:
        print("ready", *pub.id, flush=True)
        sys.stdin.readline()
        for i in range(count):
            pub.send({"tag": tag, "i": i})
            if i % 16 == 15:
                time.sleep(0.002)
        print("done", pub.stats()["msg_count"], flush=True)
        sys.stdin.readline()
"""


def test_three_publisher_processes_each_received_in_order(chan, spawn):
    with MultiSubscriber(chan, serialization="msgpack") as sub:
        kids = {tag: spawn(PUBLISHER, chan, tag, COUNT) for tag in "abc"}
        ids = {}
        for tag, kid in kids.items():
            _, slot, pid = kid.expect("ready").split()
            ids[tag] = (int(slot), int(pid))
            assert ids[tag][1] == kid.pid
        for kid in kids.values():
            kid.say("go")
        nxt = dict.fromkeys(kids, 0)
        while any(n < COUNT for n in nxt.values()):
            got = sub.recv_from(timeout=10)
            assert got is not None, f"timed out; received so far {nxt}"
            sender, msg = got
            tag = msg["tag"]
            # The sender named is the process that sent the message.
            assert sender == ids[tag], (sender, ids)
            assert msg["i"] == nxt[tag], (tag, msg, nxt)
            nxt[tag] += 1
        for kid in kids.values():
            assert kid.expect("done").split()[1] == str(COUNT)
        assert sub.missed() == 0
        for tag in kids:
            assert sub.missed_from(ids[tag]) == 0
            assert sub.missed_from(ids[tag][1]) == 0
        assert sorted(sub.publishers()) == sorted(ids.values())
        assert sub.stats()["publishers"] == 3
        assert sub.recv(timeout=0) is None
        for kid in kids.values():
            kid.say("exit")
            assert kid.wait() == 0


def test_sender_named_and_publishers_counted_in_one_process(chan):
    with MultiPublisher(chan) as p1, MultiPublisher(chan) as p2, MultiSubscriber(chan) as sub:
        assert p1.id != p2.id
        assert p1.id[1] == p2.id[1] == os.getpid()
        assert p1.publishers() == 2
        p1.send("one")
        p2.send(["two"])
        p2.send_bytes(b"raw")
        got = [sub.recv_from(timeout=5) for _ in range(3)]
        assert sorted(got, key=repr) == sorted(
            [(p1.id, "one"), (p2.id, ["two"]), (p2.id, b"raw")], key=repr)
        assert sub.recv_from(timeout=0) is None
        assert sub.missed_from(12345678) is None
        p1.send_bytes(bytearray(b"xyz"))
        assert sub.recv_bytes(timeout=5) == b"xyz"


def test_missed_counts_a_subscriber_that_fell_behind(chan):
    with MultiPublisher(chan, num_slots=8) as pub, MultiSubscriber(chan) as sub:
        for i in range(20):
            pub.send(i)
        got = [sub.recv(timeout=5) for _ in range(8)]
        # The ring kept the newest 8; the 12 before them are counted missed.
        assert got == list(range(12, 20))
        assert sub.missed() == 12
        assert sub.missed_from(pub.id) == 12


def test_a_pickle_frame_is_refused_by_a_msgpack_subscriber(chan):
    with MultiPublisher(chan) as pub, MultiSubscriber(chan, serialization="msgpack") as sub:
        pub.send({"a": 1})
        with pytest.raises(shm_comm.SHMSerializationError):
            sub.recv(timeout=5)


def test_an_ordinary_subscriber_does_not_see_a_multi_topic(chan):
    # The core keeps the two kinds apart (a multi topic has no ordinary
    # publisher segment): an ordinary subscriber finds no publisher.
    with MultiPublisher(chan):
        with pytest.raises(shm_comm.SHMConnectionError):
            Subscriber(chan, timeout_connect=0.2)


def test_ordinary_and_multi_topics_of_one_name_stay_apart(chan):
    with Publisher(chan) as plain, Subscriber(chan) as plain_sub, \
            MultiPublisher(chan) as multi, MultiSubscriber(chan) as multi_sub:
        plain.send("plain")
        multi.send("multi")
        assert multi_sub.recv_from(timeout=5) == (multi.id, "multi")
        assert plain_sub.recv(timeout=5) == "plain"
        assert multi_sub.recv(timeout=0.05) is None
        assert plain_sub.recv(timeout=0.05) is None


def test_a_second_ordinary_publisher_is_still_refused(chan):
    with MultiPublisher(chan), Publisher(chan):
        with pytest.raises(shm_comm.SHMError):
            Publisher(chan)


def test_typed_multi_topic(chan, spawn):
    kid = spawn("""
        import sys, shm_comm
        from shm_comm import msgs
        with shm_comm.MultiPublisher(sys.argv[1], msg_type=msgs.Vector3) as pub:
            print("ready", flush=True)
            sys.stdin.readline()
            for i in range(10):
                pub.send(msgs.Vector3(x=float(i), y=-1.0, z=0.5))
            print("done", flush=True)
            sys.stdin.readline()
    """, chan)
    with MultiSubscriber(chan, msg_type=msgs.Vector3) as sub, \
            MultiPublisher(chan, msg_type=msgs.Vector3) as mine:
        kid.expect("ready")
        kid.say("go")
        kid.expect("done")
        mine.send(msgs.Vector3(x=100.0, y=2.0, z=3.0))
        got = [sub.recv_from(timeout=5) for _ in range(11)]
        theirs = [m for (slot, pid), m in got if pid == kid.pid]
        ours = [(s, m) for s, m in got if s == mine.id]
        assert [(m.x, m.y, m.z) for m in theirs] == [(float(i), -1.0, 0.5) for i in range(10)]
        assert [(m.x, m.y, m.z) for _, m in ours] == [(100.0, 2.0, 3.0)]
        assert all(isinstance(m, msgs.Vector3) for _, m in got)
        kid.say("exit")
        assert kid.wait() == 0


def test_typed_multi_topic_refuses_another_layout(chan):
    with MultiPublisher(chan, msg_type=msgs.Vector3):
        with pytest.raises(shm_comm.SHMError):
            MultiSubscriber(chan, msg_type=msgs.Quaternion)
        with pytest.raises(shm_comm.SHMError):
            MultiSubscriber(chan)


def test_closed_handles(chan):
    pub = MultiPublisher(chan)
    sub = MultiSubscriber(chan)
    assert repr(pub) == f'MultiPublisher("{chan}", open)'
    pub.close()
    sub.close()
    pub.close()
    assert pub.closed and sub.closed
    with pytest.raises(shm_comm.SHMError):
        pub.send(1)
    with pytest.raises(shm_comm.SHMError):
        sub.recv(timeout=0)


def test_fileno_and_poller_wake_for_any_publisher_process(chan, make_chan, spawn):
    """A multi-topic's descriptor is readable when any publisher sent,
    a ``Poller`` over it and an ordinary subscriber reports exactly the
    one that got something, and every message of two publisher processes
    is taken through wake-ups alone."""
    import select

    other = make_chan()
    with MultiSubscriber(chan, serialization="msgpack") as sub, \
            Publisher(other) as plain_pub, Subscriber(other) as plain:
        fd = sub.fileno()
        assert not select.select([fd], [], [], 0.05)[0]
        poller = shm_comm.Poller()
        poller.register(sub, shm_comm.POLLIN)
        poller.register(plain, shm_comm.POLLIN)
        assert poller.poll(50) == []
        kids = {tag: spawn(PUBLISHER, chan, tag, COUNT) for tag in "ab"}
        for kid in kids.values():
            kid.expect("ready")
        for kid in kids.values():
            kid.say("go")
        plain_pub.send("plain")
        nxt = dict.fromkeys(kids, 0)
        plain_got = []
        while any(n < COUNT for n in nxt.values()) or not plain_got:
            ready = dict(poller.poll(10_000))
            assert ready, f"poll timed out; received so far {nxt}"
            if sub in ready:
                while (got := sub.recv_from(timeout=0)) is not None:
                    msg = got[1]
                    assert msg["i"] == nxt[msg["tag"]], (msg, nxt)
                    nxt[msg["tag"]] += 1
            if plain in ready:
                while (m := plain.recv(timeout=0)) is not None:
                    plain_got.append(m)
        assert plain_got == ["plain"]
        assert sub.missed() == 0
        for kid in kids.values():
            kid.expect("done")
        # Every send (and the ring of the doorbell it made) is over: a
        # receive that finds nothing drains the descriptor and arms it
        # again, and it stays quiet until the next message. (Before, a
        # ring for a message already taken may still land: readiness is
        # a hint.)
        assert sub.recv_from(timeout=0) is None
        assert not select.select([fd], [], [], 0.05)[0]
        for kid in kids.values():
            kid.say("exit")
            assert kid.wait() == 0
