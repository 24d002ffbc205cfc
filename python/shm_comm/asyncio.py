"""shm_comm.asyncio: the shm_comm classes for asyncio.

The same classes with the same constructor arguments as ``shm_comm``; the
calls that wait are coroutines::

    import asyncio
    import shm_comm.asyncio as shm

    async def main() -> None:
        sub = shm.Subscriber("robot/imu")
        while (msg := await sub.recv(timeout=1.0)) is not None:
            print(msg)

    asyncio.run(main())

``Subscriber.recv``/``recv_bytes``/``borrow``/``recv_view``,
``MultiSubscriber.recv``/``recv_from``/``recv_bytes``,
``Puller.recv``/``recv_bytes``, ``Replier.recv``/``recv_bytes``,
``Requester.request``/``recv``/``recv_bytes`` and ``Pusher.send``/
``send_bytes`` (which wait for room) are coroutines; sending on a
publisher, a replier or a requester never waits for a peer and stays a
plain call. ``Poller.poll`` is a coroutine too.

How they wait: on the handle's ``fileno()`` with the loop's
``add_reader``, so a waiting call costs the loop nothing until the channel
rings. A receive takes a message only in a plain (synchronous) call made
after the descriptor is readable, so a cancelled ``recv`` has consumed
nothing: the message it was waiting for is there for the next receive. A
cancelled (or timed-out) ``request`` is withdrawn: its reply, if it comes
later, is discarded, and the next request gets its own reply.

Loops without ``add_reader`` (``NotImplementedError``, as on Windows'
proactor loop): the wait for the descriptor runs in the loop's default
executor, a thread, in slices of at most 0.25 s, so a cancelled call leaves
the thread within 0.25 s and still consumes nothing. uvloop works as the
default loop does.
"""

from __future__ import annotations

import asyncio as _aio
import math
import select
import time as _time
from typing import Any, Callable, TypeVar

import shm_comm as _sc

from . import typed
from ._errors import SHMBufferFullError, SHMError, SHMTimeoutError
from ._native import POLLERR, POLLIN, POLLOUT, Loan, Sample
from ._native import Poller as _NativePoller

__all__ = [
    "Publisher",
    "Subscriber",
    "MultiPublisher",
    "MultiSubscriber",
    "Requester",
    "Replier",
    "Pusher",
    "Puller",
    "Poller",
    "Sample",
    "Loan",
    "POLLIN",
    "POLLOUT",
    "POLLERR",
]

_T = TypeVar("_T")

#: Longest a fallback thread waits before the coroutine looks again.
_THREAD_SLICE = 0.25

#: The futures waiting for one descriptor of one loop, keyed by
#: ``(loop, fd, for_writing)``: one reader (or writer) callback per
#: descriptor wakes them all, so several tasks may wait on one handle.
_waiting: dict[tuple[Any, int, bool], set[_aio.Future[None]]] = {}


def _check(timeout: float | None) -> None:
    if timeout is not None and (math.isnan(timeout) or timeout < 0):
        raise ValueError(
            f"timeout must be a non-negative number of seconds (or None to wait forever), "
            f"not {timeout}")


def _wake(key: tuple[Any, int, bool]) -> None:
    futs = _waiting.pop(key, None)
    loop, fd, write = key
    if write:
        loop.remove_writer(fd)
    else:
        loop.remove_reader(fd)
    for f in futs or ():
        if not f.done():
            f.set_result(None)


