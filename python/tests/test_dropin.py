"""What code written for shm-comm 1.0.0 relies on beyond the classes: the
version, the module names it imports, the keys of ``stats()``, the loggers."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging

import pytest

import shm_comm
from shm_comm import Publisher, Puller, Pusher, Replier, Requester, Subscriber, _native

#: The keys of 1.0.0's ``stats()`` (its ``buffer.get_stats``).
ORIGINAL_STATS_KEYS = {"head", "tail", "num_slots", "slot_size", "msg_count", "drop_count",
                       "used_slots", "free_slots"}


def test_one_version_from_one_place():
    """The wheel's version (the installed metadata) is ``__version__``, and
    it succeeds 1.0.0 so that ``pip install -U`` and ``shm-comm>=1.0`` pick it."""
    version = importlib.metadata.version("shm-comm")
    assert shm_comm.__version__ == _native.__version__ == version
    assert tuple(int(p) for p in version.split(".")[:2]) >= (2, 0)


@pytest.mark.parametrize("module, names", [
    ("shm_comm.exceptions", ["SHMError", "SHMConnectionError", "SHMTimeoutError",
                             "SHMBufferFullError", "SHMSerializationError"]),
    ("shm_comm.utils", ["force_unlink", "list_segments", "pub_segment_name", "req_segment_name",
                        "rep_segment_name", "push_segment_name", "platform_name", "is_linux",
                        "is_windows", "poll_until"]),
    ("shm_comm.patterns", ["Publisher", "Subscriber", "Requester", "Replier", "Pusher", "Puller"]),
    ("shm_comm.patterns.pubsub", ["Publisher", "Subscriber"]),
    ("shm_comm.patterns.reqrep", ["Requester", "Replier"]),
    ("shm_comm.patterns.pipeline", ["Pusher", "Puller"]),
])
def test_modules_of_1_0_0_are_aliases(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"
        if hasattr(shm_comm, name):
            assert getattr(mod, name) is getattr(shm_comm, name)


def test_segment_name_helpers_name_what_list_segments_lists(make_chan):
    from shm_comm.utils import pub_segment_name, push_segment_name, rep_segment_name
    topic, svc, queue = make_chan(), make_chan(), make_chan()
    with Publisher(topic), Replier(svc), Pusher(queue):
        listed = shm_comm.list_segments()
        for seg in (pub_segment_name(topic), rep_segment_name(svc), push_segment_name(queue)):
            assert seg in listed


def test_stats_keep_the_keys_of_1_0_0(chan, make_chan):
    with Publisher(chan, num_slots=8) as pub, Subscriber(chan) as sub:
        for i in range(10):
            pub.send(i)
        st = pub.stats()
        assert ORIGINAL_STATS_KEYS <= set(st)
        assert (st["head"], st["tail"], st["msg_count"]) == (10, 2, 10)
        assert (st["used_slots"], st["free_slots"], st["num_slots"]) == (8, 0, 8)
        st = sub.stats()
        assert ORIGINAL_STATS_KEYS | {"local_tail"} <= set(st)
        assert (st["head"], st["tail"], st["local_tail"], st["lag"]) == (10, 2, 0, 10)
    queue = make_chan()
    with Pusher(queue, num_slots=16) as push, Puller(queue) as pull:
        push.send(1)
        push.send(2)
        for st in (push.stats(), pull.stats()):
            assert ORIGINAL_STATS_KEYS <= set(st)
            assert (st["used_slots"], st["free_slots"]) == (2, 14)
            assert (st["head"], st["tail"]) == (2, 0)
        pull.recv()
        assert (pull.stats()["head"], pull.stats()["tail"]) == (2, 1)


def test_lifecycle_is_logged_under_the_names_of_1_0_0(make_chan, caplog):
    topic, svc, queue = make_chan(), make_chan(), make_chan()
    caplog.set_level(logging.INFO, logger="shmcomm")
    with Publisher(topic, num_slots=8, slot_size=128), Subscriber(topic):
        pass
    with Replier(svc), Requester(svc):
        pass
    with Pusher(queue), Puller(queue):
        pass
    got = [(r.name, r.getMessage()) for r in caplog.records]
    assert got == [
        ("shmcomm.pubsub", f"Publisher({topic!r}) ready — 8 slots × 128 bytes"),
        ("shmcomm.pubsub", f"Subscriber({topic!r}) connected"),
        ("shmcomm.pubsub", f"Subscriber({topic!r}) closed"),
        ("shmcomm.pubsub", f"Publisher({topic!r}) closed"),
        ("shmcomm.reqrep", f"Replier({svc!r}) ready"),
        ("shmcomm.reqrep", f"Requester({svc!r}) connected"),
        ("shmcomm.reqrep", f"Requester({svc!r}) closed"),
        ("shmcomm.reqrep", f"Replier({svc!r}) closed"),
        ("shmcomm.pipeline", f"Pusher({queue!r}) ready — 128 slots × 4096 bytes"),
        ("shmcomm.pipeline", f"Puller({queue!r}) connected"),
        ("shmcomm.pipeline", f"Puller({queue!r}) closed"),
        ("shmcomm.pipeline", f"Pusher({queue!r}) closed"),
    ]


def test_dead_peers_and_replaced_segments_are_logged(chan, spawn, caplog):
    # A publisher killed with SIGKILL leaves its topic; the next publisher
    # replaces it (WARNING, naming the dead pid) and the subscriber that
    # was waiting moves to it (INFO), as 1.0.0 logged a dead peer.
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    caplog.set_level(logging.INFO, logger="shmcomm")
    with Subscriber(chan) as sub:
        dead = child.pid
        child.kill()
        with Publisher(chan) as pub:
            replaced = [(r.name, r.levelname, r.getMessage()) for r in caplog.records
                        if r.levelname == "WARNING"]
            assert replaced == [(
                "shmcomm.pubsub", "WARNING",
                f"replaced the pub segment of {chan!r} left by dead process {dead}"
                .replace("'", '"'),
            )]
            got = None
            for _ in range(200):
                pub.send("again")
                got = sub.recv(timeout=0.02)
                if got is not None:
                    break
            assert got == "again"
    moved = [(r.name, r.levelname) for r in caplog.records
             if "attached to the new publisher" in r.getMessage()]
    assert moved == [("shmcomm.pubsub", "INFO")]
