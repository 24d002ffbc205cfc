"""Regression tests: each one is a defect of the original pure-Python
shm-comm 1.0.0 (named in its docstring) that this implementation fixes."""

from __future__ import annotations

import os
import pickle
import signal
import struct
import threading
import time

import pytest

import shm_comm
from shm_comm import (
    Puller,
    Publisher,
    Pusher,
    Replier,
    Requester,
    SHMConnectionError,
    SHMTimeoutError,
    Subscriber,
)
from support import segment_file, wait_for

SLACK = 0.15  # seconds a timed call may overrun its timeout


def _segments_of(name: str) -> list[str]:
    return [s for s in shm_comm.list_segments() if s.rsplit(".", 1)[0] == name]


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["robot/pose", "a/b/c/d/e", "sensors/imu.0/raw-data_1"])
def test_names_with_slashes_work(suffix, chan):
    """Original: channel names became POSIX shm names such as
    ``shmcomm_pub_robot/pose``; the ``/`` made ``SharedMemory`` fail, so the
    README's own ``"robot/pose"`` example could not run."""
    name = f"{chan}/{suffix}"
    try:
        with Publisher(name) as pub, Subscriber(name) as sub:
            pub.send({"x": 1})
            assert sub.recv(1.0) == {"x": 1}
        with Replier(name) as rep, Requester(name) as req:
            req.send("q")
            assert rep.recv(1.0) == "q"
            rep.send("a")
            assert req.recv(1.0) == "a"
        with Pusher(name) as push, Puller(name) as pull:
            push.send(1)
            assert pull.recv(1.0) == 1
    finally:
        shm_comm.force_unlink(name)


def test_similar_names_do_not_collide(chan):
    """Escaping must keep ``a/b`` and ``a.b`` (and ``a%2Fb``-like names) apart."""
    names = [f"{chan}/a/b", f"{chan}/a.b", f"{chan}/a_b", f"{chan}/a-b"]
    pubs = [Publisher(n) for n in names]
    try:
        subs = [Subscriber(n) for n in names]
        for i, p in enumerate(pubs):
            p.send(i)
        assert [s.recv(1.0) for s in subs] == [0, 1, 2, 3]
        for s in subs:
            s.close()
    finally:
        for p, n in zip(pubs, names):
            p.close()
            shm_comm.force_unlink(n)


# ---------------------------------------------------------------------------
# Readers that exit never delete the channel
# ---------------------------------------------------------------------------

EXITS = {
    # A normal end of the program (the original's resource tracker unlinked
    # every segment the process had attached when it exited).
    "normal": "",
    "exception": "raise SystemExit(3)",
    "sigkill": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
}


@pytest.mark.parametrize("how", list(EXITS))
def test_subscriber_process_exit_keeps_the_topic(how, chan, spawn):
    """Original: a Subscriber process that exited unlinked the publisher's
    segment (Python's resource tracker cleans up every SharedMemory it saw),
    so the publisher kept writing into a channel no new subscriber could find."""
    with Publisher(chan) as pub:
        child = spawn(f"""
            import sys, shm_comm
            sub = shm_comm.Subscriber(sys.argv[1])
            print("ready", flush=True)
            print("got", sub.recv(timeout=10), flush=True)
            {EXITS[how]}
        """, chan)
        child.expect("ready")
        pub.send("hello")
        assert child.expect("got") == "got hello"
        child.wait()
        assert _segments_of(chan) == [f"{chan}.pub"]
        assert pub.send("still there")
        with Subscriber(chan, timeout_connect=1.0) as sub:
            pub.send("after")
            assert sub.recv(1.0) == "after"


@pytest.mark.parametrize("how", list(EXITS))
def test_requester_process_exit_keeps_the_service(how, chan, spawn):
    """Original: a Requester process that exited unlinked both of the
    replier's segments, killing the service for every later client."""
    with Replier(chan) as rep:
        child = spawn(f"""
            import sys, shm_comm
            req = shm_comm.Requester(sys.argv[1])
            print("reply", req.request("ping", timeout=10), flush=True)
            {EXITS[how]}
        """, chan)
        assert rep.recv(timeout=10) == "ping"
        assert rep.send("pong")
        assert child.expect("reply") == "reply pong"
        child.wait()
        assert _segments_of(chan)
        with Requester(chan, timeout_connect=1.0) as req:
            req.send("again")
            assert rep.recv(1.0) == "again"
            rep.send("ok")
            assert req.recv(1.0) == "ok"


