"""Constants and helpers shared by the benchmark's modules."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
#: The benchmark's entry point, which the driver and echo processes run.
SCRIPT = HERE / "benchmark.py"
ORIG_PY = REPO / ".venv-orig" / "bin" / "python"

PAD56 = bytes(56)
STOP_SEQ = (1 << 64) - 1
MIB = 1 << 20
MAX_SAMPLES = 3_000_000
REPLY_LIMIT_S = 5.0          # a reply later than this fails the measurement
ECHO_IDLE_S = 15.0           # an echo with nothing to do for this long exits


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


