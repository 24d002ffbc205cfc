"""Rows for event loops and many channels: ``await sub.recv()`` against
``zmq.asyncio``, the Poller's wake-up with 1 and 256 registered topics, and
the CPU an idle Poller over 1,000 handles costs.

- ``async`` mode ping-pongs: both processes run an asyncio loop (the default
  loop) and ``await`` every receive, ours on ``shm_comm.asyncio``
  (``loop.add_reader`` on the subscriber's doorbell), pyzmq's on
  ``zmq.asyncio`` PAIR over ``ipc://``.
- ``poller`` ping-pongs: the echo waits with ``shm_comm.Poller`` over
  ``topics`` subscribers and the driver pings each topic in turn (the
  driver receives the pong with a blocking ``recv``), so a row shows
  (Poller wake-up + blocking wake-up) / 2.
- ``idle``: the echo process opens ``handles`` subscribers (the driver
  publishes them), registers them all with a Poller and measures its own CPU
  time (user + system) over ``poll`` calls that find nothing for
  ``idle_s`` seconds.
"""

from __future__ import annotations

import array
import asyncio
import resource
import time

from common import MAX_SAMPLES, REPLY_LIMIT_S
from peers import Failed, Kit, _bytes_codec, _names, _parent_gone


class AioShm(Kit):
    """shm_comm.asyncio PUB/SUB, two topics (ping, pong); ``arecv`` is a
    coroutine."""

    def __init__(self, spec, side):
        import shm_comm.asyncio as shm
        self.m = shm
        self.spec = spec
        _bytes_codec(self)
        self.pub = self.sub = None

    def driver_pre(self):
        self.pub = self.m.Publisher(_names(self.spec)[0], num_slots=64, slot_size=4096)

    def driver_post(self):
        self.sub = self.m.Subscriber(_names(self.spec)[1], timeout_connect=20.0)
        self._bind()

    def echo_setup(self):
        ping, pong = _names(self.spec)
        self.sub = self.m.Subscriber(ping, timeout_connect=20.0)
        self.pub = self.m.Publisher(pong, num_slots=64, slot_size=4096)
        self._bind()

    def _bind(self):
        self.send = self.reply = self.pub.send_bytes
        self.arecv = self.sub.recv_bytes

    def close(self):
        for x in (self.sub, self.pub):
            if x is not None:
                x.close()


class AioZmq(Kit):
    """zmq.asyncio PAIR over ipc://; ``arecv`` awaits ``sock.recv()``."""

    def __init__(self, spec, side):
        import zmq
        import zmq.asyncio
        self.zmq = zmq
        self.spec = spec
        self.ctx = zmq.asyncio.Context()
        _bytes_codec(self)
        self.sock = None

    def _bind(self):
        # The timeout is the socket's RCVTIMEO (1 s, set once), as in the
        # blocking zmq rows: no timer per receive.
        sock, again = self.sock, self.zmq.Again
        sock.setsockopt(self.zmq.RCVTIMEO, 1000)

        async def arecv(_timeout, r=sock.recv):
            try:
                return await r()
            except again:
                return None

        self.arecv = arecv
        self.send = self.reply = sock.send   # returns a future, done at once for PAIR

    def driver_pre(self):
        self.sock = self.ctx.socket(self.zmq.PAIR)
        self.sock.setsockopt(self.zmq.LINGER, 0)
        self.sock.bind(f"ipc://{self.spec['tmpdir']}/{self.spec['tag']}.ipc")
        self.spec["zmq_endpoint"] = self.sock.getsockopt_string(self.zmq.LAST_ENDPOINT)

    def driver_post(self):
        self._bind()

    def echo_setup(self):
        self.sock = self.ctx.socket(self.zmq.PAIR)
        self.sock.setsockopt(self.zmq.LINGER, 0)
        self.sock.connect(self.spec["zmq_endpoint"])
        self._bind()

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
        self.ctx.term()


def _resolve(fut, value):
    if not fut.done():
        fut.set_result(value)


class AioSocket(Kit):
    """The asyncio floor: Unix datagram sockets, ``loop.add_reader`` and a
    non-blocking ``recv`` per message (what any fd-based transport pays
    in an asyncio loop, with no library in between)."""

    def __init__(self, spec, side):
        import socket
        self.spec = spec
        _bytes_codec(self)
        me, peer = ("drv", "echo") if side == "driver" else ("echo", "drv")
        base = f"{spec['tmpdir']}/{spec['tag']}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(f"{base}.{me}")
        self.peer = f"{base}.{peer}"

    def _bind(self):
        sock, peer, fd = self.sock, self.peer, self.sock.fileno()

        async def arecv(timeout):
            loop = asyncio.get_running_loop()
            while True:
                try:
                    return sock.recv(128)
                except BlockingIOError:
                    pass
                fut = loop.create_future()
                loop.add_reader(fd, _resolve, fut, True)
                timer = loop.call_later(timeout, _resolve, fut, False)
                try:
                    await fut
                finally:
                    timer.cancel()
                    loop.remove_reader(fd)
                if not fut.result():
                    return None         # timed out

        self.arecv = arecv
        self.send = self.reply = lambda m: sock.sendto(m, peer)

    def driver_pre(self):
        pass

    def driver_post(self):
        self._bind()

    def echo_setup(self):
        self._bind()

    def close(self):
        self.sock.close()