@pytest.mark.parametrize("how", list(EXITS))
def test_puller_process_exit_keeps_the_queue(how, chan, spawn):
    """Original: a Puller process that exited unlinked the work queue."""
    with Pusher(chan) as push:
        child = spawn(f"""
            import sys, shm_comm
            pull = shm_comm.Puller(sys.argv[1])
            print("job", pull.recv(timeout=10), flush=True)
            {EXITS[how]}
        """, chan)
        push.send("first")
        assert child.expect("job") == "job first"
        child.wait()
        assert _segments_of(chan)
        push.send("second")
        with Puller(chan, timeout_connect=1.0) as pull:
            assert pull.recv(1.0) == "second"


# ---------------------------------------------------------------------------
# REQ/REP
# ---------------------------------------------------------------------------


def test_reqrep_keeps_working_after_1000_calls(chan, spawn):
    """Original: REQ/REP stopped answering after 15 calls (the 16-slot
    reply ring filled up and was never reclaimed)."""
    server = spawn("""
        import sys, shm_comm
        with shm_comm.Replier(sys.argv[1]) as rep:
            print("ready", flush=True)
            n = 0
            while True:
                req = rep.recv(timeout=10)
                if req == "stop":
                    rep.send(n)
                    break
                rep.send(req * 2)
                n += 1
    """, chan)
    server.expect("ready")
    with Requester(chan) as req:
        for i in range(1200):
            assert req.request(i, timeout=5.0) == 2 * i, i
        assert req.request("stop", timeout=5.0) == 1200
    assert server.wait() == 0


def test_reply_never_goes_to_the_wrong_request(chan):
    """Original: after a request timed out, its late reply stayed in the
    reply ring and was returned as the answer to the *next* request."""
    with Replier(chan) as rep, Requester(chan) as req:
        def slow_server():
            for _ in range(2):
                r = rep.recv(timeout=5.0)
                if r == "slow":
                    time.sleep(0.3)
                rep.send(("reply to", r))

        t = threading.Thread(target=slow_server)
        t.start()
        with pytest.raises(SHMTimeoutError):
            req.request("slow", timeout=0.1)
        time.sleep(0.3)  # the late reply to "slow" is sent meanwhile
        assert req.request("fast", timeout=2.0) == ("reply to", "fast")
        t.join()


def test_send_recv_reply_to_an_abandoned_request_is_dropped(chan):
    """The same through send()/recv(): a new send() abandons the previous
    request; its reply never comes out of recv()."""
    with Replier(chan) as rep, Requester(chan) as req:
        req.send(1)
        assert req.recv(timeout=0.05) is None
        assert rep.recv(1.0) == 1
        req.send(2)  # abandons request 1
        assert rep.send("answer to 1") is False
        assert rep.recv(1.0) == 2
        assert rep.send("answer to 2") is True
        assert req.recv(1.0) == "answer to 2"
        assert rep.send("extra") is False


def test_reply_never_goes_to_the_wrong_client(chan, spawn):
    """Original: every requester read the same reply ring, so with two
    clients each could take the other's answer."""
    client = """
        import sys, shm_comm
        me = int(sys.argv[2])
        bad = 0
        with shm_comm.Requester(sys.argv[1]) as req:
            print("ready", flush=True)
            sys.stdin.readline()
            for i in range(300):
                r = req.request((me, i), timeout=10)
                if r != ("done", me, i):
                    bad += 1
                    print("wrong", me, i, r, flush=True)
        print("bad", bad, flush=True)
    """
    with Replier(chan) as rep:
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                r = rep.recv(timeout=0.05)
                if r is not None:
                    rep.send(("done", *r))

        t = threading.Thread(target=serve)
        t.start()
        try:
            clients = [spawn(client, chan, k) for k in range(3)]
            for c in clients:
                c.expect("ready")
            for c in clients:
                c.say("go")
            for c in clients:
                assert c.expect("bad", timeout=60) == "bad 0", c.output
                assert c.wait() == 0
        finally:
            stop.set()
            t.join()


# ---------------------------------------------------------------------------
# Integrity under load
# ---------------------------------------------------------------------------

