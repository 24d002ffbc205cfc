"""The transports (ours and the peers: pyzmq, iceoryx2, the original 1.0.0, the raw
shared-memory floor, multiprocessing pipes) and the ping-pong and stream loops
that measure them, in the driver and echo processes."""

from __future__ import annotations

import array
import json
import os
import time

from cases import LOSSY
from common import ECHO_IDLE_S, MAX_SAMPLES, MIB, PAD56, REPLY_LIMIT_S, STOP_SEQ

# ---------------------------------------------------------------------------
# Transports. Each gives the driver and the echo side the same small kit:
#   send(m), recv(timeout) -> message or None, make(i) -> message with seq i,
#   check(r, m, i) -> bool, seq_of(r), reply(r) (echo), stop, is_stop(r).
# ---------------------------------------------------------------------------

class Kit:
    close = staticmethod(lambda: None)

    def echo(self, r) -> bool:
        """Answers ``r``; False if it was the stop message. A kit may
        override it to read the message once for both."""
        if self.is_stop(r):
            return False
        self.reply(r)
        return True


def _bytes_codec(kit: Kit) -> None:
    kit.make = lambda i: i.to_bytes(8, "little") + PAD56
    kit.check = lambda r, m, i: r == m
    kit.seq_of = lambda r: int.from_bytes(r[:8], "little")
    kit.stop = b"STOP"
    kit.is_stop = lambda r: len(r) == 4


def _mib_codec(kit: Kit) -> None:
    import numpy as np
    src = np.random.default_rng(1).integers(0, 255, MIB, dtype=np.uint8)
    head = src[:8].view(np.uint64)

    def make(i):
        head[0] = i
        return src
    kit.make = make
    kit.check = lambda r, m, i: int.from_bytes(r[:8], "little") == i and len(r) == MIB
    kit.seq_of = lambda r: int.from_bytes(r[:8], "little")
    kit.stop = b"STOP"
    kit.is_stop = lambda r: len(r) == 4


def _names(spec):
    tag = spec["tag"]
    return f"{tag}_ping", f"{tag}_pong"


def _blob_class(data_len=MIB):
    from shm_comm import typed
    layout = {"name": "Blob", "size": 8 + data_len, "align": 8, "fields": [
        {"name": "seq", "offset": 0, "kind": "u64", "shape": [], "size": 8},
        {"name": "data", "offset": 8, "kind": "u8", "shape": [data_len], "size": data_len}]}
    return typed.message_class(layout)


def _var_blob_class():
    """A fixed part of one `seq` and a tail of bytes (variable size)."""
    from shm_comm import typed
    layout = {"name": "VarBlob", "size": 8, "align": 8, "fields": [
        {"name": "seq", "offset": 0, "kind": "u64", "shape": [], "size": 8}],
        "tail": {"elem": {"kind": "u8", "shape": [], "size": 1}}}
    return typed.message_class(layout)


#: The payload kinds written by loan and read by borrow.
LOANS = ("loan", "loan64", "varloan")


