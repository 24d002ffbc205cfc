"""The exception classes, under the module name of shm-comm 1.0.0
(``from shm_comm.exceptions import SHMConnectionError``). The same classes
as ``shm_comm.SHMError`` and its subclasses."""

from ._errors import *  # noqa: F403
from ._errors import __all__  # noqa: F401
