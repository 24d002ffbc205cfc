"""Type stubs of ``shm_comm._native``, the compiled core of shm_comm.

Import the public names from ``shm_comm`` (which subclasses ``Publisher`` and
``Subscriber`` to add typed topics); this module is an implementation detail.
Timeouts are in seconds: ``None`` waits forever, ``0`` checks once; NaN or a
negative timeout is a ``ValueError`` everywhere.
Every blocking call releases the GIL and can be interrupted with Ctrl-C.
"""

from typing import Any, Callable

import numpy.typing as npt
from typing_extensions import Self

#: The package's version (from ``python/Cargo.toml``, as the wheel's).
__version__: str

# ---------------------------------------------------------------------------
# PUB/SUB
# ---------------------------------------------------------------------------

class Publisher:
    """Broadcasts messages to every subscriber of a topic. Never blocks."""

    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        layout: dict[str, Any] | None = None,
        borrow_budget: int = 8,
        max_len: int | None = None,
        auto_grow: bool = False,
        tail_name: str = "data",
    ) -> Self: ...
    def send(self, data: Any, *, block: bool = False, timeout: float | None = None) -> bool:
        """Serializes and publishes ``data``; returns ``True``. ``block`` and
        ``timeout`` are accepted for compatibility: a publisher never blocks."""
    def send_bytes(self, payload: Any, *, block: bool = False, timeout: float | None = None) -> bool:
        """Publishes raw bytes (any contiguous buffer)."""
    def loan(self, n: int | None = None) -> Loan:
        """Claims the next slot for writing in place; on a variable-size
        topic, for a message of exactly ``n`` elements."""
    def grow(self, max_len: int) -> None:
        """Grows a variable-size topic to messages of up to ``max_len`` elements."""
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
    def _set_encoder(self, encoder: Callable[[Any], Any]) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...
    def __repr__(self) -> str: ...