class ShmPubSub(Kit):
    """shm_comm PUB/SUB, two topics (ping, pong): ours or the original,
    whichever ``shm_comm`` this interpreter imports."""

    def __init__(self, spec, side):
        import shm_comm
        self.m = shm_comm
        self.spec = spec
        self.side = side
        payload = spec["payload"]
        self.codec = spec.get("codec", "pickle")
        self.slots, self.slot_size = (4, MIB + 64) if payload in ("1mib", *LOANS) else (64, 4096)
        if payload == "b64":
            _bytes_codec(self)
        elif payload == "1mib":
            _mib_codec(self)
        elif payload == "dict":
            self.make = lambda i: {"x": 1.0, "y": 2.0, "seq": i}
            self.check = lambda r, m, i: r["seq"] == i
            self.stop = {"stop": 1}
            self.is_stop = lambda r: "stop" in r
        elif payload in ("imu", "imu-pickle"):
            self._imu_codec()
        elif payload == "loan":
            self._loan_codec(MIB)
        elif payload == "loan64":
            self._loan_codec(64 - 8)
        elif payload == "varloan":
            # The same 1 MiB message as "loan", on a variable-size topic:
            # a loan of n = 1 MiB elements, the tail's view of exactly n.
            self._loan_codec(MIB)
            self.Blob = _var_blob_class()
            self.loan_len = MIB
            self.check = lambda r, m, i: r["seq"] == i and r.tail.shape == (MIB,)
        self.pub = self.sub = None

    def _loan_codec(self, data_len):
        self.Blob = _blob_class(data_len)

        # Like the Rust harness's loan rows, this measures the transport: the
        # producer writes the sequence number in place (a camera driver would
        # write its frame there: that is the producer's own work, not a copy
        # the transport makes), the echo reads it in place and answers by
        # loan too. The check (not timed) takes the numpy view of the array.

        def check(r, m, i):
            return r["seq"] == i and r["data"].shape == (data_len,)   # zero-copy view

        self.make = lambda i: i
        self.check = check
        self.seq_of = lambda r: r["seq"]
        self.stop = STOP_SEQ
        self.is_stop = lambda r: r["seq"] == STOP_SEQ

    def _imu_codec(self):
        # A driver fills one message object and publishes it at each tick;
        # the echo sends back the object it received (converted both ways).
        from typed_msgs import sample_msg
        self.Imu = type(sample_msg("Imu"))
        msg = sample_msg("Imu")
        stop = 0xFFFF_FFFF      # `header.seq` is a u32

        def make(i):
            msg.header.seq = i
            return msg

        self.make = make
        self.check = lambda r, m, i: (type(r) is self.Imu and r.header.seq == i
                                      and r.header.frame_id == m.header.frame_id
                                      and r.linear_acceleration == m.linear_acceleration)
        self.stop = sample_msg("Imu")
        self.stop.header.seq = stop
        self.is_stop = lambda r: r.header.seq == stop

    def _publisher(self, name):
        if self.spec["payload"] == "varloan":
            return self.m.Publisher(name, num_slots=self.slots, msg_type=self.Blob,
                                    max_len=self.loan_len)
        if self.spec["payload"] in ("loan", "loan64"):
            return self.m.Publisher(name, num_slots=self.slots, msg_type=self.Blob)
        if self.spec["payload"] == "imu":
            return self.m.Publisher(name, num_slots=self.slots, msg_type=self.Imu)
        return self.m.Publisher(name, num_slots=self.slots, slot_size=self.slot_size,
                                serialization=self.codec)

    def _subscriber(self, name):
        return self.m.Subscriber(name, timeout_connect=20.0, serialization=self.codec)

    def _bind(self):
        p = self.spec["payload"]
        if p in LOANS:
            if self.pub is not None:
                loan = self.pub.loan    # bound once, as the bytes rows bind send_bytes
                if p == "varloan":
                    import functools
                    loan = functools.partial(loan, self.loan_len)   # loan(n), bound once

                def send(i):
                    m = loan()
                    m["seq"] = i
                    return m.send()

                def echo(r, stop=STOP_SEQ):
                    seq = r["seq"]      # read once, as a real echo would
                    if seq == stop:
                        return False
                    m = loan()
                    m["seq"] = seq
                    m.send()
                    return True

                self.send, self.echo = send, echo
            self.recv = self.sub.borrow if self.sub else None
            return
        raw = p in ("b64", "1mib")
        if self.pub is not None:
            self.send = self.pub.send_bytes if raw else self.pub.send
        if self.sub is not None:
            self.recv = self.sub.recv_bytes if raw else self.sub.recv
        if self.pub is not None:
            self.reply = self.send

    def driver_pre(self):
        self.pub = self._publisher(_names(self.spec)[0])

    def driver_post(self):
        if self.spec["kind"] == "pingpong":
            self.sub = self._subscriber(_names(self.spec)[1])
        self._bind()

    def echo_setup(self):
        ping, pong = _names(self.spec)
        self.sub = self._subscriber(ping)
        if self.spec["kind"] == "pingpong":
            self.pub = self._publisher(pong)
        self._bind()

    def close(self):
        for x in (self.sub, self.pub):
            if x is not None:
                x.close()


class ShmPipeline(Kit):
    """shm_comm PUSH/PULL (stream only)."""

    def __init__(self, spec, side):
        import shm_comm
        self.m = shm_comm
        self.spec = spec
        _bytes_codec(self)
        self.push = self.pull = None

    def driver_pre(self):
        self.push = self.m.Pusher(_names(self.spec)[0], num_slots=128, slot_size=4096)
        self.send = self.push.send_bytes

    def driver_post(self):
        pass

    def echo_setup(self):
        self.pull = self.m.Puller(_names(self.spec)[0], timeout_connect=20.0)
        self.recv = self.pull.recv_bytes

    def close(self):
        for x in (self.pull, self.push):
            if x is not None:
                x.close()


