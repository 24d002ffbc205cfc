"""``Publisher`` and ``Subscriber`` under the module name of shm-comm 1.0.0."""

from .. import Publisher, Subscriber

__all__ = ["Publisher", "Subscriber"]
