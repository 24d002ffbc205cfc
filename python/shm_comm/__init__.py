"""shm_comm: shared-memory PUB/SUB, REQ/REP and PUSH/PULL for robots.

A drop-in replacement for the pure-Python ``shm-comm`` 1.0.0 (same names,
same calls), backed by a Rust core: messages go through rings in shared
memory, never through a socket.

    from shm_comm import Publisher, Subscriber

    # (usually in two programs; a subscriber gets what is sent after it connects)
    with Publisher("robot/pose") as pub, Subscriber("robot/pose") as sub:
        pub.send({"x": 1.0, "y": 2.0})
        pose = sub.recv(timeout=1.0)      # None on timeout

Typed topics (a Rust ``#[derive(ShmMessage)]`` struct, or a class from
``shm_comm.typed.message_class``) come back as dataclasses, with arrays as
numpy arrays; ``Subscriber.borrow()`` and ``Publisher.loan()`` give
zero-copy numpy views into the shared slots.
"""

from __future__ import annotations

import sys
from typing import Any, Generic, TypeVar

if not sys.platform.startswith("linux"):
    raise ImportError(
        f"shm_comm supports Linux only (it is built on Linux shared memory, futexes "
        f"and /proc); this is {sys.platform!r}")

from . import _errors, _native, typed
from ._lifecycle import PIPELINE, PUBSUB, REQREP, Logged, connected, created
# The exception classes (SHMError and its subclasses); their one list is
# `_errors.__all__`, which the native module checks against the classes it
# raises when it is imported.
from ._errors import *  # noqa: F403
from ._errors import SHMError, SHMLayoutError
from ._native import POLLERR, POLLIN, POLLOUT, Loan, Poller, Sample
from .utils import force_unlink, list_segments

#: The package's version: the native module's, which is the wheel's
#: (both come from ``python/Cargo.toml``).
__version__: str = _native.__version__

__all__ = [
    "Publisher",
    "Subscriber",
    "MultiPublisher",
    "MultiSubscriber",
    "Requester",
    "Replier",
    "Pusher",
    "Puller",
    "Sample",
    "Loan",
    "Poller",
    "POLLIN",
    "POLLOUT",
    "POLLERR",
    "force_unlink",
    "list_segments",
    "typed",
    "msgs",
    "__version__",
]
__all__ += _errors.__all__


#: The message class of a typed topic (``Subscriber[Imu]``); the signatures
#: are in ``__init__.pyi``, which type checkers read instead of this file.
_M = TypeVar("_M")


def __getattr__(name: str) -> Any:
    # `shm_comm.msgs` (the standard message set), `shm_comm.schema` (the
    # schema compiler) and `shm_comm.asyncio` (the classes for asyncio) are
    # imported on first use. `asyncio` is not in `__all__`: a star import
    # must not shadow the standard library's.
    if name in ("msgs", "schema", "asyncio"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Publisher(Logged, _native.Publisher, Generic[_M]):
    """Broadcasts messages to every subscriber of a topic; never blocks.

    ``Publisher(name, num_slots=64, slot_size=4096, serialization="pickle")``
    publishes Python objects (pickle or msgpack) and raw bytes.
    ``Publisher(name, msg_type=cls)`` creates a typed topic instead: ``cls``
    is a message class (``shm_comm.typed.message_class(layout)``, or one from
    ``shm_comm.msgs``) and ``send(obj)`` packs ``obj`` into its layout, which
    a Rust subscriber of the same struct receives as its type.

    A variable-size message class (``msgs.VarImage``: a fixed part and a
    run-time number of elements in its tail attribute, ``data``) also needs
    ``max_len``, the most elements a message may have; ``send(obj)`` sends
    as many as ``obj.data`` holds, ``loan(n)`` writes ``n`` in place, and
    ``grow(new_max)`` (or ``auto_grow=True``) raises the maximum while
    subscribers read. Its ring is sized for the largest message at each
    growth unless ``num_slots`` or ``borrow_budget`` are given.
    """

    msg_type: type | None

    def __new__(cls, name: str, num_slots: int = 64, slot_size: int = 4096,
                serialization: str = "pickle", *, msg_type: type | None = None,
                borrow_budget: int = 8, max_len: int | None = None,
                auto_grow: bool = False) -> "Publisher":
        layout = typed.layout_of(msg_type) if msg_type is not None else None
        tail = typed.tail_name(msg_type) if msg_type is not None else None
        self = super().__new__(cls, name, num_slots, slot_size, serialization,
                               layout=layout, borrow_budget=borrow_budget, max_len=max_len,
                               auto_grow=auto_grow, tail_name=tail or typed.TAIL_NAME)
        self.msg_type = msg_type
        if layout is not None:
            self._set_encoder(lambda obj: typed.encode(layout, obj))
        created(self, PUBSUB)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


class Subscriber(Logged, _native.Subscriber, Generic[_M]):
    """Receives what a topic's publisher sends after this subscriber connected.

    ``Subscriber(name, timeout_connect=5.0, serialization="pickle")``; raises
    ``SHMConnectionError`` if no publisher appears within ``timeout_connect``.
    ``recv(timeout)`` returns the next message or ``None`` on timeout.

    On a typed topic, messages come back as instances of a dataclass built
    from the layout stored in the topic (``self.msg_type``); pass
    ``msg_type=cls`` to insist on a class: a different layout raises
    ``SHMLayoutError`` naming the first differing field.

    On a variable-size topic, ``recv()`` puts exactly the elements sent in
    the message's tail attribute (``data``), as a numpy array (a copy);
    ``recv_view()`` and ``borrow().tail`` give read-only views into the
    slot. The subscriber follows the topic when its publisher grows it.
    """

    msg_type: type | None

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle",
                *, msg_type: type | None = None, last_value: bool = False,
                max_borrows: int = 4) -> "Subscriber":
        self = super().__new__(cls, name, timeout_connect, serialization,
                               last_value=last_value, max_borrows=max_borrows)
        layout = self.layout()
        if msg_type is not None:
            ours = typed.layout_of(msg_type)
            if layout is None:
                self.close()
                raise SHMLayoutError(f"topic {name!r} is dynamic, not typed `{ours['name']}`")
            if ours["hash"] != layout["hash"]:
                diff = typed.first_difference(ours, layout)
                self.close()
                raise SHMLayoutError(
                    f"topic {name!r} carries `{layout['name']}`, not `{ours['name']}`; "
                    f"first difference (ours vs theirs): {diff}")
        elif layout is not None:
            msg_type = typed.message_class(layout)
        self.msg_type = msg_type
        if msg_type is not None:
            self._set_msg_type(msg_type)
        connected(self, PUBSUB)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def recv_view(self, timeout: float | None = None) -> Any:
        """Borrows the next typed message without copying: array fields are
        read-only numpy views into the slot, pinned while they live.
        ``None`` on timeout."""
        if self.msg_type is None:
            raise SHMError("recv_view() needs a typed topic; use borrow() for bytes")
        sample = self.borrow(timeout)
        return None if sample is None else typed.view(sample, self.msg_type)


