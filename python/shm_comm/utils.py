"""Helpers of shm-comm 1.0.0's ``shm_comm.utils``, for code that imports them.

* ``force_unlink(name, force=False)`` and ``list_segments()`` (also exported
  by ``shm_comm``): ``list_segments()`` lists segments as
  ``"<channel>.<role>"`` (``"robot/pose.pub"``), each a name that
  ``force_unlink`` accepts; ``force_unlink`` also takes a channel name (all
  its segments) and refuses a segment that a live process still uses
  unless ``force=True``.
* The segment-name helpers (``pub_segment_name(channel)``, ...) return the
  names ``list_segments()`` uses for a channel's segments: ``"<channel>.pub"``
  for a topic, ``"<channel>.svc"`` for a REQ/REP service (requests and
  replies share one segment, so ``req_segment_name`` and
  ``rep_segment_name`` name the same one) and ``"<channel>.queue"`` for a
  PUSH/PULL queue.
* ``platform_name()``, ``is_linux()``, ``is_windows()``, ``poll_until()``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from . import _native
from ._lifecycle import UTILS as logger

__all__ = [
    "force_unlink", "list_segments", "pub_segment_name", "req_segment_name",
    "rep_segment_name", "push_segment_name", "platform_name", "is_linux", "is_windows",
    "poll_until",
]

# The segment names of shm-comm 1.0.0 (``shmcomm_<kind>_<channel>``), and the
# role of the segment that stands for each here.
_LEGACY_PREFIXES = {"shmcomm_pub_": "pub", "shmcomm_req_": "svc", "shmcomm_rep_": "svc",
                    "shmcomm_push_": "queue"}


def pub_segment_name(channel: str) -> str:
    """The segment of a PUB/SUB topic, as ``list_segments()`` names it."""
    return f"{channel}.pub"


def req_segment_name(channel: str) -> str:
    """The segment of a REQ/REP service (requests and replies share it)."""
    return f"{channel}.svc"


def rep_segment_name(channel: str) -> str:
    """The segment of a REQ/REP service (the same as ``req_segment_name``)."""
    return f"{channel}.svc"


def push_segment_name(channel: str) -> str:
    """The segment of a PUSH/PULL queue."""
    return f"{channel}.queue"


def list_segments() -> list[str]:
    """The segments of this user that exist now, as ``"<channel>.<role>"``
    (role ``pub``, ``svc`` or ``queue``): each a name ``force_unlink`` accepts."""
    return _native.list_segments()


def force_unlink(name: str, force: bool = False) -> bool:
    """Removes a segment left behind (e.g. by a crashed program).

    ``name`` is a segment as ``list_segments()`` names it
    (``"robot/pose.pub"``), a channel name (all its segments), or a 1.0.0
    segment name (``"shmcomm_pub_robot"``). A segment that a live process
    still uses (its publisher, or a participant of its queue or service) is
    left alone, with a warning on the ``shmcomm.utils`` logger, unless
    ``force=True``: removing it would cut that process off its channel.

    Returns ``True`` if a segment was removed, ``False`` if none was (none
    existed, or the ones that did are in use).
    """
    targets = _native._segments_of(name)
    if not targets:
        for prefix, role in _LEGACY_PREFIXES.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                targets = [t for t in _native._segments_of(name[len(prefix):]) if t[1] == role]
                break
    removed = False
    for channel, role, pid in targets:
        if pid is not None and not force:
            logger.warning(
                "not removing segment '%s.%s': process %d still uses it "
                "(force_unlink(..., force=True) removes it anyway)", channel, role, pid)
            continue
        if _native._unlink(channel, role):
            logger.info("Force-unlinked segment '%s.%s'", channel, role)
            removed = True
    return removed


def platform_name() -> str:
    """A short name of this OS: ``linux``, ``macos``, ``windows`` or ``sys.platform``."""
    return {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)


def is_linux() -> bool:
    return sys.platform == "linux"


def is_windows() -> bool:
    return sys.platform == "win32"


def poll_until(check_fn: Callable[[], Any], timeout: float | None,
               poll_interval: float = 0.000_100) -> Any:
    """Calls ``check_fn()`` until it returns something other than ``None`` or
    ``False``, and returns that; ``None`` once ``timeout`` seconds have
    passed (``None``: no limit). Sleeps ``poll_interval`` seconds between calls."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        result = check_fn()
        if result is not None and result is not False:
            return result
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll_interval)
