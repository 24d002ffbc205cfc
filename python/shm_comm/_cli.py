"""The ``shmc`` console script: the Rust command line, through ``_native``."""

from __future__ import annotations

import signal
import sys

from shm_comm import _native


def main() -> None:
    """Runs ``shmc`` with this process's arguments and exits with its code."""
    # Ctrl-C ends the command as it ends the binary (``record`` installs
    # its own handler, to finish its file); Python's handler would only
    # set a flag that the Rust code never looks at.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.cli_main(["shmc", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