class MultiPublisher(Logged, _native.MultiPublisher, Generic[_M]):
    """One of several publishers of a topic; never blocks.

    ``MultiPublisher(name, num_slots=64, slot_size=4096,
    serialization="pickle")``; ``msg_type=cls`` makes (or joins) a typed
    topic. Each publisher writes a ring of its own, so publishers never
    contend; ``MultiSubscriber`` reads them all. An ordinary ``Publisher``
    or ``Subscriber`` on the same name is refused.
    """

    msg_type: type | None

    def __new__(cls, name: str, num_slots: int = 64, slot_size: int = 4096,
                serialization: str = "pickle", *,
                msg_type: type | None = None) -> "MultiPublisher":
        layout = typed.layout_of(msg_type) if msg_type is not None else None
        self = super().__new__(cls, name, num_slots, slot_size, serialization, layout=layout)
        self.msg_type = msg_type
        created(self, PUBSUB)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


class MultiSubscriber(Logged, _native.MultiSubscriber, Generic[_M]):
    """Receives what every publisher of a multi-publisher topic sends, each
    publisher's messages in order, taking turns between publishers.

    ``MultiSubscriber(name, timeout_connect=5.0, serialization="pickle")``;
    ``msg_type=cls`` for a typed topic. Publishers may come later.
    ``recv_from(timeout)`` returns ``((slot, pid), message)``: who sent it.
    """

    msg_type: type | None

    def __new__(cls, name: str, timeout_connect: float = 5.0, serialization: str = "pickle",
                *, msg_type: type | None = None, last_value: bool = False,
                max_borrows: int = 4) -> "MultiSubscriber":
        layout = typed.layout_of(msg_type) if msg_type is not None else None
        self = super().__new__(cls, name, timeout_connect, serialization, layout=layout,
                               last_value=last_value, max_borrows=max_borrows)
        self.msg_type = msg_type
        connected(self, PUBSUB)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


class Requester(Logged, _native.Requester):
    __doc__ = _native.Requester.__doc__
    _logger = REQREP

    def __new__(cls, name: str, timeout_connect: float = 5.0,
                serialization: str = "pickle") -> "Requester":
        self = super().__new__(cls, name, timeout_connect, serialization)
        connected(self, REQREP)
        return self


class Replier(Logged, _native.Replier):
    __doc__ = _native.Replier.__doc__
    _logger = REQREP

    def __new__(cls, name: str, num_slots: int = 16, slot_size: int = 8192,
                serialization: str = "pickle") -> "Replier":
        self = super().__new__(cls, name, num_slots, slot_size, serialization)
        created(self, REQREP)
        return self


class Pusher(Logged, _native.Pusher):
    __doc__ = _native.Pusher.__doc__
    _logger = PIPELINE

    def __new__(cls, name: str, num_slots: int = 128, slot_size: int = 4096,
                serialization: str = "pickle") -> "Pusher":
        self = super().__new__(cls, name, num_slots, slot_size, serialization)
        created(self, PIPELINE)
        return self


class Puller(Logged, _native.Puller):
    __doc__ = _native.Puller.__doc__
    _logger = PIPELINE

    def __new__(cls, name: str, timeout_connect: float = 5.0,
                serialization: str = "pickle") -> "Puller":
        self = super().__new__(cls, name, timeout_connect, serialization)
        connected(self, PIPELINE)
        return self
