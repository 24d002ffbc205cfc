"""Lifecycle logging, under the logger names of shm-comm 1.0.0.

1.0.0 logged the life of its endpoints (created, connected, closed) at INFO
level to ``shmcomm.pubsub``, ``shmcomm.reqrep`` and ``shmcomm.pipeline``, and
what ``force_unlink`` did to ``shmcomm.utils``; this package logs the same
events under the same names, and what the core notices of dead peers: a
dead process's segment replaced and a job cell recovered from a dead
pusher or puller (WARNING), a subscriber moved to a new publisher (INFO).
Nothing is logged on the message path: only when an endpoint is made or
closed, or a wait ends a slice (and ``logger.info`` costs one cached level
check when the logger is disabled).
"""

from __future__ import annotations

import logging
from typing import Any

from ._native import _flush_events

PUBSUB = logging.getLogger("shmcomm.pubsub")
REQREP = logging.getLogger("shmcomm.reqrep")
PIPELINE = logging.getLogger("shmcomm.pipeline")
UTILS = logging.getLogger("shmcomm.utils")


class Logged:
    """Mixin for the endpoint classes: logs ``close()`` (once, also when a
    ``with`` block ends) to the class's ``_logger``."""

    _logger: logging.Logger = PUBSUB

    def close(self) -> None:
        was_open = not self.closed  # type: ignore[attr-defined]
        super().close()  # type: ignore[misc]
        if was_open:
            self._logger.info("%s(%r) closed", type(self).__name__, self.name)  # type: ignore[attr-defined]

    def __exit__(self, *_args: object) -> None:
        self.close()


def created(obj: Any, logger: logging.Logger) -> None:
    """Logs a created (owning) endpoint with its geometry, as 1.0.0 did,
    after what making it found (a dead process's segment replaced)."""
    _flush_events()
    if logger.isEnabledFor(logging.INFO):
        st = obj.stats()
        num_slots, slot_size = st.get("num_slots"), st.get("slot_size")
        if num_slots is None:
            logger.info("%s(%r) ready", type(obj).__name__, obj.name)
        else:
            logger.info("%s(%r) ready — %d slots × %d bytes",
                        type(obj).__name__, obj.name, num_slots, slot_size)


def connected(obj: Any, logger: logging.Logger) -> None:
    """Logs an endpoint that attached to an existing channel."""
    _flush_events()
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s(%r) connected", type(obj).__name__, obj.name)
