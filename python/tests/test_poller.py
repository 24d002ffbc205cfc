"""``fileno()`` and ``shm_comm.Poller``: a handle's descriptor is readable
exactly when its channel got something (edge-triggered, re-armed by the
empty receive); a Poller over 256 subscribers fed by another process
reports exactly the ones that got a message; raw descriptors are polled
next to handles; Ctrl-C stops a blocked poll."""

from __future__ import annotations

import os
import select
import signal
import time

import pytest

import shm_comm
from shm_comm import POLLERR, POLLIN, POLLOUT, Poller, Publisher, Puller, Pusher, Subscriber

#: A child that publishes on ``<base>/<i>`` for ``i < n``: prints "ready",
#: then for each stdin line of indices sends "frame for <i>" on each and
#: prints "sent".
MULTI_PUB = """
    import sys, shm_comm
    base, n = sys.argv[1], int(sys.argv[2])
    pubs = [shm_comm.Publisher(f"{base}/{i}") for i in range(n)]
    print("ready", flush=True)
    for line in sys.stdin:
        for i in map(int, line.split()):
            pubs[i].send(f"frame for {i}")
        print("sent", flush=True)
"""


def readable(fd: int, timeout: float = 0.0) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


@pytest.fixture
def sub_topics(chan):
    """``sub_topics(n)``: the names ``<chan>/<i>``, removed at teardown."""
    made: list[str] = []

    def make(n: int) -> list[str]:
        made.extend(f"{chan}/{i}" for i in range(n))
        return made[-n:]

    yield make
    for name in made:
        shm_comm.force_unlink(name)


def test_fileno_is_readable_after_a_publish_and_rearmed_by_the_empty_receive(chan):
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        fd = sub.fileno()
        assert sub.fileno() == fd
        assert not readable(fd)
        pub.send("a")
        assert readable(fd, 5.0)
        assert sub.recv(timeout=0) == "a"
        # Still readable (edge-triggered: nothing drained it yet) ...
        assert readable(fd)
        # ... until the receive that finds nothing drains and re-arms it.
        assert sub.recv(timeout=0) is None
        assert not readable(fd)
        pub.send("b")
        pub.send("c")
        assert readable(fd, 5.0)
        assert [sub.recv(timeout=0), sub.recv(timeout=0), sub.recv(timeout=0)] == ["b", "c", None]
        assert not readable(fd)


def test_fileno_of_a_puller_and_of_a_pusher_for_room(chan):
    with Pusher(chan, num_slots=2) as push, Puller(chan) as pull:
        pull_fd, push_fd = pull.fileno(), push.fileno()
        assert not readable(pull_fd)
        assert push.send(1, block=False) and push.send(2, block=False)
        assert readable(pull_fd, 5.0)
        assert push.send(3, block=False) is False  # full: re-arms the room bell
        assert not readable(push_fd)
        assert pull.recv(timeout=0) == 1
        assert readable(push_fd, 5.0)
        assert push.send(3, block=False)
        assert [pull.recv(timeout=0), pull.recv(timeout=0), pull.recv(timeout=0)] == [2, 3, None]
        assert not readable(pull_fd)


def test_a_poller_over_256_subscribers_reports_exactly_the_ones_that_got_a_message(
        chan, spawn, sub_topics):
    n = 256
    names = sub_topics(n)
    child = spawn(MULTI_PUB, chan, str(n))
    child.expect("ready", 30)
    subs = [Subscriber(name, timeout_connect=30) for name in names]
    poller = Poller()
    for s in subs:
        poller.register(s)
    assert len(poller) == n
    assert poller.poll(50) == []
    for chosen in ([7], [0, 255], [3, 17, 64, 100, 128, 200, 254], list(range(0, n, 5))):
        child.say(" ".join(map(str, chosen)))
        child.expect("sent")
        seen: set[int] = set()
        deadline = time.monotonic() + 30
        while seen != set(chosen) and time.monotonic() < deadline:
            for obj, flags in poller.poll(5000):
                assert flags == POLLIN
                i = subs.index(obj)
                assert i in chosen, f"reported {i}, which got nothing (sent to {chosen})"
                while (msg := obj.recv(timeout=0)) is not None:
                    assert msg == f"frame for {i}"
                    seen.add(i)
        assert seen == set(chosen)
        # Everything taken: nothing is reported any more.
        assert poller.poll(20) == []
    for s in subs:
        s.close()


def test_raw_descriptors_and_objects_with_fileno_are_polled_next_to_handles(chan):
    r, w = os.pipe()
    try:
        with Publisher(chan) as pub, Subscriber(chan) as sub:
            poller = Poller()
            poller.register(sub)
            poller.register(r, POLLIN)
            assert poller.poll(0) == []
            os.write(w, b"x")
            assert poller.poll(1000) == [(r, POLLIN)]
            os.read(r, 1)
            pub.send(1)
            assert poller.poll(1000) == [(sub, POLLIN)]
            assert sub.recv(timeout=0) == 1
            # An object with fileno(): another subscriber's own doorbell.
            other = Subscriber(chan)
            poller.unregister(sub)
            poller.register(w, POLLOUT)
            assert poller.poll(0) == [(w, POLLOUT)]
            poller.unregister(w)

            class Wrapped:
                def fileno(self) -> int:
                    return other.fileno()

            wrapped = Wrapped()
            poller.register(wrapped)
            assert other.recv(timeout=0) is None  # arms its bell
            pub.send(2)
            assert poller.poll(1000) == [(wrapped, POLLIN)]
            other.close()
    finally:
        os.close(r)
        os.close(w)


def test_register_modify_unregister(chan):
    with Pusher(chan, num_slots=1) as push, Puller(chan) as pull:
        poller = Poller()
        with pytest.raises(ValueError, match="POLLOUT"):
            poller.register(push, POLLIN)
        with pytest.raises(ValueError, match="POLLIN"):
            poller.register(pull, POLLOUT)
        with pytest.raises(TypeError):
            poller.register(object())
        with pytest.raises(KeyError):
            poller.unregister(pull)
        poller.register(push, POLLOUT)
        poller.register(pull)
        poller.modify(pull, POLLIN | POLLERR)
        assert [f for _, f in poller.sockets] == [POLLOUT, POLLIN | POLLERR]
        assert poller.poll(0) == [(push, POLLOUT)]
        assert push.send("job", block=False)
        assert poller.poll(1000) == [(pull, POLLIN)]
        poller.register(pull, 0)  # flags 0 unregisters
        assert len(poller) == 1
        assert poller.poll(20) == []
        assert pull.recv(timeout=0) == "job"
        assert poller.poll(1000) == [(push, POLLOUT)]


def test_ctrl_c_stops_a_blocked_poll_within_250_ms(chan, spawn):
    child = spawn("""
        import sys, time, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        sub = shm_comm.Subscriber(sys.argv[1])
        poller = shm_comm.Poller()
        poller.register(sub)
        print("polling", flush=True)
        try:
            poller.poll()
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
    """, chan)
    child.expect("polling")
    time.sleep(0.3)  # well inside the blocking poll
    sent = time.monotonic()
    child.signal(signal.SIGINT)
    at = float(child.expect("interrupted", 10).split()[1])
    assert at - sent < 0.25, f"KeyboardInterrupt {at - sent:.3f} s after SIGINT"
    assert child.wait() == 0
