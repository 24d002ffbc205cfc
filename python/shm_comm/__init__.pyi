"""Type stubs of the public ``shm_comm`` API.

Hand-kept; ``python/tests/test_stubs.py`` checks every class, method and
function here against the runtime objects (names, kinds and defaults of the
parameters), so the two cannot drift apart.

Typed topics are generic over their message: ``Subscriber("imu",
msg_type=Imu)`` is a ``Subscriber[Imu]`` whose ``recv()`` returns
``Imu | None``; without ``msg_type`` a handle is ``Subscriber[Any]``.
Timeouts are in seconds: ``None`` waits forever, ``0`` checks once.
"""

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer, Self

from . import msgs as msgs
from . import schema as schema
from . import typed as typed
from ._errors import SHMBufferFullError as SHMBufferFullError
from ._errors import SHMConfigError as SHMConfigError
from ._errors import SHMConnectionError as SHMConnectionError
from ._errors import SHMError as SHMError
from ._errors import SHMLayoutError as SHMLayoutError
from ._errors import SHMMessageTooLargeError as SHMMessageTooLargeError
from ._errors import SHMMessageTooLongError as SHMMessageTooLongError
from ._errors import SHMNameError as SHMNameError
from ._errors import SHMSerializationError as SHMSerializationError
from ._errors import SHMTimeoutError as SHMTimeoutError
from ._native import POLLERR as POLLERR
from ._native import POLLIN as POLLIN
from ._native import POLLOUT as POLLOUT
from ._native import Loan as Loan
from ._native import Poller as Poller
from ._native import Sample as Sample

__version__: str
__all__: list[str]

_M = TypeVar("_M")

#: What ``send_bytes`` takes: any contiguous buffer (numpy arrays too; their
#: stubs declare the buffer protocol only from Python 3.12).
_Bytes = Buffer | npt.NDArray[Any]

# ---------------------------------------------------------------------------
# PUB/SUB
# ---------------------------------------------------------------------------