def pingpong_driver(kit, spec):
    """The ping-pong of ``peers.pingpong_driver``, awaiting each reply in
    an asyncio loop. Returns (samples in µs, bad replies)."""

    async def run():
        send, arecv, make, check = kit.send, kit.arecv, kit.make, kit.check
        now = time.perf_counter_ns
        warm_end = now() + int(spec["warmup"] * 1e9)
        end = warm_end + int(spec["duration"] * 1e9)
        limit = int(REPLY_LIMIT_S * 1e9)
        samples = array.array("d")
        bad = i = 0
        while True:
            i += 1
            m = make(i)
            ta = now()
            send(m)
            r = await arecv(1.0)
            while r is None:
                if now() - ta > limit:
                    raise Failed(f"no reply to message {i} within {REPLY_LIMIT_S:.0f} s")
                r = await arecv(1.0)
            tb = now()
            if not check(r, m, i):
                bad += 1
            if tb >= warm_end:
                samples.append((tb - ta) / 2000.0)
                if tb >= end or len(samples) >= MAX_SAMPLES:
                    break
        kit.send(kit.stop)
        return samples, bad

    return asyncio.run(run())


def echo_loop(kit, spec, ppid):
    async def run():
        arecv, reply, is_stop = kit.arecv, kit.reply, kit.is_stop
        while True:
            r = await arecv(1.0)
            if r is None:
                if _parent_gone(ppid):
                    return
                continue
            if is_stop(r):
                return
            reply(r)

    asyncio.run(run())


class PollerPing(Kit):
    """The echo waits with a ``shm_comm.Poller`` over ``topics`` ping
    subscribers; the driver pings topic ``i % topics`` and receives the pong
    with a blocking ``recv_bytes``."""

    def __init__(self, spec, side):
        import shm_comm
        self.m = shm_comm
        self.spec = spec
        self.n = spec["topics"]
        _bytes_codec(self)
        self.pubs = []
        self.subs = []
        self.pub = self.sub = None

    def _ping(self, i):
        return f"{_names(self.spec)[0]}/{i}"

    def driver_pre(self):
        self.pubs = [self.m.Publisher(self._ping(i), num_slots=8, slot_size=128)
                     for i in range(self.n)]

    def driver_post(self):
        self.sub = self.m.Subscriber(_names(self.spec)[1], timeout_connect=20.0)
        pubs, n = self.pubs, self.n

        def send(m):
            pubs[int.from_bytes(m[:8], "little") % n].send_bytes(m)

        self.send = send
        self.recv = self.sub.recv_bytes

    def echo_setup(self):
        self.subs = [self.m.Subscriber(self._ping(i), timeout_connect=20.0)
                     for i in range(self.n)]
        self.pub = self.m.Publisher(_names(self.spec)[1], num_slots=64, slot_size=4096)
        self.poller = self.m.Poller()
        for s in self.subs:
            self.poller.register(s)
        pending = []
        poll = self.poller.poll

        def recv(timeout):
            if not pending:
                for sub, _ in poll(timeout * 1000):
                    while (r := sub.recv_bytes(0)) is not None:
                        pending.append(r)
            return pending.pop(0) if pending else None

        self.recv = recv
        self.reply = self.pub.send_bytes

    def close(self):
        for x in (*self.subs, *self.pubs, self.sub, self.pub):
            if x is not None:
                x.close()


class IdlePoller(Kit):
    """``handles`` topics: the driver publishes them (and sends nothing),
    the echo polls them all and reports its CPU time."""

    def __init__(self, spec, side):
        import shm_comm
        self.m = shm_comm
        self.spec = spec
        self.pubs = []
        self.subs = []

    def _name(self, i):
        return f"{self.spec['tag']}_idle/{i}"

    def driver_pre(self):
        _raise_nofile(self.spec["handles"] * 2 + 64)
        self.pubs = [self.m.Publisher(self._name(i), num_slots=2, slot_size=64)
                     for i in range(self.spec["handles"])]

    def driver_post(self):
        pass

    def echo_setup(self):
        _raise_nofile(self.spec["handles"] * 2 + 64)
        self.subs = [self.m.Subscriber(self._name(i), timeout_connect=20.0)
                     for i in range(self.spec["handles"])]

    def idle(self):
        poller = self.m.Poller()
        for s in self.subs:
            poller.register(s)
        poller.poll(0)          # the slots made and armed before the clock starts
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        got = 0
        while time.monotonic() - t0 < self.spec["idle_s"]:
            got += len(poller.poll(max(1.0, (self.spec["idle_s"] - (time.monotonic() - t0)) * 1000)))
        r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return {"cpu_pct": 100.0 * cpu / wall, "wall_s": round(wall, 2), "ready": got,
                "handles": len(self.subs)}

    def close(self):
        for x in (*self.subs, *self.pubs):
            x.close()


def _raise_nofile(need):
    """Raises the soft limit of open files to the hard one if it is below
    ``need`` (each handle may hold a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


TRANSPORTS = {"aio": AioShm, "zmqaio": AioZmq, "aiosock": AioSocket, "poller": PollerPing,
              "idle": IdlePoller}
