"""The pattern classes, under the module names of shm-comm 1.0.0
(``shm_comm.patterns``, ``shm_comm.patterns.pubsub``, ...): the same
classes as ``shm_comm.Publisher`` and the others."""

from .. import Publisher, Puller, Pusher, Replier, Requester, Subscriber

__all__ = ["Publisher", "Subscriber", "Requester", "Replier", "Pusher", "Puller"]