FLOODER = """
    import struct, sys, time, shm_comm
    name, secs, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    with shm_comm.Publisher(name, num_slots=8, slot_size=1024) as pub:
        print("ready", flush=True)
        sys.stdin.readline()
        end = time.monotonic() + secs
        seq = 0
        while time.monotonic() < end:
            for _ in range(100):
                n = 1 + seq % 97
                if mode == "bytes":
                    pub.send_bytes(struct.pack("<Q", seq) * n)
                else:
                    pub.send({"seq": seq, "words": [seq] * n})
                seq += 1
        time.sleep(0.05)
        for _ in range(20):
            pub.send_bytes(b"END") if mode == "bytes" else pub.send("END")
            time.sleep(0.01)
        print("sent", seq, flush=True)
        sys.stdin.readline()
"""


def _check_bytes(b: bytes) -> int:
    seq = struct.unpack_from("<Q", b)[0]
    n = 1 + seq % 97
    if b != struct.pack("<Q", seq) * n:
        raise AssertionError(f"torn message: seq {seq}, {len(b)} bytes")
    return seq


@pytest.mark.parametrize("mode", ["bytes", "pickle"])
def test_no_torn_messages_under_a_flood(mode, chan, spawn):
    """Original: the subscriber copied a slot while the publisher overwrote
    it (no sequence check), returning half-old half-new payloads and
    unpickling errors when a fast publisher lapped a slow reader."""
    flooder = spawn(FLOODER, chan, 1.0, mode)
    flooder.expect("ready")
    got = corrupt = order_errors = borrowed = 0
    last = -1
    with Subscriber(chan) as sub:
        flooder.say("go")
        deadline = time.monotonic() + 15
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                if mode == "bytes" and i % 3 == 0:
                    sample = sub.borrow(timeout=1.0)
                    if sample is None:
                        continue
                    with memoryview(sample) as view:
                        data = bytes(view)
                        if bytes(view) != data:  # a pinned slot must not change
                            corrupt += 1
                    sample.release()
                    borrowed += 1
                elif mode == "bytes":
                    data = sub.recv_bytes(timeout=1.0)
                else:
                    data = sub.recv(timeout=1.0)
            except shm_comm.SHMError:
                corrupt += 1
                continue
            if data is None:
                continue
            if data in (b"END", "END"):
                break
            try:
                if mode == "bytes":
                    seq = _check_bytes(data)
                else:
                    seq = data["seq"]
                    if data["words"] != [seq] * (1 + seq % 97):
                        raise AssertionError(seq)
            except AssertionError:
                corrupt += 1
                continue
            if seq <= last:
                order_errors += 1
            last = seq
            got += 1
        drops = sub.stats()["drop_count"]
    sent = int(flooder.expect("sent").split()[1])
    flooder.say("exit")
    assert flooder.wait() == 0
    print(f"{mode}: sent {sent}, received {got} ({borrowed} borrowed), missed {drops}")
    assert corrupt == 0
    assert order_errors == 0
    assert got > 100
    # Every message was either received or counted as missed.
    assert got + drops == sent


@pytest.mark.parametrize("value", [None, False, 0, "", b"", [], {}, (), 0.0])
def test_falsy_messages_are_delivered(value, chan):
    """Original: ``recv`` polled until it got a truthy value, so ``False``,
    ``0``, ``""``, ``[]`` ... were silently swallowed (skipped, never
    returned), and ``None`` was indistinguishable from a timeout."""
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send(value)
        pub.send("next")
        t0 = time.monotonic()
        got = sub.recv(timeout=5.0)
        assert time.monotonic() - t0 < 1.0  # returned at once, not after the timeout
        assert got == value and type(got) is type(value)
        assert sub.recv(timeout=1.0) == "next"
        assert sub.stats()["lag"] == 0
    # Same for the work queue.
    with Pusher(chan + "q") as push, Puller(chan + "q") as pull:
        try:
            push.send(value)
            push.send("next")
            got = pull.recv(timeout=5.0)
            assert got == value and type(got) is type(value)
            assert pull.recv(timeout=1.0) == "next"
        finally:
            shm_comm.force_unlink(chan + "q")


