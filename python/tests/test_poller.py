"""``fileno()``: a handle's descriptor is readable exactly when its channel
got something (edge-triggered, re-armed by the empty receive)."""

from __future__ import annotations

import select

from shm_comm import Publisher, Puller, Pusher, Subscriber


def readable(fd: int, timeout: float = 0.0) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


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
