"""``shm_comm.asyncio``: the waiting calls are coroutines that wait on the
handles' descriptors in the event loop. One task gathers every message of
50 topics fed by another process; a cancelled ``recv`` loses no message; a
cancelled or timed-out ``request`` is withdrawn (its late reply is
discarded); ``Pusher.send`` waits for room; the Poller is awaitable; loops
without ``add_reader`` fall back to a thread; uvloop where installed."""

from __future__ import annotations

import ast
import asyncio
import inspect
import select
from pathlib import Path
from typing import Any

import pytest

import shm_comm
import shm_comm.asyncio as shm

TOPICS = 50
PER_TOPIC = 20

#: A replier in its own process: answers ``{"id": i, "delay": s}`` with
#: ``i`` after ``s`` seconds, one request at a time.
SLOW_REPLIER = """
    import sys, time, shm_comm
    with shm_comm.Replier(sys.argv[1]) as rep:
        print("ready", flush=True)
        while True:
            req = rep.recv(timeout=30)
            if req is None:
                break
            time.sleep(req["delay"])
            rep.send(req["id"])
"""


def run(coro: Any, loop_factory: Any = None) -> Any:
    if loop_factory is None:
        return asyncio.run(coro)
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture
def sub_topics(chan):
    made: list[str] = []

    def make(n: int) -> list[str]:
        made.extend(f"{chan}/{i}" for i in range(n))
        return made[-n:]

    yield make
    for name in made:
        shm_comm.force_unlink(name)


def test_one_task_gathers_every_message_of_50_topics_fed_by_another_process(
        chan, spawn, sub_topics):
    names = sub_topics(TOPICS)
    child = spawn("""
        import sys, shm_comm
        base, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        pubs = [shm_comm.Publisher(f"{base}/{i}") for i in range(n)]
        print("ready", flush=True)
        sys.stdin.readline()
        for j in range(k):
            for i, p in enumerate(pubs):
                p.send((i, j))
        print("sent", flush=True)
        sys.stdin.readline()
    """, chan, str(TOPICS), str(PER_TOPIC))
    child.expect("ready", 30)

    async def gather() -> dict[int, list[int]]:
        subs = [shm.Subscriber(name, timeout_connect=30) for name in names]
        got: dict[int, list[int]] = {i: [] for i in range(TOPICS)}

        async def drain(i: int, sub: shm.Subscriber[Any]) -> None:
            while len(got[i]) < PER_TOPIC:
                msg = await sub.recv(timeout=30)
                assert msg is not None, f"topic {i}: timed out after {got[i]}"
                topic, j = msg
                assert topic == i
                got[i].append(j)

        child.say("go")
        await asyncio.wait_for(asyncio.gather(*(drain(i, s) for i, s in enumerate(subs))), 60)
        for s in subs:
            s.close()
        return got

    got = run(gather())
    assert got == {i: list(range(PER_TOPIC)) for i in range(TOPICS)}
    child.expect("sent")
    child.say("exit")
    assert child.wait() == 0


def test_a_cancelled_recv_loses_no_message(chan):
    async def main() -> list[Any]:
        with shm.Publisher(chan) as pub, shm.Subscriber(chan) as sub:
            task = asyncio.create_task(sub.recv())
            await asyncio.sleep(0.05)  # waiting on the descriptor
            task.cancel()
            pub.send("first")  # after the cancel, before the task ends
            with pytest.raises(asyncio.CancelledError):
                await task
            got = [await sub.recv(timeout=5)]
            # Cancelled when the descriptor is readable, before the take.
            task = asyncio.create_task(sub.recv())
            await asyncio.sleep(0.05)
            pub.send("second")
            # Readable now; the task has not run since (no await here).
            assert select.select([sub.fileno()], [], [], 5)[0]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return got + [await sub.recv(timeout=5), await sub.recv(timeout=0)]

    assert run(main()) == ["first", "second", None]


def test_a_cancelled_or_timed_out_request_is_withdrawn(chan, spawn):
    child = spawn(SLOW_REPLIER, chan)
    child.expect("ready")

    async def main() -> list[Any]:
        with shm.Requester(chan, timeout_connect=10) as req:
            task = asyncio.create_task(req.request({"id": 1, "delay": 0.3}, timeout=10))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Answered after request 1's late reply, which must not be ours.
            second = await req.request({"id": 2, "delay": 0}, timeout=10)
            with pytest.raises(shm_comm.SHMTimeoutError):
                await req.request({"id": 3, "delay": 0.3}, timeout=0.05)
            third = await req.request({"id": 4, "delay": 0}, timeout=10)
            return [second, third]

    assert run(main()) == [2, 4]


def test_replier_and_requester_in_one_loop(chan):
    async def main() -> list[Any]:
        with shm.Replier(chan) as rep, shm.Requester(chan) as req:
            async def serve() -> None:
                while True:
                    r = await rep.recv()
                    rep.send(r * 2)

            server = asyncio.create_task(serve())
            answers = [await req.request(i) for i in range(20)]
            server.cancel()
            return answers

    assert run(main()) == [2 * i for i in range(20)]


