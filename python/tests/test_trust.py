"""The trust boundary from Python: no code runs from bytes another process
chose unless the receiver asked for pickle, and a segment file of another
user is refused naming its owner.
"""

from __future__ import annotations

import os
import pytest

from shm_comm import (
    Publisher,
    Puller,
    Pusher,
    Replier,
    Requester,
    SHMConnectionError,
    SHMSerializationError,
    Subscriber,
)

from support import segment_file


class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.fixture
def marker(tmp_path):
    return str(tmp_path / "unpickled")


def test_a_msgpack_subscriber_never_unpickles_a_pickle_frame(chan, marker):
    with Publisher(chan) as pub, Subscriber(chan, serialization="msgpack") as sub:
        pub.send(Payload(marker))  # the default serialization: pickle
        with pytest.raises(SHMSerializationError, match="pickle"):
            sub.recv(timeout=5.0)
    assert not os.path.exists(marker)


def test_msgpack_receivers_refuse_pickle_and_still_take_msgpack(make_chan, marker):
    # PUB/SUB: a msgpack frame after the refused pickle one is delivered.
    chan = make_chan()
    with Publisher(chan) as p, Subscriber(chan, serialization="msgpack") as sub:
        p.send(Payload(marker))
        with pytest.raises(SHMSerializationError):
            sub.recv(timeout=5.0)
        p.send_bytes(b"raw")
        assert sub.recv(timeout=5.0) == b"raw"
    # PUSH/PULL.
    chan = make_chan()
    with Pusher(chan) as push, Puller(chan, serialization="msgpack") as pull:
        push.send(Payload(marker))
        with pytest.raises(SHMSerializationError):
            pull.recv(timeout=5.0)
    # REQ/REP, both directions.
    chan = make_chan()
    with Replier(chan, serialization="msgpack") as rep, Requester(chan) as req:
        req.send(Payload(marker))
        with pytest.raises(SHMSerializationError):
            rep.recv(timeout=5.0)
    chan = make_chan()
    with Replier(chan) as rep, Requester(chan, serialization="msgpack") as req:
        req.send_bytes(b"q")
        assert rep.recv(timeout=5.0) == b"q"
        rep.send(Payload(marker))
        with pytest.raises(SHMSerializationError):
            req.recv(timeout=5.0)
    assert not os.path.exists(marker)


def test_a_pickle_receiver_still_unpickles_what_it_asked_for(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send({"pose": (1.0, 2.0)})
        assert sub.recv(timeout=5.0) == {"pose": (1.0, 2.0)}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file of another uid")
@pytest.mark.parametrize("role", ["pub", "queue"])
def test_another_users_segment_is_refused_naming_its_owner(chan, role, marker):
    # The attacker (uid 65534) made the segment first, open to everyone.
    if role == "pub":
        with Publisher(chan):
            data = segment_file(chan, role).read_bytes()
    else:
        with Pusher(chan):
            data = segment_file(chan, role).read_bytes()
    path = segment_file(chan, role)
    path.write_bytes(data)
    os.chmod(path, 0o666)
    os.chown(path, 65534, 65534)
    with pytest.raises(SHMConnectionError, match="uid 65534"):
        if role == "pub":
            Subscriber(chan, timeout_connect=0.2, serialization="msgpack")
        else:
            Puller(chan, timeout_connect=0.2)
    with pytest.raises(SHMConnectionError, match="uid 65534"):
        if role == "pub":
            Publisher(chan)
        else:
            Pusher(chan)
    assert path.exists()
    assert not os.path.exists(marker)


BAD_TIMEOUTS = [float("nan"), -1.0, -1e-9]


def _timeout_calls(make_chan):
    """Every call of the API that takes a timeout, as (label, call(timeout))."""
    t = make_chan()
    pub, sub = Publisher(t), Subscriber(t)
    q = make_chan()
    push, pull = Pusher(q), Puller(q)
    s = make_chan()
    rep, req = Replier(s), Requester(s)
    calls = [
        ("Subscriber()", lambda to: Subscriber(t, timeout_connect=to)),
        ("Puller()", lambda to: Puller(q, timeout_connect=to)),
        ("Requester()", lambda to: Requester(s, timeout_connect=to)),
        ("Publisher.send", lambda to: pub.send(1, timeout=to)),
        ("Publisher.send_bytes", lambda to: pub.send_bytes(b"x", timeout=to)),
        ("Subscriber.recv", lambda to: sub.recv(timeout=to)),
        ("Subscriber.recv_bytes", lambda to: sub.recv_bytes(timeout=to)),
        ("Subscriber.borrow", lambda to: sub.borrow(timeout=to)),
        ("Pusher.send", lambda to: push.send(1, timeout=to)),
        ("Pusher.send_bytes", lambda to: push.send_bytes(b"x", timeout=to)),
        ("Puller.recv", lambda to: pull.recv(timeout=to)),
        ("Puller.recv_bytes", lambda to: pull.recv_bytes(timeout=to)),
        ("Replier.recv", lambda to: rep.recv(timeout=to)),
        ("Replier.recv_bytes", lambda to: rep.recv_bytes(timeout=to)),
        ("Requester.request", lambda to: req.request(1, timeout=to)),
        ("Requester.recv", lambda to: req.recv(timeout=to)),
    ]
    return calls, [pub, sub, push, pull, rep, req]


def test_nan_and_negative_timeouts_are_the_same_value_error_everywhere(make_chan):
    calls, handles = _timeout_calls(make_chan)
    try:
        for label, call in calls:
            for bad in BAD_TIMEOUTS:
                with pytest.raises(ValueError, match="timeout"):
                    call(bad)
                    pytest.fail(f"{label} accepted timeout {bad}")
            with pytest.raises(TypeError):
                call("1.0")
    finally:
        for h in handles:
            h.close()