#: Slots of the REQ/REP rows' Repliers (see `ShmReqRep`).
REQREP_SLOTS = 65536


class ShmReqRep(Kit):
    """shm_comm REQ/REP, ours or the original: the driver calls (one call at
    a time), the echo process is the replier. The original's Replier creates
    the segments, so the requester connects once the echo is ready.

    The original answers at most ``num_slots - 1`` calls per Replier (its
    request and reply rings never wrap: call 64 of a 64-slot Replier gets no
    reply), so both get 65,536 slots of 128 bytes: more calls than a run makes
    at the original's speed (a few thousand a second)."""

    def __init__(self, spec, side):
        import shm_comm
        self.m = shm_comm
        self.spec = spec
        _bytes_codec(self)
        self.req = self.rep = None

    def driver_pre(self):
        pass

    def driver_post(self):
        self.req = self.m.Requester(_names(self.spec)[0], timeout_connect=20.0)
        self.send = self.req.send_bytes
        self.recv = self.req.recv_bytes

    def echo_setup(self):
        self.rep = self.m.Replier(_names(self.spec)[0], num_slots=REQREP_SLOTS, slot_size=128)
        self.recv = self.rep.recv_bytes
        self.reply = self.rep.send_bytes

    def close(self):
        for x in (self.req, self.rep):
            if x is not None:
                x.close()


class Zmq(Kit):
    """pyzmq: PAIR for ping-pong, PUSH/PULL for streams; blocking recv with
    a 1 s RCVTIMEO (the same contract as recv(timeout=1.0))."""

    def __init__(self, spec, side):
        import zmq
        self.zmq = zmq
        self.spec = spec
        self.ctx = zmq.Context()
        (_mib_codec if spec["payload"] == "1mib" else _bytes_codec)(self)
        self.sock = None

    def _recv_fn(self):
        sock, again = self.sock, self.zmq.Again

        def recv(_timeout, r=sock.recv):
            try:
                return r()
            except again:
                return None
        return recv

    def driver_pre(self):
        zmq = self.zmq
        stream = self.spec["kind"] == "stream"
        self.sock = self.ctx.socket(zmq.PUSH if stream else zmq.PAIR)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 1000)
        if self.spec["endpoint"] == "ipc":
            self.sock.bind(f"ipc://{self.spec['tmpdir']}/{self.spec['tag']}.ipc")
        else:
            self.sock.bind("tcp://127.0.0.1:*")
        self.spec["zmq_endpoint"] = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.send = self.sock.send
        self.recv = self._recv_fn()

    def driver_post(self):
        pass

    def echo_setup(self):
        zmq = self.zmq
        stream = self.spec["kind"] == "stream"
        self.sock = self.ctx.socket(zmq.PULL if stream else zmq.PAIR)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 1000)
        self.sock.connect(self.spec["zmq_endpoint"])
        self.send = self.reply = self.sock.send
        self.recv = self._recv_fn()

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
        self.ctx.term()


class Iox2(Kit):
    """iceoryx2 publish-subscribe, a 64 B ctypes struct (seq + 56 B)."""

    def __init__(self, spec, side):
        import ctypes

        import iceoryx2 as iox2
        iox2.set_log_level_from_env_or(iox2.LogLevel.Error)
        self.iox2 = iox2
        self.spec = spec

        class Msg64(ctypes.Structure):
            _fields_ = [("seq", ctypes.c_uint64), ("data", ctypes.c_uint8 * 56)]
        self.Msg64 = Msg64
        self.msg = Msg64()
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)

        def make(i, m=self.msg):
            m.seq = i
            return m
        self.make = make
        self.check = lambda r, m, i: r.payload().contents.seq == i
        self.seq_of = lambda r: r.payload().contents.seq
        self.stop = None            # set once we have a publisher
        self.is_stop = lambda r: r.payload().contents.seq == STOP_SEQ
        self.pub = self.sub = None

    def _service(self, name):
        iox2 = self.iox2
        return (self.node.service_builder(iox2.ServiceName.new(name))
                .publish_subscribe(self.Msg64).open_or_create())

    def _bind(self):
        if self.pub is not None:
            self.send = self.pub.send_copy
            stop = self.Msg64()
            stop.seq = STOP_SEQ
            self.stop = stop
        if self.sub is not None:
            receive = self.sub.receive
            self.recv = lambda _timeout: receive()
        if self.pub is not None:
            send_copy = self.pub.send_copy
            self.reply = lambda r: send_copy(r.payload().contents)

    def driver_pre(self):
        ping, pong = _names(self.spec)
        self.pub = self._service(ping).publisher_builder().create()
        if self.spec["kind"] == "pingpong":
            self.sub = self._service(pong).subscriber_builder().create()
        self._bind()

    def driver_post(self):
        pass

    def echo_setup(self):
        ping, pong = _names(self.spec)
        self.sub = self._service(ping).subscriber_builder().create()
        if self.spec["kind"] == "pingpong":
            self.pub = self._service(pong).publisher_builder().create()
        self._bind()

    def close(self):
        self.pub = self.sub = None
        self.node = None