def test_none_message_is_not_a_timeout(chan):
    """``send(None)``: the subscriber's ``recv`` returns ``None`` at once
    (not after its timeout) and the message is consumed."""
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send(None)
        assert sub.stats()["lag"] == 1
        t0 = time.monotonic()
        assert sub.recv(timeout=3.0) is None
        assert time.monotonic() - t0 < 0.5
        assert sub.stats()["lag"] == 0
        assert sub.recv_frame_bytes(0) is None


TIMED_CALLS = {
    "Subscriber.recv": lambda h, t: h["sub"].recv(timeout=t),
    "Subscriber.recv_bytes": lambda h, t: h["sub"].recv_bytes(timeout=t),
    "Subscriber.borrow": lambda h, t: h["sub"].borrow(timeout=t),
    "Puller.recv": lambda h, t: h["pull"].recv(timeout=t),
    "Replier.recv": lambda h, t: h["rep"].recv(timeout=t),
    "Requester.recv": lambda h, t: (h["req"].send("q") and h["req"].recv(timeout=t)),
}


@pytest.mark.parametrize("timeout", [0, 0.02, 0.25])
@pytest.mark.parametrize("call", list(TIMED_CALLS))
def test_recv_never_waits_longer_than_its_timeout(call, timeout, make_chan):
    """Original: the polling loop slept between checks and did not cap the
    sleep at the deadline, and attach/poll could overrun; here every timed
    receive returns ``None`` within its timeout (+150 ms slack)."""
    a, b, c = make_chan(), make_chan(), make_chan()
    with Publisher(a) as pub, Subscriber(a) as sub, Pusher(b) as push, Puller(b) as pull, \
            Replier(c) as rep, Requester(c) as req:
        handles = {"sub": sub, "pull": pull, "rep": rep, "req": req}
        assert pub and push
        t0 = time.monotonic()
        assert TIMED_CALLS[call](handles, timeout) is None
        took = time.monotonic() - t0
        print(f"{call}(timeout={timeout}): {took * 1e3:.1f} ms")
        assert took < timeout + SLACK
        assert took >= timeout - 0.005


@pytest.mark.parametrize("timeout", [0.02, 0.25])
def test_timed_sends_and_requests_never_overrun(timeout, make_chan):
    a, b = make_chan(), make_chan()
    with Pusher(a, num_slots=1) as push, Puller(a), Replier(b), Requester(b) as req:
        push.send(0)
        t0 = time.monotonic()
        with pytest.raises(shm_comm.SHMBufferFullError):
            push.send(1, timeout=timeout)
        assert timeout - 0.005 <= time.monotonic() - t0 < timeout + SLACK
        t0 = time.monotonic()
        with pytest.raises(SHMTimeoutError):
            req.request(1, timeout=timeout)
        assert timeout - 0.005 <= time.monotonic() - t0 < timeout + SLACK


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