class Publisher(Generic[_M]):
    """Broadcasts messages to every subscriber of a topic; never blocks.
    ``msg_type=cls`` makes a typed topic of message class ``cls``."""

    msg_type: type[_M] | None

    @overload
    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        msg_type: type[_M],
        borrow_budget: int = 8,
        max_len: int | None = None,
        auto_grow: bool = False,
    ) -> Publisher[_M]: ...
    @overload
    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        msg_type: None = None,
        borrow_budget: int = 8,
        max_len: int | None = None,
        auto_grow: bool = False,
    ) -> Publisher[Any]: ...
    def send(
        self,
        data: _M | Mapping[str, Any] | np.void,
        *,
        block: bool = False,
        timeout: float | None = None,
    ) -> bool:
        """Publishes ``data`` (on a typed topic: a message of the topic's
        class, or a dict or numpy record with its fields); returns ``True``."""
    def send_bytes(self, payload: _Bytes, *, block: bool = False, timeout: float | None = None) -> bool:
        """Publishes raw bytes (any contiguous buffer)."""
    def loan(self, n: int | None = None) -> Loan:
        """Claims the next slot for writing in place; on a variable-size
        topic, for a message of exactly ``n`` elements (``loan.tail``)."""
    def grow(self, max_len: int) -> None:
        """Grows a variable-size topic to messages of up to ``max_len``
        elements; subscribers follow by themselves."""
    @property
    def max_len(self) -> int | None:
        """A variable-size topic's most elements per message now (else ``None``)."""
    @property
    def generation(self) -> int:
        """How many times a variable-size topic grew."""
    def stats(self) -> dict[str, int]:
        """``msg_count``, ``drop_count``, ``num_slots``, ``slot_size``, ``borrow_budget``."""
    def layout(self) -> dict[str, Any] | None:
        """The topic's layout dict (typed topics) or ``None``."""
    def close(self) -> None:
        """Removes the topic. Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

class Subscriber(Generic[_M]):
    """Receives what a topic's publisher sends after this subscriber
    connected. ``msg_type=cls`` insists on message class ``cls``."""

    msg_type: type[_M] | None

    @overload
    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        msg_type: type[_M],
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> Subscriber[_M]: ...
    @overload
    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        msg_type: None = None,
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> Subscriber[Any]: ...
    def recv(self, timeout: float | None = None) -> _M | None:
        """The next message; ``None`` on timeout."""
    def recv_view(self, timeout: float | None = None) -> _M | None:
        """The next typed message, borrowed: array fields are read-only numpy
        views into the slot. ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next message as raw bytes; ``None`` on timeout."""
    def recv_frame_bytes(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        """The next frame as ``(codec, bytes)``; ``None`` on timeout."""
    def borrow(self, timeout: float | None = None) -> Sample | None:
        """Borrows the next message in place (read-only); ``None`` on timeout."""
    def layout(self) -> dict[str, Any] | None:
        """The topic's layout dict (typed topics) or ``None``."""
    def stats(self) -> dict[str, int]:
        """``msg_count``, ``drop_count``, ``lag``, ``local_tail``, ``num_slots``,
        ``slot_size``, ``publisher_pid``, ``publisher_alive``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell, readable when a message may have been published.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again."""
    def close(self) -> None:
        """Disconnects (never removes the topic). Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

class MultiPublisher(Generic[_M]):
    """One of several publishers of a topic; never blocks. ``msg_type=cls``
    makes (or joins) a typed topic of message class ``cls``."""

    msg_type: type[_M] | None

    @overload
    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        msg_type: type[_M],
    ) -> MultiPublisher[_M]: ...
    @overload
    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        msg_type: None = None,
    ) -> MultiPublisher[Any]: ...
    def send(self, data: _M, *, block: bool = False, timeout: float | None = None) -> bool:
        """Serializes (or packs, typed) and publishes ``data``; returns ``True``."""
    def send_bytes(self, payload: _Bytes, *, block: bool = False, timeout: float | None = None) -> bool:
        """Publishes raw bytes (any contiguous buffer)."""
    @property
    def id(self) -> tuple[int, int]:
        """``(slot, pid)``: who this publisher is, as subscribers name it."""
    def publishers(self) -> int:
        """Live publishers on the topic now, this one included."""
    def stats(self) -> dict[str, int]:
        """``msg_count``, ``num_slots``, ``slot_size`` (of this publisher's ring),
        ``slot``, ``pid``, ``publishers``."""
    def close(self) -> None:
        """Leaves the topic (subscribers read this ring to its end). Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

class MultiSubscriber(Generic[_M]):
    """Receives what every publisher of a multi-publisher topic sends, each
    publisher's messages in order. ``msg_type=cls`` for a typed topic."""

    msg_type: type[_M] | None

    @overload
    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        msg_type: type[_M],
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> MultiSubscriber[_M]: ...
    @overload
    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        msg_type: None = None,
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> MultiSubscriber[Any]: ...
    def recv(self, timeout: float | None = None) -> _M | None:
        """The next message; ``None`` on timeout."""
    def recv_from(self, timeout: float | None = None) -> tuple[tuple[int, int], _M] | None:
        """``((slot, pid), message)``: the next message and its sender; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next message as raw bytes; ``None`` on timeout."""
    def publishers(self) -> list[tuple[int, int]]:
        """The publishers read now, as ``(slot, pid)``."""
    def missed(self) -> int:
        """Messages skipped of all publishers, including those that left."""
    def missed_from(self, publisher: int | tuple[int, int]) -> int | None:
        """Messages skipped of one publisher (a pid or ``(slot, pid)``);
        ``None`` if it is not read now."""
    def stats(self) -> dict[str, int]:
        """``drop_count`` and ``publishers``."""
    def fileno(self) -> int:
        """The doorbell's descriptor: readable when a message of any
        publisher may be there (edge-triggered: receive with
        ``timeout=0`` until nothing comes, then wait again)."""
    def close(self) -> None:
        """Disconnects (never removes the topic). Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

# ---------------------------------------------------------------------------
# REQ/REP
# ---------------------------------------------------------------------------

class Requester:
    """Calls a service: ``request(obj, timeout)``, or ``send(obj)`` then ``recv(timeout)``."""

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle") -> Self: ...
    def send(self, data: Any) -> bool:
        """Sends a request (replacing any unanswered one)."""
    def send_bytes(self, payload: _Bytes) -> bool:
        """Sends raw bytes as a request."""
    def recv(self, timeout: float | None = None) -> Any:
        """The reply to the latest request; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The reply as raw bytes; ``None`` on timeout."""
    def request(self, data: Any, timeout: float | None = 5.0) -> Any:
        """Sends ``data`` and returns the reply; ``SHMTimeoutError`` if none
        comes within ``timeout``."""
    def repliers(self) -> int:
        """Live repliers of the service."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell, readable when the reply to the pending request may be there.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again."""
    def close(self) -> None:
        """Disconnects. Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

class Replier:
    """Serves a service: ``recv(timeout)`` a request, then ``send(reply)``."""

    def __new__(
        cls,
        name: str,
        num_slots: int = 16,
        slot_size: int = 8192,
        serialization: str = "pickle",
    ) -> Self: ...
    def recv(self, timeout: float | None = None) -> Any:
        """The next request; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next request as raw bytes; ``None`` on timeout."""
    def send(self, data: Any) -> bool:
        """Replies to the last request; ``False`` if nobody waits for it."""
    def send_bytes(self, payload: _Bytes) -> bool:
        """Replies with raw bytes."""
    def stats(self) -> dict[str, int]:
        """``pending``, ``requesters``, ``slot_size``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell, readable when a request may be queued.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again."""
    def close(self) -> None:
        """Leaves the service. Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

# ---------------------------------------------------------------------------
# PUSH/PULL
# ---------------------------------------------------------------------------

class Pusher:
    """Pushes jobs onto a work queue; each job goes to exactly one puller."""

    def __new__(
        cls,
        name: str,
        num_slots: int = 128,
        slot_size: int = 4096,
        serialization: str = "pickle",
    ) -> Self: ...
    def send(self, data: Any, *, block: bool = True, timeout: float | None = None) -> bool:
        """Queues ``data``; on a full queue returns ``False`` (``block=False``)
        or waits up to ``timeout``, then raises ``SHMBufferFullError``."""
    def send_bytes(self, payload: _Bytes, *, block: bool = True, timeout: float | None = None) -> bool:
        """Queues raw bytes; same blocking rules as ``send``."""
    def stats(self) -> dict[str, int]:
        """``msg_count`` (jobs waiting), ``drop_count``, ``num_slots``, ``slot_size``, ``pullers``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell, readable when the queue may have room.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again."""
    def close(self) -> None:
        """Leaves the queue. Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

class Puller:
    """Takes jobs from a work queue."""

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle") -> Self: ...
    def recv(self, timeout: float | None = None) -> Any:
        """The next job; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next job as raw bytes; ``None`` on timeout."""
    def stats(self) -> dict[str, int]:
        """``msg_count`` (jobs waiting), ``drop_count``, ``num_slots``, ``slot_size``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell, readable when a job may be queued.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again."""
    def close(self) -> None:
        """Leaves the queue. Idempotent."""
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...

# ---------------------------------------------------------------------------
# Functions (from shm_comm.utils)
# ---------------------------------------------------------------------------

def force_unlink(name: str, force: bool = False) -> bool:
    """Removes a segment left behind; ``True`` if one was removed."""

def list_segments() -> list[str]:
    """The segments of this user that exist now, as ``"<channel>.<role>"``."""