TRANSPORTS = {"shm": ShmPubSub, "pipeline": ShmPipeline, "reqrep": ShmReqRep, "zmq": Zmq,
              "iox2": Iox2}


# ---------------------------------------------------------------------------
# The loops
# ---------------------------------------------------------------------------

def _pin(cpu) -> None:
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except (AttributeError, OSError):
            pass


class Failed(Exception):
    pass


def pingpong_driver(kit, spec):
    """Returns (samples in µs, bad replies)."""
    send, recv, make, check = kit.send, kit.recv, kit.make, kit.check
    busy = spec["mode"] == "busy"
    now = time.perf_counter_ns
    t0 = now()
    warm_end = t0 + int(spec["warmup"] * 1e9)
    end = warm_end + int(spec["duration"] * 1e9)
    limit = int(REPLY_LIMIT_S * 1e9)
    gap = spec.get("gap_ms", 0) / 1000.0
    sleep = time.sleep
    samples = array.array("d")
    bad = 0
    i = 0
    while True:
        if gap:
            sleep(gap)
        i += 1
        m = make(i)
        ta = now()
        send(m)
        if busy:
            r = recv(0)
            k = 0
            while r is None:
                r = recv(0)
                k += 1
                if not k & 0xFFF and now() - ta > limit:
                    raise Failed(f"no reply to message {i} within {REPLY_LIMIT_S:.0f} s")
        else:
            r = recv(1.0)
            while r is None:
                if now() - ta > limit:
                    raise Failed(f"no reply to message {i} within {REPLY_LIMIT_S:.0f} s")
                r = recv(1.0)
        tb = now()
        if not check(r, m, i):
            bad += 1
        r = None
        if tb >= warm_end:
            samples.append((tb - ta) / 2000.0)
            if tb >= end or len(samples) >= MAX_SAMPLES:
                break
    kit.send(kit.stop)
    return samples, bad


def _parent_gone(ppid) -> bool:
    return os.getppid() != ppid


def echo_loop(kit, spec, ppid):
    recv, echo = kit.recv, kit.echo
    busy = spec["mode"] == "busy"
    n = seen = k = 0
    idle_since = time.monotonic()
    while True:
        r = recv(0) if busy else recv(1.0)
        if r is None:
            k += 1
            if busy and k & 0xFFFF:
                continue
            t = time.monotonic()
            if n != seen:
                seen, idle_since = n, t
            elif _parent_gone(ppid) or t - idle_since > ECHO_IDLE_S:
                return
            continue
        if not echo(r):
            return
        r = None
        n += 1


def stream_sender(kit, spec):
    send, make = kit.send, kit.make
    now = time.perf_counter
    t0 = now()
    end = t0 + spec["duration"]
    i = 0
    while True:
        i += 1
        send(make(i))
        if not i & 255 and now() >= end:
            break
    t1 = now()
    # PUB/SUB may overwrite what a slow receiver has not read yet: repeat
    # the end marker so that it is seen.
    for _ in range(3 if spec["transport"] in LOSSY else 1):
        kit.send(kit.stop)
        time.sleep(0.002)
    return {"sent": i, "send_s": t1 - t0, "sent_per_s": i / (t1 - t0)}


def stream_receiver(kit, spec, ppid):
    recv, seq_of, is_stop = kit.recv, kit.seq_of, kit.is_stop
    busy = spec["mode"] == "busy"
    now = time.perf_counter
    last = got = stale = k = seen = 0
    t_first = t_last = None
    idle_since = time.monotonic()
    marker = False
    while True:
        r = recv(0) if busy else recv(1.0)
        if r is None:
            k += 1
            if busy and k & 0xFFFF:
                continue
            t = time.monotonic()
            if got + stale != seen:
                seen, idle_since = got + stale, t
            elif _parent_gone(ppid) or t - idle_since > (2.0 if got else ECHO_IDLE_S):
                break
            continue
        if is_stop(r):
            marker = True
            break
        s = seq_of(r)
        r = None
        if s > last:
            last = s
            got += 1
            t_last = now()
            if t_first is None:
                t_first = t_last
        else:
            stale += 1
    span = (t_last - t_first) if got > 1 else 0.0
    return {"received": got, "last_seq": last, "stale_or_repeated": stale,
            "recv_span_s": span, "recv_per_s": (got - 1) / span if span > 0 else None,
            "end_marker_seen": marker}


