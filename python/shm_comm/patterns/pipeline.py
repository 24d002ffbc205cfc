"""``Pusher`` and ``Puller`` under the module name of shm-comm 1.0.0."""

from .. import Pusher, Puller

__all__ = ["Pusher", "Puller"]