def _run_threads(target, n=4):
    errors = []

    def wrap(k):
        try:
            target(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors


def test_one_puller_shared_by_four_threads(chan):
    """Original: handles kept Python-level cursors with no locking; sharing
    one between threads lost or duplicated messages. Here no job is lost
    or delivered twice."""
    with Pusher(chan, num_slots=64) as push, Puller(chan) as pull:
        got = [[] for _ in range(4)]

        def worker(k):
            while True:
                job = pull.recv(timeout=10)
                if job == "stop":
                    return
                got[k].append(job)

        feeder = threading.Thread(target=lambda: [push.send(i, timeout=20) for i in range(4000)]
                                  + [push.send("stop", timeout=20) for _ in range(4)])
        feeder.start()
        _run_threads(worker)
        feeder.join()
        everything = sorted(x for g in got for x in g)
        assert everything == list(range(4000))
        for g in got:
            assert g == sorted(g)  # each thread sees jobs in queue order


def test_one_subscriber_shared_by_four_threads(chan):
    with Publisher(chan, num_slots=4096) as pub, Subscriber(chan) as sub:
        got = [[] for _ in range(4)]

        def reader(k):
            while True:
                m = sub.recv(timeout=10)
                if m == "stop":
                    return
                got[k].append(m)

        def feed():
            for i in range(3000):
                pub.send(i)
            for _ in range(4):
                pub.send("stop")

        feeder = threading.Thread(target=feed)
        feeder.start()
        _run_threads(reader)
        feeder.join()
        assert sorted(x for g in got for x in g) == list(range(3000))
        assert sub.stats()["drop_count"] == 0


def test_one_subscriber_shared_by_threads_that_borrow(chan):
    with Publisher(chan, num_slots=4096) as pub, Subscriber(chan, max_borrows=8) as sub:
        got = [[] for _ in range(4)]

        def reader(k):
            while True:
                s = sub.borrow(timeout=10)
                if s is None:
                    raise AssertionError("timed out")
                data = s.tobytes()
                s.release()
                if data == b"stop":
                    return
                got[k].append(struct.unpack("<Q", data)[0])

        def feed():
            for i in range(2000):
                pub.send_bytes(struct.pack("<Q", i))
            for _ in range(4):
                pub.send_bytes(b"stop")

        feeder = threading.Thread(target=feed)
        feeder.start()
        _run_threads(reader)
        feeder.join()
        assert sorted(x for g in got for x in g) == list(range(2000))


def test_one_pusher_shared_by_four_threads(chan):
    with Pusher(chan, num_slots=32) as push, Puller(chan) as pull:
        received = []
        done = threading.Event()

        def drain():
            while not done.is_set() or pull.stats()["msg_count"]:
                m = pull.recv(timeout=0.05)
                if m is not None:
                    received.append(m)

        d = threading.Thread(target=drain)
        d.start()
        _run_threads(lambda k: [push.send((k, i), timeout=10) for i in range(1000)])
        done.set()
        d.join(timeout=30)
        assert sorted(received) == sorted((k, i) for k in range(4) for i in range(1000))
        for k in range(4):
            mine = [i for (kk, i) in received if kk == k]
            assert mine == list(range(1000))  # per-thread order kept


def test_one_publisher_shared_by_four_threads(chan):
    with Publisher(chan, num_slots=8192) as pub, Subscriber(chan) as sub:
        _run_threads(lambda k: [pub.send((k, i)) for i in range(1000)])
        got = []
        while (m := sub.recv(0)) is not None:
            got.append(m)
        assert len(got) == 4000 and sub.stats()["drop_count"] == 0
        for k in range(4):
            assert [i for (kk, i) in got if kk == k] == list(range(1000))


def test_handles_closed_while_other_threads_use_them(chan):
    """Closing a handle another thread is using must not crash the process."""
    with Publisher(chan) as pub:
        sub = Subscriber(chan)
        stop = threading.Event()
        outcomes = []

        def reader(k):
            try:
                while not stop.is_set():
                    sub.recv(timeout=0.01)
                    sub.stats()
            except shm_comm.SHMError as e:
                outcomes.append(str(e))

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for i in range(200):
            pub.send(i)
        time.sleep(0.1)
        sub.close()
        for t in threads:
            t.join(timeout=5)
        stop.set()
        assert not any(t.is_alive() for t in threads)
        assert len(outcomes) == 4 and all("closed" in o for o in outcomes)


# ---------------------------------------------------------------------------
# Ownership and bad segments
# ---------------------------------------------------------------------------


def test_second_publisher_on_a_live_topic_is_refused(chan, spawn):
    """Original: a second ``Publisher(name)`` silently re-created (hijacked)
    the segment of a live publisher, cutting its subscribers off."""
    owner = spawn("""
        import sys, shm_comm
        with shm_comm.Publisher(sys.argv[1]) as pub:
            print("ready", flush=True)
            for line in sys.stdin:
                pub.send(line.strip())
    """, chan)
    owner.expect("ready")
    with Subscriber(chan) as sub:
        with pytest.raises(SHMConnectionError) as info:
            Publisher(chan)
        assert str(owner.pid) in str(info.value)
        with pytest.raises(SHMConnectionError):
            Publisher(chan, num_slots=4, slot_size=64)
        # The owner's subscribers are unaffected.
        owner.say("still the owner")
        assert sub.recv(5.0) == "still the owner"
        assert sub.stats()["publisher_pid"] == owner.pid


def test_second_replier_or_pusher_joins_instead_of_hijacking(chan, make_chan):
    """Services and queues are shared: a second creator joins the live one."""
    with Replier(chan) as rep1, Replier(chan) as rep2, Requester(chan) as req:
        req.send(1)
        assert rep2.recv(1.0) == 1  # either replier may take it
        assert rep1.recv(0) is None
    q = make_chan()
    with Pusher(q) as p1, Pusher(q) as p2, Puller(q) as pull:
        p1.send(1)
        p2.send(2)
        assert [pull.recv(1.0), pull.recv(1.0)] == [1, 2]


def _corrupt(path, how):
    if how == "magic":
        with open(path, "r+b") as f:
            f.write(b"GARBAGE!")
    elif how == "header":
        with open(path, "r+b") as f:
            f.write(os.urandom(64))
    elif how == "version":
        with open(path, "r+b") as f:
            f.seek(8)
            f.write(b"\xff\xff\xff\xff")
    elif how == "truncated":
        os.truncate(path, 300)
    elif how == "empty":
        os.truncate(path, 0)
    elif how == "region":
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(256)
            f.write(os.urandom(size - 256))
    else:  # pragma: no cover
        raise ValueError(how)


@pytest.mark.parametrize("how", ["magic", "header", "version", "truncated", "empty", "region"])
def test_corrupt_segment_is_refused_not_a_crash(how, chan, spawn):
    """Original: attaching mapped whatever file had the name and trusted its
    header (sizes, head/tail): garbage meant IndexErrors, hangs or reading
    outside the slot. Here a corrupt segment is refused with an
    ``SHMConnectionError``; a new publisher takes over a dead one's segment,
    and refuses (leaving it in place) a file that is no segment at all."""
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1], num_slots=8)
        for i in range(5):
            pub.send(i)
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # The dead publisher's segment is left behind; find its file.
    assert f"{chan}.pub" in shm_comm.list_segments()
    path = segment_file(chan, "pub")
    assert path.exists(), sorted(os.listdir("/dev/shm"))
    _corrupt(path, how)
    t0 = time.monotonic()
    with pytest.raises(SHMConnectionError) as info:
        Subscriber(chan, timeout_connect=0.5)
    assert chan in str(info.value)
    assert time.monotonic() - t0 < 0.5 + SLACK
    if how in ("magic", "header"):
        # No longer a segment at all: a file that is not ours to delete is
        # left in place (a creator refuses the name and says so); removing
        # it is the user's call.
        with pytest.raises(SHMConnectionError, match="left in place"):
            Publisher(chan)
        assert path.exists()
        assert shm_comm.force_unlink(chan)
    # The name is usable again: the new publisher replaces the dead one's file.
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send("fresh")
        assert sub.recv(1.0) == "fresh"