def _forget(key: tuple[Any, int, bool], fut: _aio.Future[None]) -> None:
    futs = _waiting.get(key)
    if futs is None:
        return
    futs.discard(fut)
    if not futs:
        del _waiting[key]
        loop, fd, write = key
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _expire(fut: _aio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _wait_fds(fds: list[tuple[int, bool]], timeout: float | None) -> None:
    """Waits until one of ``fds`` (``(fd, for_writing)``) is ready, or
    ``timeout`` seconds pass (``None``: no limit)."""
    loop = _aio.get_running_loop()
    fut: _aio.Future[None] = loop.create_future()
    keys: list[tuple[Any, int, bool]] = []
    try:
        for fd, write in fds:
            key = (loop, fd, write)
            if key not in _waiting:
                if write:
                    loop.add_writer(fd, _wake, key)
                else:
                    loop.add_reader(fd, _wake, key)
                _waiting[key] = set()
            _waiting[key].add(fut)
            keys.append(key)
    except NotImplementedError:
        for key in keys:
            _forget(key, fut)
        await _wait_fds_in_thread(loop, fds, timeout)
        return
    timer = None if timeout is None else loop.call_later(timeout, _expire, fut)
    try:
        await fut
    finally:
        if timer is not None:
            timer.cancel()
        for key in keys:
            _forget(key, fut)


async def _wait_fds_in_thread(loop: _aio.AbstractEventLoop, fds: list[tuple[int, bool]],
                              timeout: float | None) -> None:
    """The fallback of loops without ``add_reader``: ``select`` in the
    default executor, in slices of at most :data:`_THREAD_SLICE`."""
    rd = [fd for fd, w in fds if not w]
    wr = [fd for fd, w in fds if w]
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        left = _THREAD_SLICE if deadline is None else min(_THREAD_SLICE, deadline - loop.time())
        if left <= 0:
            return
        r, w, _ = await loop.run_in_executor(None, select.select, rd, wr, [], left)
        if r or w:
            return


async def _until(handle: Any, attempt: Callable[[], _T | None], timeout: float | None) -> _T | None:
    """``attempt()`` (a call that never waits) until it returns something,
    waiting on ``handle.fileno()`` between tries; ``None`` after ``timeout``.

    An attempt that finds nothing drains the descriptor and arms it again
    (and takes what came meanwhile), so waiting after it misses nothing."""
    _check(timeout)
    got = attempt()
    if got is not None or timeout == 0:
        return got
    loop = _aio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    started = _time.perf_counter()
    if handle.__dict__.get("_shm_streaming"):
        # Messages have been coming back to back: look again for a moment,
        # letting the loop's other tasks run between looks, before waiting
        # on the descriptor (a wake-up through the kernel, tens of us).
        spin_until = started + _SPIN if timeout is None else started + min(_SPIN, timeout)
        while _time.perf_counter() < spin_until:
            await _aio.sleep(0)
            got = attempt()
            if got is not None:
                return got
    got = await _wait_until(handle, attempt, loop, deadline)
    # Spin next time only if this wait was short: a topic fed at 1 kHz
    # waits about 1 ms each time and never spins.
    handle._shm_streaming = got is not None and _time.perf_counter() - started < _SPIN_PAYS
    return got


#: While the last wait of a handle was shorter than this, its next wait
#: first looks again for up to ``_SPIN`` (yielding to the loop between
#: looks) before it waits on the descriptor.
_SPIN_PAYS = 50e-6
_SPIN = 20e-6


async def _wait_until(handle: Any, attempt: Callable[[], _T | None],
                      loop: _aio.AbstractEventLoop, deadline: float | None) -> _T | None:
    """The waiting half of ``_until``: on the handle's descriptor."""
    fd: int | None = handle.__dict__.get("_shm_fd")
    if fd is None:
        # The first wait on this handle makes its doorbell and arms it:
        # look again for what came before the arming.
        fd = handle._shm_fd = handle.fileno()
        got = attempt()
        if got is not None:
            return got
    # Here the last attempt found nothing, so it drained and re-armed the
    # doorbell: whatever comes next rings it.
    while True:
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            return None
        await _wait_fds([(fd, False)], left)
        got = attempt()
        if got is not None:
            return got


Publisher = _sc.Publisher


class Subscriber(_sc.Subscriber):  # type: ignore[type-arg]
    __doc__ = _sc.Subscriber.__doc__

    async def recv(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The next message; ``None`` on timeout. Cancelling it loses no
        message."""
        got = await _until(self, self._try_recv, timeout)
        return None if got is None else got[0]

    async def recv_bytes(self, timeout: float | None = None) -> bytes | None:  # type: ignore[override]
        """The next message as raw bytes; ``None`` on timeout."""
        return await _until(self, lambda: _sc.Subscriber.recv_bytes(self, 0), timeout)

    async def borrow(self, timeout: float | None = None) -> Sample | None:  # type: ignore[override]
        """Borrows the next message in place; ``None`` on timeout."""
        return await _until(self, lambda: _sc.Subscriber.borrow(self, 0), timeout)

    async def recv_view(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The next typed message, borrowed (numpy views into the slot)."""
        if self.msg_type is None:
            raise SHMError("recv_view() needs a typed topic; use borrow() for bytes")
        sample = await self.borrow(timeout)
        return None if sample is None else typed.view(sample, self.msg_type)


MultiPublisher = _sc.MultiPublisher


class MultiSubscriber(_sc.MultiSubscriber):  # type: ignore[type-arg]
    __doc__ = _sc.MultiSubscriber.__doc__

    async def recv(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The next message of any publisher; ``None`` on timeout.
        Cancelling it loses no message."""
        got = await _until(self, self._try_recv_from, timeout)
        return None if got is None else got[1]

    async def recv_from(  # type: ignore[override]
            self, timeout: float | None = None) -> tuple[tuple[int, int], Any] | None:
        """``((slot, pid), message)``: the next message and its sender;
        ``None`` on timeout."""
        return await _until(self, self._try_recv_from, timeout)

    async def recv_bytes(self, timeout: float | None = None) -> bytes | None:  # type: ignore[override]
        """The next message as raw bytes; ``None`` on timeout."""
        return await _until(self, lambda: _sc.MultiSubscriber.recv_bytes(self, 0), timeout)


class Puller(_sc.Puller):
    __doc__ = _sc.Puller.__doc__

    async def recv(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The next job; ``None`` on timeout. Cancelling it loses no job."""
        got = await _until(self, self._try_recv, timeout)
        return None if got is None else got[0]

    async def recv_bytes(self, timeout: float | None = None) -> bytes | None:  # type: ignore[override]
        """The next job as raw bytes; ``None`` on timeout."""
        return await _until(self, lambda: _sc.Puller.recv_bytes(self, 0), timeout)


class Replier(_sc.Replier):
    __doc__ = _sc.Replier.__doc__

    async def recv(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The next request; ``None`` on timeout. Cancelling it loses no
        request. Reply with ``send`` (a plain call)."""
        got = await _until(self, self._try_recv, timeout)
        return None if got is None else got[0]

    async def recv_bytes(self, timeout: float | None = None) -> bytes | None:  # type: ignore[override]
        """The next request as raw bytes; ``None`` on timeout."""
        return await _until(self, lambda: _sc.Replier.recv_bytes(self, 0), timeout)


class Requester(_sc.Requester):
    __doc__ = _sc.Requester.__doc__

    async def request(self, data: Any, timeout: float | None = 5.0) -> Any:  # type: ignore[override]
        """Sends ``data`` and returns the reply; ``SHMTimeoutError`` if none
        comes within ``timeout`` seconds. Cancelled or timed out, the
        request is withdrawn: a late reply is discarded."""
        _check(timeout)
        self.send(data)
        try:
            got = await _until(self, self._try_recv, timeout)
        except BaseException:
            self._cancel()
            raise
        if got is None:
            self._cancel()
            raise SHMTimeoutError(
                f"no reply from service {self.name!r} within {timeout} s "
                f"({self.repliers()} replier(s) alive)")
        return got[0]

    async def recv(self, timeout: float | None = None) -> Any:  # type: ignore[override]
        """The reply to the latest ``send``; ``None`` on timeout (the
        request stays pending)."""
        got = await _until(self, self._try_recv, timeout)
        return None if got is None else got[0]

    async def recv_bytes(self, timeout: float | None = None) -> bytes | None:  # type: ignore[override]
        """The reply as raw bytes; ``None`` on timeout."""
        return await _until(self, lambda: _sc.Requester.recv_bytes(self, 0), timeout)


class Pusher(_sc.Pusher):
    __doc__ = _sc.Pusher.__doc__

    async def send(self, data: Any, *, block: bool = True,  # type: ignore[override]
                   timeout: float | None = None) -> bool:
        """Queues ``data``, waiting for room: ``False`` at once if full and
        ``block=False``; ``SHMBufferFullError`` if still full after
        ``timeout`` seconds."""
        return await self._push(lambda: _sc.Pusher.send(self, data, block=False), block, timeout)

    async def send_bytes(self, payload: Any, *, block: bool = True,  # type: ignore[override]
                         timeout: float | None = None) -> bool:
        """Queues raw bytes; same waiting rules as ``send``."""
        return await self._push(lambda: _sc.Pusher.send_bytes(self, payload, block=False),
                                block, timeout)

    async def _push(self, attempt: Callable[[], bool], block: bool, timeout: float | None) -> bool:
        _check(timeout)
        if await _until(self, lambda: attempt() or None, timeout if block else 0):
            return True
        if not block:
            return False
        raise SHMBufferFullError(f"queue {self.name!r} stayed full for {timeout} s")


class Poller(_NativePoller):
    __doc__ = _NativePoller.__doc__

    async def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:  # type: ignore[override]
        """Waits up to ``timeout`` milliseconds (``None`` or negative:
        forever) for a registered object to be ready; ``[(obj, flags)]``."""
        loop = _aio.get_running_loop()
        if timeout is not None and math.isnan(timeout):
            raise ValueError("timeout is NaN")
        forever = timeout is None or timeout < 0
        deadline = None if forever else loop.time() + timeout / 1000  # type: ignore[operator]
        while True:
            # Drains the bell, arms every handle and looks at everything.
            ready = _NativePoller.poll(self, 0)
            left = None if deadline is None else deadline - loop.time()
            if ready or (left is not None and left <= 0):
                return ready
            bell, fds = self._fds()
            waits = [(bell, False)]
            waits += [(fd, False) for fd, fl in fds if fl & POLLIN]
            waits += [(fd, True) for fd, fl in fds if fl & POLLOUT]
            await _wait_fds(waits, left)
