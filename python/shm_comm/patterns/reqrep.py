"""``Requester`` and ``Replier`` under the module name of shm-comm 1.0.0."""

from .. import Requester, Replier

__all__ = ["Requester", "Replier"]
