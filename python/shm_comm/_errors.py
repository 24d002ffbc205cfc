"""Exceptions of shm_comm. Everything the library raises is an ``SHMError``;
the subclasses also derive from the matching built-in exception, so code
that catches ``ValueError`` or ``TimeoutError`` keeps working.

This module is the one place the exception classes are defined and listed:
``__all__`` below is what ``shm_comm`` re-exports, and the native module
checks, when imported, that it names exactly the classes it raises."""

from __future__ import annotations

__all__ = [
    "SHMError",
    "SHMConnectionError",
    "SHMTimeoutError",
    "SHMBufferFullError",
    "SHMSerializationError",
    "SHMMessageTooLargeError",
    "SHMMessageTooLongError",
    "SHMNameError",
    "SHMConfigError",
    "SHMLayoutError",
]


class SHMError(Exception):
    """Base class of every shm_comm error."""


class SHMConnectionError(SHMError, ConnectionError):
    """A channel cannot be created or attached (absent, owned by a live
    process, corrupt, foreign, incompatible)."""


class SHMTimeoutError(SHMError, TimeoutError):
    """A blocking operation that must succeed (``Requester.request``) ran
    out of time."""


class SHMBufferFullError(SHMError):
    """A work queue stayed full until the send's timeout."""


class SHMSerializationError(SHMError):
    """An object cannot be serialized or a frame cannot be deserialized, or
    the serialization name is unknown."""


class SHMMessageTooLargeError(SHMError, ValueError):
    """A message is larger than the channel's slot (``slot_size``); nothing
    was sent or truncated."""


class SHMMessageTooLongError(SHMMessageTooLargeError):
    """A variable-size message has more elements than its topic's maximum
    (``max_len``) and the publisher may not grow it (``auto_grow``);
    nothing was sent."""


class SHMNameError(SHMError, ValueError):
    """A channel name is invalid (allowed: letters, digits, ``_ - .`` in
    components separated by ``/``, at most 100 bytes)."""


class SHMConfigError(SHMError, ValueError):
    """Invalid channel geometry (zero slots, slot too large, ...)."""


class SHMLayoutError(SHMConnectionError, TypeError):
    """A typed topic carries another message layout; the message names the
    first differing field on both sides."""
