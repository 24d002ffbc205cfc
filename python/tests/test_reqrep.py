"""REQ/REP: Requester and Replier."""

from __future__ import annotations

import pickle
import threading
import time

import pytest

import shm_comm
from shm_comm import Replier, Requester, SHMConnectionError, SHMError, SHMTimeoutError

SLACK = 0.15


class Server:
    """A replier serving in a thread: ``handler(request) -> reply``."""

    def __init__(self, rep: Replier, handler=lambda r: ("echo", r)):
        self.rep = rep
        self.handler = handler
        self.stop = threading.Event()
        self.served = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            frame = self.rep.recv_bytes(timeout=0.05)
            if frame is None:
                continue
            # recv_bytes, not recv: a None request must not look like a timeout.
            self.rep.send(self.handler(pickle.loads(frame)))
            self.served += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def test_request_returns_the_reply(chan):
    with Replier(chan) as rep, Requester(chan) as req, Server(rep):
        assert req.request({"command": "ping"}, timeout=2.0) == ("echo", {"command": "ping"})
        assert req.request([1, 2, 3]) == ("echo", [1, 2, 3])


def test_send_then_recv(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        assert req.send({"q": 1}) is True
        assert rep.recv(timeout=1.0) == {"q": 1}
        assert rep.send({"a": 2}) is True
        assert req.recv(timeout=1.0) == {"a": 2}


def test_send_bytes_and_recv_bytes(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        req.send_bytes(bytearray(b"\x01\x02"))
        assert rep.recv_bytes(timeout=1.0) == b"\x01\x02"
        rep.send_bytes(memoryview(b"\x03"))
        assert req.recv_bytes(timeout=1.0) == b"\x03"
        # Raw frames come out of recv() as bytes.
        req.send_bytes(b"raw")
        assert rep.recv(timeout=1.0) == b"raw"
        rep.send_bytes(b"reply")
        assert req.recv(timeout=1.0) == b"reply"


def test_request_timeout_raises(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        t0 = time.monotonic()
        with pytest.raises(SHMTimeoutError) as info:
            req.request("nobody answers", timeout=0.2)
        took = time.monotonic() - t0
        assert 0.19 <= took < 0.2 + SLACK
        assert isinstance(info.value, TimeoutError)
        assert chan in str(info.value)
        assert "alive" in str(info.value)
        # The request did reach the replier; its reply is refused (nobody waits).
        assert rep.recv(timeout=1.0) == "nobody answers"
        assert rep.send("too late") is False


def test_request_timeout_says_when_no_replier_is_alive(chan):
    rep = Replier(chan)
    req = Requester(chan)
    rep.close()
    with pytest.raises(SHMTimeoutError, match="no replier"):
        req.request(1, timeout=0.1)
    req.close()


def test_request_without_timeout_waits(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        def answer_late():
            r = rep.recv(timeout=2.0)
            time.sleep(0.3)
            rep.send(("late", r))

        t = threading.Thread(target=answer_late)
        t.start()
        t0 = time.monotonic()
        assert req.request("q", timeout=None) == ("late", "q")
        assert time.monotonic() - t0 >= 0.25
        t.join()


def test_requester_recv_timeout_returns_none_and_keeps_the_request(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        req.send("q")
        t0 = time.monotonic()
        assert req.recv(timeout=0.1) is None
        assert time.monotonic() - t0 < 0.1 + SLACK
        assert rep.recv(timeout=1.0) == "q"
        assert rep.send("a") is True
        # The request stayed pending: the reply still arrives.
        assert req.recv(timeout=1.0) == "a"


def test_requester_recv_without_a_request_raises(chan):
    with Replier(chan), Requester(chan) as req:
        with pytest.raises(SHMError, match="send"):
            req.recv(timeout=0)


def test_replier_recv_timeout_returns_none(chan):
    with Replier(chan) as rep, Requester(chan):
        t0 = time.monotonic()
        assert rep.recv(timeout=0.1) is None
        assert rep.recv_bytes(timeout=0) is None
        assert time.monotonic() - t0 < 0.1 + SLACK


def test_replier_send_without_a_request_returns_false(chan):
    with Replier(chan) as rep, Requester(chan):
        assert rep.send("unsolicited") is False


def test_each_request_gets_exactly_one_reply(chan):
    with Replier(chan) as rep, Requester(chan) as req:
        req.send(1)
        assert rep.recv(1.0) == 1
        assert rep.send("first") is True
        assert rep.send("second") is False  # no request left to answer
        assert req.recv(1.0) == "first"


def test_none_and_false_replies_are_delivered(chan):
    with Replier(chan) as rep, Requester(chan) as req, Server(rep, handler=lambda r: r):
        assert req.request(None, timeout=2.0) is None
        assert req.request(False, timeout=2.0) is False
        assert req.request(0, timeout=2.0) == 0
        assert req.request("", timeout=2.0) == ""


def test_requester_without_replier_times_out_connecting(chan):
    t0 = time.monotonic()
    with pytest.raises(SHMConnectionError):
        Requester(chan, timeout_connect=0.2)
    assert time.monotonic() - t0 < 0.2 + SLACK


def test_second_replier_serves_the_same_service(chan):
    """Several repliers may serve one service; each request is answered once."""
    with Replier(chan) as rep1, Replier(chan) as rep2, Requester(chan) as req:
        with Server(rep1, handler=lambda r: ("one", r)) as s1, \
                Server(rep2, handler=lambda r: ("two", r)) as s2:
            replies = [req.request(i, timeout=2.0) for i in range(50)]
        assert [r[1] for r in replies] == list(range(50))
        assert {r[0] for r in replies} <= {"one", "two"}
        assert s1.served + s2.served == 50


def test_many_requesters_one_replier(chan):
    with Replier(chan) as rep, Server(rep, handler=lambda r: r * 2):
        reqs = [Requester(chan) for _ in range(8)]
        try:
            errors = []

            def client(k, req):
                for i in range(50):
                    got = req.request(k * 1000 + i, timeout=5.0)
                    if got != 2 * (k * 1000 + i):
                        errors.append((k, i, got))

            threads = [threading.Thread(target=client, args=(k, r)) for k, r in enumerate(reqs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            assert not errors
        finally:
            for r in reqs:
                r.close()


def test_replier_stats(chan):
    with Replier(chan) as rep:
        st = rep.stats()
        assert st["requesters"] == 0 and st["pending"] == 0
        with Requester(chan) as req:
            assert rep.stats()["requesters"] == 1
            assert req.repliers() == 1
            req.send(1)
            assert rep.stats()["pending"] == 1
            rep.recv(1.0)
            assert rep.stats()["pending"] == 0
        assert rep.stats()["requesters"] == 0


def test_service_lives_until_its_last_participant_leaves(chan):
    rep = Replier(chan)
    req = Requester(chan)
    rep.close()
    assert any(s.startswith(chan + ".") for s in shm_comm.list_segments())
    req.close()
    assert not any(s.startswith(chan + ".") for s in shm_comm.list_segments())


def test_replier_in_another_process(chan, spawn):
    child = spawn("""
        import sys, shm_comm
        with shm_comm.Replier(sys.argv[1]) as rep:
            print("ready", flush=True)
            served = 0
            while True:
                req = rep.recv(timeout=10)
                if req == "stop":
                    rep.send("bye")
                    break
                rep.send({"status": "ok", "echo": req})
                served += 1
            print("served", served, flush=True)
    """, chan)
    child.expect("ready")
    with Requester(chan) as req:
        for i in range(20):
            assert req.request({"n": i}, timeout=5.0) == {"status": "ok", "echo": {"n": i}}
        assert req.request("stop", timeout=5.0) == "bye"
    assert child.expect("served") == "served 20"
    assert child.wait() == 0


def test_msgpack_service(chan):
    with Replier(chan, serialization="msgpack") as rep, \
            Requester(chan, serialization="msgpack") as req:
        req.send({"cmd": "get", "args": [1, 2.5, None]})
        assert rep.recv(1.0) == {"cmd": "get", "args": [1, 2.5, None]}
        rep.send({"ok": True})
        assert req.recv(1.0) == {"ok": True}