class Subscriber:
    """Receives the messages published on a topic after it connected."""

    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> Self: ...
    def recv(self, timeout: float | None = None) -> Any:
        """The next message, deserialized; ``None`` on timeout."""
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
        """The descriptor of this handle's doorbell: readable when a message may have been published.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again; the empty receive
        drains and re-arms it."""
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
    def _try_recv(self) -> tuple[Any] | None: ...
    def close(self) -> None:
        """Disconnects (never removes the topic). Idempotent."""
    def _set_msg_type(self, msg_type: type) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def serialization(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...
    def __repr__(self) -> str: ...

class Sample:
    """A message borrowed in place from a topic's slot: a read-only buffer.
    The slot stays pinned until the sample and every view of it are gone."""

    def __len__(self) -> int: ...
    def __getitem__(self, key: str, /) -> Any:
        """Field ``name`` of a typed message, in place: numbers as Python
        values, arrays as read-only numpy views."""
    @property
    def tail(self) -> npt.NDArray[Any]:
        """A variable-size message's elements: a read-only numpy view."""
    def tobytes(self) -> bytes:
        """A copy of the payload."""
    def release(self) -> None:
        """Unpins the slot now; ``BufferError`` while a view of it is alive."""
    @property
    def codec(self) -> str: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class Loan:
    """A topic slot claimed for writing in place: a writable buffer of
    ``slot_size`` bytes. Dropping it unsent gives the slot back."""

    def __len__(self) -> int: ...
    def __getitem__(self, key: str, /) -> Any:
        """Field ``name`` of the typed message being written (arrays as
        writable numpy views)."""
    def __setitem__(self, key: str, value: Any, /) -> None:
        """Sets field ``name`` in place: ``loan["seq"] = 5``."""
    @property
    def tail(self) -> npt.NDArray[Any]:
        """A variable-size message's elements: a writable numpy view."""
    def send(self, nbytes: int | None = None) -> bool:
        """Publishes the first ``nbytes`` bytes (default: the whole slot);
        ``BufferError`` (the loan stays open) while a view of it is alive."""
    def discard(self) -> None:
        """Gives the slot back unpublished. Idempotent. Raises ``BufferError``
        (the loan stays open) while a view of the loan is alive."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class MultiPublisher:
    """One of several publishers of a topic. Never blocks."""

    def __new__(
        cls,
        name: str,
        num_slots: int = 64,
        slot_size: int = 4096,
        serialization: str = "pickle",
        *,
        layout: dict[str, Any] | None = None,
    ) -> Self: ...
    def send(self, data: Any, *, block: bool = False, timeout: float | None = None) -> bool:
        """Serializes (or packs, typed) and publishes ``data``; returns ``True``."""
    def send_bytes(self, payload: Any, *, block: bool = False, timeout: float | None = None) -> bool:
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
    def __repr__(self) -> str: ...

class MultiSubscriber:
    """Receives what every publisher of a multi-publisher topic sends."""

    def __new__(
        cls,
        name: str,
        timeout_connect: float = 5.0,
        serialization: str = "pickle",
        *,
        layout: dict[str, Any] | None = None,
        last_value: bool = False,
        max_borrows: int = 4,
    ) -> Self: ...
    def recv(self, timeout: float | None = None) -> Any:
        """The next message, deserialized; ``None`` on timeout."""
    def recv_from(self, timeout: float | None = None) -> tuple[tuple[int, int], Any] | None:
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
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
    def _try_recv_from(self) -> tuple[tuple[int, int], Any] | None: ...
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
    def __repr__(self) -> str: ...

# ---------------------------------------------------------------------------
# REQ/REP
# ---------------------------------------------------------------------------

class Requester:
    """Calls a service: ``request(obj, timeout)``, or ``send(obj)`` then ``recv(timeout)``."""

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle") -> Self: ...
    def send(self, data: Any) -> bool:
        """Sends a request (replacing any unanswered one)."""
    def send_bytes(self, payload: Any) -> bool:
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
        """The descriptor of this handle's doorbell: readable when the reply to the pending request may be there.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again; the empty receive
        drains and re-arms it."""
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
    def _try_recv(self) -> tuple[Any] | None: ...
    def _cancel(self) -> None: ...
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
    def __repr__(self) -> str: ...

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
        """The next request, deserialized; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next request as raw bytes; ``None`` on timeout."""
    def send(self, data: Any) -> bool:
        """Replies to the last request; ``False`` if nobody waits for it."""
    def send_bytes(self, payload: Any) -> bool:
        """Replies with raw bytes."""
    def stats(self) -> dict[str, int]:
        """``pending``, ``requesters``, ``slot_size``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell: readable when a request may be queued.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again; the empty receive
        drains and re-arms it."""
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
    def _try_recv(self) -> tuple[Any] | None: ...
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
    def __repr__(self) -> str: ...

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
    def send_bytes(self, payload: Any, *, block: bool = True, timeout: float | None = None) -> bool:
        """Queues raw bytes; same blocking rules as ``send``."""
    def stats(self) -> dict[str, int]:
        """``msg_count`` (jobs waiting), ``drop_count``, ``num_slots``, ``slot_size``, ``pullers``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell: readable when the queue may have room.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again; the empty receive
        drains and re-arms it."""
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
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
    def __repr__(self) -> str: ...

class Puller:
    """Takes jobs from a work queue."""

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle") -> Self: ...
    def recv(self, timeout: float | None = None) -> Any:
        """The next job, deserialized; ``None`` on timeout."""
    def recv_bytes(self, timeout: float | None = None) -> bytes | None:
        """The next job as raw bytes; ``None`` on timeout."""
    def stats(self) -> dict[str, int]:
        """``msg_count`` (jobs waiting), ``drop_count``, ``num_slots``, ``slot_size``."""
    def fileno(self) -> int:
        """The descriptor of this handle's doorbell: readable when a job may be queued.
        Edge-triggered (as ZeroMQ's ZMQ_FD): when readable, receive with
        ``timeout=0`` until nothing comes, then wait again; the empty receive
        drains and re-arms it."""
    def _arm(self) -> bool: ...
    def _drain(self) -> int: ...
    def _try_recv(self) -> tuple[Any] | None: ...
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
    def __repr__(self) -> str: ...

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

def _segments_of(name: str) -> list[tuple[str, str, int | None]]:
    """``(channel, role, pid of a live user or None)`` of the segments
    ``force_unlink(name)`` acts on: segment ``name`` as ``list_segments()``
    names it, otherwise every segment of channel ``name``."""

def _unlink(channel: str, role: str) -> bool:
    """Removes segment ``role`` of ``channel``; ``True`` if it existed."""

def _flush_events() -> None:
    """Logs the core's queued lifecycle events (dead peers, replaced segments)."""

def cli_main(argv: list[str]) -> int:
    """Runs ``shmc`` with ``argv`` (program name first); its exit code."""

def list_segments() -> list[str]:
    """The segments of this user that exist now, as ``"<channel>.<role>"``."""

def layout_hash(layout: dict[str, Any]) -> int:
    """The structural hash of a layout dict (the same as Rust's derive)."""

def check_layout(layout: dict[str, Any]) -> dict[str, Any]:
    """Validates a layout dict; returns it normalized, with its hash."""

def first_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    """The first difference between two layouts, or ``None``."""

def decode_layout(data: bytes) -> dict[str, Any]:
    """A layout dict from an encoded layout descriptor (as a bridge serves it)."""

def decode_msgpack(data: bytes) -> Any:
    """A Python object from msgpack bytes, as a msgpack subscriber decodes it."""

# ---------------------------------------------------------------------------
# Waiting for many handles
# ---------------------------------------------------------------------------

#: Ready to receive (a handle may have something; a descriptor is readable).
POLLIN: int
#: Ready to send (a Pusher's queue has room; a descriptor is writable).
POLLOUT: int
#: An error condition on a descriptor.
POLLERR: int

class Poller:
    """Waits for any of many handles and file descriptors (pyzmq's Poller).
    ``poll(timeout_ms)`` returns ``[(obj, flags), ...]``, ``[]`` on timeout."""

    def __new__(cls) -> Self: ...
    def register(self, obj: Any, flags: int = 1) -> None:
        """Waits for ``obj`` (a handle, an int fd, an object with ``fileno()``)
        to be ready for ``flags``; 0 unregisters."""
    def modify(self, obj: Any, flags: int = 1) -> None:
        """Changes the flags of a registered ``obj``."""
    def unregister(self, obj: Any) -> None:
        """Stops waiting for ``obj``; ``KeyError`` if it is not registered."""
    def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Waits up to ``timeout`` ms (``None`` or negative: forever)."""
    def _fds(self) -> tuple[int, list[tuple[int, int]]]: ...
    @property
    def sockets(self) -> list[tuple[Any, int]]: ...
    def __len__(self) -> int: ...

# ---------------------------------------------------------------------------
# The schema compiler (shm-comm-schema), for shm_comm.schema
# ---------------------------------------------------------------------------

class CompiledSchema:
    """The result of :func:`compile_schema`."""

    @property
    def std_set(self) -> bool:
        """``True`` if this is the standard set itself."""
    @property
    def sources(self) -> list[tuple[str, str]]:
        """The files compiled (not the prelude), as ``(path, text)``."""
    def messages(self) -> list[dict[str, Any]]:
        """Every message, dependencies first, as dicts: ``name``, ``doc``,
        ``doc_lines``, ``file``, ``line``, ``prelude``, ``variant_of``,
        ``fields`` (``name``, ``doc``, ``ty``, ``type``, ``offset``, ``size``,
        ``padding``, ``line``), ``constants`` and ``layout`` (a layout dict)."""
    def generate_python(self) -> str:
        """The Python module (as ``shm-comm-schema gen-python``)."""
    def generate_rust(self) -> str:
        """The Rust module (as ``shm-comm-schema gen-rust``)."""

def compile_schema(sources: list[tuple[str, str]], prelude: list[tuple[str, str]] = ...,
                   std_set: bool = False) -> CompiledSchema:
    """Compiles schema files (``(path, text)`` pairs) with the messages of
    ``prelude`` in scope. Raises ``shm_comm.schema.SchemaError``."""