# --- raw shared-memory floor ------------------------------------------------

_RAW_SIZE = 4096
_PING, _PONG, _PING_DATA, _PONG_DATA = 0, 8, 128, 256      # u64 index, u64 index, byte offsets


def raw_map(path):
    import mmap
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, _RAW_SIZE)
    finally:
        os.close(fd)


def raw_driver(spec, mm):
    q = memoryview(mm).cast("Q")
    b = memoryview(mm)
    now = time.perf_counter_ns
    t0 = now()
    warm_end = t0 + int(spec["warmup"] * 1e9)
    end = warm_end + int(spec["duration"] * 1e9)
    limit = int(REPLY_LIMIT_S * 1e9)
    samples = array.array("d")
    bad = 0
    i = 0
    try:
        while True:
            i += 1
            m = i.to_bytes(8, "little") + PAD56
            ta = now()
            b[_PING_DATA:_PING_DATA + 64] = m
            q[_PING] = i
            k = 0
            while q[_PONG] != i:
                k += 1
                if not k & 0xFFF and now() - ta > limit:
                    raise Failed(f"no reply to message {i} within {REPLY_LIMIT_S:.0f} s")
            r = bytes(b[_PONG_DATA:_PONG_DATA + 64])
            tb = now()
            if r != m:
                bad += 1
            if tb >= warm_end:
                samples.append((tb - ta) / 2000.0)
                if tb >= end or len(samples) >= MAX_SAMPLES:
                    break
        q[_PING] = STOP_SEQ
    finally:
        q.release()
        b.release()
        mm.close()
    return samples, bad


def raw_echo(spec, path, ppid):
    mm = raw_map(path)
    q = memoryview(mm).cast("Q")
    b = memoryview(mm)
    print("READY", flush=True)
    last = 0
    idle_since = time.monotonic()
    try:
        while True:
            v = q[_PING]
            k = 0
            while v == last:
                v = q[_PING]
                k += 1
                if not k & 0xFFFFF:
                    if _parent_gone(ppid) or time.monotonic() - idle_since > ECHO_IDLE_S:
                        return
            if v == STOP_SEQ:
                return
            b[_PONG_DATA:_PONG_DATA + 64] = b[_PING_DATA:_PING_DATA + 64]
            q[_PONG] = v
            last = v
            idle_since = time.monotonic() if not v & 0xFFF else idle_since
    finally:
        q.release()
        b.release()
        mm.close()


# --- multiprocessing.Pipe -----------------------------------------------------

def _pipe_echo(conn, spec):
    """The other end of a multiprocessing.Pipe (a spawned process)."""
    _pin(spec.get("cpu_echo"))
    kit = Kit()
    _bytes_codec(kit)
    conn.send_bytes(b"READY")
    try:
        if spec["kind"] == "pingpong":
            while True:
                r = conn.recv_bytes()
                if len(r) == 4:
                    return
                conn.send_bytes(r)
        else:
            kit.recv = lambda _t: conn.recv_bytes()
            res = stream_receiver(kit, spec, os.getppid())
            conn.send_bytes(json.dumps(res).encode())
    except EOFError:
        return


def run_pipe_driver(spec):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_pipe_echo, args=(b, spec), daemon=True)
    proc.start()
    b.close()
    try:
        if not a.poll(30.0):
            raise Failed("the echo process did not start")
        a.recv_bytes()
        kit = Kit()
        _bytes_codec(kit)
        kit.send = a.send_bytes
        kit.recv = lambda _t: a.recv_bytes()
        if spec["kind"] == "pingpong":
            samples, bad = pingpong_driver(kit, spec)
            return {"samples": samples, "bad": bad}
        res = stream_sender(kit, spec)
        if not a.poll(30.0):
            raise Failed("the receiver did not report")
        res.update(json.loads(a.recv_bytes()))
        return res
    finally:
        proc.join(10.0)
        if proc.is_alive():
            proc.kill()
        a.close()


