"""Helpers of the Python test suite (imported by the tests and conftest)."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

#: The workspace root (``python/tests/support.py`` -> three levels up).
ROOT = Path(__file__).resolve().parents[2]


class Child:
    """A child process with line-oriented stdin/stdout.

    stdout is read by a thread into a queue, so that :meth:`line` can wait
    with a timeout; stderr is collected for error messages.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=str(ROOT),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self._stderr: list[str] = []
        self._out_thread = threading.Thread(target=self._read_stdout, daemon=True)
        self._err_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._out_thread.start()
        self._err_thread.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                line = line.rstrip("\n")
                self.output.append(line)
                self.lines.put(line)
        except (OSError, ValueError):  # closed at teardown
            pass
        self.lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                self._stderr.append(line)
        except (OSError, ValueError):  # closed at teardown
            pass

    def close(self) -> None:
        """Kills the child if it still runs and releases its pipes."""
        self.kill()
        self._out_thread.join(timeout=5)
        self._err_thread.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr(self) -> str:
        self._err_thread.join(timeout=1.0)
        return "".join(self._stderr)

    def line(self, timeout: float = 10.0) -> str:
        """The next line of stdout; fails the test on timeout or EOF."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line from child {self.argv[:2]} within {timeout} s; "
                        f"stdout so far {self.output!r}; stderr {''.join(self._stderr)!r}")
        if line is None:
            self.lines.put(None)
            rc = self.proc.wait(timeout=5)
            pytest.fail(f"child {self.argv[:2]} exited ({rc}) before printing a line; "
                        f"stdout {self.output!r}; stderr {self.stderr!r}")
        return line

    def expect(self, prefix: str, timeout: float = 10.0) -> str:
        """Skips lines until one starts with ``prefix``; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"child {self.argv[:2]} never printed {prefix!r}; "
                            f"stdout {self.output!r}; stderr {''.join(self._stderr)!r}")
            line = self.line(left)
            if line.startswith(prefix):
                return line

    def say(self, line: str = "") -> None:
        """Writes a line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        """Waits for the exit; fails the test (after killing) on timeout."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"child {self.argv[:2]} did not exit within {timeout} s; "
                        f"stdout {self.output!r}; stderr {self.stderr!r}")
        self._out_thread.join(timeout=2.0)
        return rc

    def wait_ok(self, timeout: float = 20.0) -> list[str]:
        """Waits for a successful exit; returns every stdout line."""
        rc = self.wait(timeout)
        assert rc == 0, f"child {self.argv[:2]} failed ({rc}): stdout {self.output!r}; stderr {self.stderr!r}"
        return list(self.output)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
            pass
        self.close_stdin()


# ---------------------------------------------------------------------------
# Misc helpers
# ---------------------------------------------------------------------------


def wait_for(pred, timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Polls ``pred()`` until true or ``timeout``; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def segment_file(name: str, role: str) -> Path:
    """The file under /dev/shm that holds segment ``role`` of channel
    ``name`` (as listed by ``shm_comm.list_segments()`` as ``name.role``)."""
    escaped = name.replace("/", "%2F").replace(".", "%2E")
    return Path("/dev/shm") / f"shmc-{os.getuid()}-{escaped}.{role}"


# ---------------------------------------------------------------------------
# The Rust test peer's self-checking `Check` message (tests/support/lib.rs)
# ---------------------------------------------------------------------------

_M64 = (1 << 64) - 1
CHECK_WORDS = 30

#: The layout of `Check { seq: u64, stamp_ns: u64, data: [u64; 30], sum: u64 }`
#: written by hand, as a Python program that has no generated code would.
CHECK_LAYOUT = {
    "name": "Check",
    "size": 264,
    "align": 8,
    "fields": [
        {"name": "seq", "offset": 0, "kind": "u64"},
        {"name": "stamp_ns", "offset": 8, "kind": "u64"},
        {"name": "data", "offset": 16, "kind": "u64", "shape": [CHECK_WORDS]},
        {"name": "sum", "offset": 256, "kind": "u64"},
    ],
}


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def check_mix(seq: int, i: int) -> int:
    return _rotl(((seq ^ 0x9E3779B97F4A7C15) * (i + 1)) & _M64, 17)


def check_words(seq: int) -> list[int]:
    return [check_mix(seq, i) for i in range(CHECK_WORDS)]


def check_sum(seq: int, stamp_ns: int, data) -> int:
    acc = (seq + stamp_ns) & _M64
    for w in data:
        acc = _rotl(acc, 5) ^ int(w)
    return acc


def make_check(seq: int, stamp_ns: int | None = None) -> dict:
    """A valid Check message (as a dict of fields), as `Check::new(seq)` makes."""
    stamp = time.monotonic_ns() if stamp_ns is None else stamp_ns
    data = check_words(seq)
    return {"seq": seq, "stamp_ns": stamp, "data": data, "sum": check_sum(seq, stamp, data)}


def verify_check(msg) -> bool:
    """`Check::verify` for a decoded message (dataclass or dict)."""
    get = msg.get if isinstance(msg, dict) else lambda k: getattr(msg, k)
    seq, stamp, data, total = int(get("seq")), int(get("stamp_ns")), list(get("data")), int(get("sum"))
    return [int(w) for w in data] == check_words(seq) and total == check_sum(seq, stamp, data)


def check_digest(seqs) -> int:
    """The peer's `sub` role digest of the received sequence numbers."""
    d = 0
    for s in seqs:
        d = _rotl(d, 7) ^ s
    return d


def parse_fields(line: str) -> dict[str, str]:
    """`key value key value ...` (the peers' output lines) as a dict."""
    words = line.split()
    return dict(zip(words[0::2], words[1::2]))