def test_foreign_file_with_a_channel_name_is_refused(chan):
    """A file that was never a segment (e.g. written by another program)."""
    path = segment_file(chan, "pub")
    path.write_bytes(b"not a segment at all" * 100)
    try:
        with pytest.raises(SHMConnectionError):
            Subscriber(chan, timeout_connect=0.3)
        with pytest.raises(SHMConnectionError):
            Puller(chan, timeout_connect=0.3)  # wrong role: no queue file either
    finally:
        path.unlink(missing_ok=True)


def test_subscriber_on_a_queue_name_is_not_confused(chan):
    """Each pattern has its own segment role: a Subscriber on a name that is
    only a queue finds no topic (the original mixed prefixes by hand)."""
    with Pusher(chan):
        with pytest.raises(SHMConnectionError):
            Subscriber(chan, timeout_connect=0.1)
        with pytest.raises(SHMConnectionError):
            Requester(chan, timeout_connect=0.1)


def test_stale_segment_of_a_killed_publisher_is_reclaimed(chan, spawn):
    """Original: after a crash the segment stayed and the next
    ``Publisher(name)`` failed with FileExistsError until someone called
    ``force_unlink``."""
    child = spawn("""
        import sys, shm_comm
        pub = shm_comm.Publisher(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
    """, chan)
    child.expect("ready")
    child.kill()
    assert wait_for(lambda: f"{chan}.pub" in shm_comm.list_segments(), 1.0)
    with Publisher(chan) as pub, Subscriber(chan) as sub:
        pub.send(pickle.dumps("x"))
        assert pickle.loads(sub.recv(1.0)) == "x"