def test_pusher_send_waits_for_room_and_puller_recv(chan):
    async def main() -> list[Any]:
        with shm.Pusher(chan, num_slots=2) as push, shm.Puller(chan) as pull:
            assert await push.send(0) and await push.send(1)
            assert await push.send(2, block=False) is False
            with pytest.raises(shm_comm.SHMBufferFullError):
                await push.send(2, timeout=0.05)
            sending = asyncio.create_task(push.send(2, timeout=10))
            await asyncio.sleep(0.05)
            assert not sending.done()  # waiting for room
            got = [await pull.recv(timeout=5)]
            assert await sending
            got += [await pull.recv(timeout=5), await pull.recv(timeout=5)]
            assert await pull.recv(timeout=0.02) is None
            return got

    assert run(main()) == [0, 1, 2]


def test_the_asyncio_poller(chan):
    async def main() -> None:
        with shm.Publisher(chan) as pub, shm.Subscriber(chan) as sub:
            poller = shm.Poller()
            poller.register(sub, shm.POLLIN)
            assert await poller.poll(20) == []
            later = asyncio.get_running_loop().call_later(0.05, pub.send, "x")
            assert await poller.poll(5000) == [(sub, shm.POLLIN)]
            later.cancel()
            assert await sub.recv(timeout=0) == "x"
            assert await poller.poll(0) == []

    run(main())


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without ``add_reader``, as Windows' proactor loop."""

    def add_reader(self, *args: Any) -> None:
        raise NotImplementedError

    def add_writer(self, *args: Any) -> None:
        raise NotImplementedError


def test_a_loop_without_add_reader_falls_back_to_a_thread(chan):
    async def main() -> list[Any]:
        with shm.Publisher(chan) as pub, shm.Subscriber(chan) as sub:
            asyncio.get_running_loop().call_later(0.05, pub.send, "via a thread")
            first = await sub.recv(timeout=5)
            task = asyncio.create_task(sub.recv())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            pub.send("kept")
            return [first, await sub.recv(timeout=5)]

    assert run(main(), NoReaderLoop) == ["via a thread", "kept"]


def test_uvloop_where_installed(chan):
    uvloop = pytest.importorskip("uvloop")

    async def main() -> Any:
        with shm.Publisher(chan) as pub, shm.Subscriber(chan) as sub:
            asyncio.get_running_loop().call_later(0.05, pub.send, "uv")
            return await sub.recv(timeout=5)

    assert run(main(), uvloop.new_event_loop) == "uv"


def test_the_stub_matches_the_module():
    """``asyncio.pyi`` lists every public member of every class, and a
    member is ``async def`` there exactly when it is a coroutine function."""
    stub = ast.parse(Path(shm.__file__).with_suffix(".pyi").read_text(encoding="utf-8"))
    classes = {n.name: n for n in stub.body if isinstance(n, ast.ClassDef)}
    assert set(classes) | {"Publisher", "MultiPublisher"} == {n for n in shm.__all__ if n[0].isupper()
                                            and not n.startswith("POLL")} - {"Sample", "Loan"}
    for name, node in classes.items():
        cls = getattr(shm, name)
        members = {m.name: m for m in node.body
                   if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
        runtime = {n for n in dir(cls) if not n.startswith("_")}
        assert {n for n in members if not n.startswith("_")} == runtime, name
        for m, fn in members.items():
            if m.startswith("_") or isinstance(inspect.getattr_static(cls, m), property):
                continue
            is_async = isinstance(fn, ast.AsyncFunctionDef)
            assert inspect.iscoroutinefunction(getattr(cls, m)) == is_async, f"{name}.{m}"


MULTI_PUBLISHER = """
    import sys, shm_comm
    name, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with shm_comm.MultiPublisher(name, serialization="msgpack") as pub:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(count):
            pub.send({"tag": tag, "i": i})
        print("sent", flush=True)
        sys.stdin.readline()
"""


def test_a_multi_subscriber_gathers_publisher_processes_and_cancels_cleanly(chan, spawn):
    count = 50

    async def main() -> dict[str, list[int]]:
        with shm.MultiSubscriber(chan, serialization="msgpack") as sub:
            # Cancelled while waiting: takes nothing.
            task = asyncio.create_task(sub.recv())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            kids = [spawn(MULTI_PUBLISHER, chan, tag, count) for tag in "ab"]
            for kid in kids:
                kid.expect("ready")
            for kid in kids:
                kid.say("go")
            seen: dict[str, list[int]] = {"a": [], "b": []}
            while sum(map(len, seen.values())) < 2 * count:
                got = await sub.recv_from(timeout=10)
                assert got is not None, seen
                seen[got[1]["tag"]].append(got[1]["i"])
            assert await sub.recv(timeout=0.05) is None
            for kid in kids:
                kid.expect("sent")
                kid.say("exit")
                assert kid.wait() == 0
            return seen

    assert run(main()) == {"a": list(range(count)), "b": list(range(count))}