WITHOUT_MEMORY = """
    import resource, sys, shm_comm
    name, kind, n = sys.argv[1], sys.argv[2], 24 << 20
    if kind == "topic":
        sender = shm_comm.Publisher(name, num_slots=1, slot_size=n, borrow_budget=1)
        receiver = shm_comm.Subscriber(name, timeout_connect=5.0)
        room = 8 << 20          # not even for the `bytes` copied into
    else:
        sender = shm_comm.Pusher(name, num_slots=1, slot_size=n)
        receiver = shm_comm.Puller(name, timeout_connect=5.0)
        room = n + (8 << 20)    # for the job's copy in Rust, not the `bytes` after it
    sender.send_bytes(b"\\x07" * n)
    with open("/proc/self/status") as f:
        vm = int(f.read().split("VmSize:")[1].split()[0]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (vm + room, hard))
    try:
        receiver.recv_bytes(timeout=1.0)
    except MemoryError:
        print("memoryerror", flush=True)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    data = receiver.recv_bytes(timeout=1.0)
    print("got", len(data), data[:1] == b"\\x07" and data[-1:] == b"\\x07", flush=True)
    print("then", receiver.recv_bytes(timeout=0), flush=True)
    receiver.close()
    sender.close()
"""


@pytest.mark.parametrize("kind", ["topic", "queue"])
def test_a_receive_without_memory_for_the_message_loses_nothing(kind, chan, spawn):
    """A topic's `recv_bytes` makes the `bytes` to copy into once it knows
    the length; a queue hands the job over before Python makes its `bytes`.
    If that allocation fails (MemoryError), the message must come with the
    next call, not be lost. The child caps its address space to make it fail."""
    child = spawn(WITHOUT_MEMORY, chan, kind)
    rc = child.wait(30)
    assert rc == 0, f"child exited with {rc}: {child.output} {child.stderr}"
    assert child.output == ["memoryerror", f"got {24 << 20} True", "then None"]


def test_a_subscriber_waits_out_a_publisher_that_is_still_setting_up(chan):
    """A segment file can exist before its creator has initialized it (a
    slow or busy publisher). The subscriber must keep trying until its own
    `timeout_connect`, not give up after one internal slice (it used to,
    after 100 ms, while the example's subscriber had 20 s)."""
    path = segment_file(chan, "pub")
    path.write_bytes(bytes(256))        # sized, never marked ready
    path.chmod(0o600)                   # as the library makes its files
    made = []

    def publisher_comes():
        time.sleep(0.4)
        path.unlink()
        made.append(Publisher(chan))

    t = threading.Thread(target=publisher_comes)
    t0 = time.monotonic()
    t.start()
    try:
        with Subscriber(chan, timeout_connect=10.0) as sub:
            assert time.monotonic() - t0 >= 0.4
            made[0].send("late")
            assert sub.recv(1.0) == "late"
    finally:
        t.join()
        for p in made:
            p.close()
        path.unlink(missing_ok=True)

    # Never initialized at all: an error once `timeout_connect` is over.
    path.write_bytes(bytes(256))
    path.chmod(0o600)
    try:
        t0 = time.monotonic()
        with pytest.raises(SHMConnectionError, match="not initialized"):
            Subscriber(chan, timeout_connect=0.5)
        assert time.monotonic() - t0 >= 0.45
    finally:
        path.unlink(missing_ok=True)


FINALIZER_DURING_AN_ERROR = """
    import gc, sys, shm_comm
    pub = shm_comm.Publisher(sys.argv[1], slot_size=64)
    class UsesThePublisher:
        def __del__(self):
            print("finalizer", pub.stats()["msg_count"], flush=True)
    junk = UsesThePublisher()
    junk.me = junk                  # a cycle: only a collection frees it
    del junk
    gc.set_threshold(1)             # the next tracked allocation collects
    try:
        pub.send_bytes(b"x" * 65)   # too large: an error built under the lock
    except shm_comm.SHMMessageTooLargeError:
        print("refused", flush=True)
    gc.collect()
    pub.close()
    print("ok", flush=True)
"""


def test_a_finalizer_using_the_publisher_during_its_error_does_not_hang(chan, spawn):
    """Errors are built lazily, so no Python object is made (and no garbage
    collection, which can run finalizers, starts) while a publisher's lock
    is held: a finalizer that uses that publisher does not deadlock."""
    child = spawn(FINALIZER_DURING_AN_ERROR, chan)
    rc = child.wait(20)
    assert rc == 0, f"child exited with {rc} (None: hung): {child.output} {child.stderr}"
    assert "refused" in child.output and "finalizer 0" in child.output
    assert child.output[-1] == "ok"
