"""The ``shmc`` console script: the Rust command line, installed with the
wheel and reached through ``_native``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shm_comm import Publisher


def shmc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shm_comm._cli", *args],
        capture_output=True, text=True, timeout=60,
    )


def test_echo_decodes_msgpack_published_from_python(chan: str) -> None:
    """A dict sent by a Python publisher comes back as the same JSON."""
    value = {"seq": 7, "name": "probe", "values": [1.5, -2, "x"], "nested": {"ok": True}}
    with Publisher(chan, serialization="msgpack") as pub:
        stop = threading.Event()

        def keep_sending() -> None:
            while not stop.is_set():
                pub.send(value)
                stop.wait(0.01)

        sender = threading.Thread(target=keep_sending)
        sender.start()
        try:
            out = shmc("echo", chan, "--once", "--json")
        finally:
            stop.set()
            sender.join()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == value


def test_errors_exit_nonzero_with_one_line() -> None:
    out = shmc("echo", "no/such/topic", "--wait", "0.1")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0
    assert "no topic `no/such/topic`" in out.stderr
    assert shmc("no-such-command").returncode == 2


def test_console_script_is_installed() -> None:
    script = shutil.which("shmc", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the shmc script is not installed next to this Python")
    out = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("shmc "), out


def test_a_recording_passes_the_mcap_python_reader(chan: str, tmp_path: Path) -> None:
    """``shmc record`` writes a file that the independent ``mcap`` reader
    accepts: CRCs, summary, message count, encodings."""
    reader = pytest.importorskip("mcap.reader", reason="the mcap Python package is not installed")
    with Publisher(chan, serialization="msgpack") as pub:
        stop = threading.Event()

        def keep_sending() -> None:
            n = 0
            while not stop.is_set():
                pub.send({"n": n})
                n += 1
                stop.wait(0.005)

        sender = threading.Thread(target=keep_sending)
        sender.start()
        try:
            out = shmc("record", "-o", str(tmp_path / "rec.mcap"), chan, "-n", "25", "-q")
        finally:
            stop.set()
            sender.join()
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "rec.mcap", "rb") as f:
        r = reader.make_reader(f, validate_crcs=True)
        summary = r.get_summary()
        assert summary is not None and summary.statistics is not None
        assert summary.statistics.message_count == 25
        (channel,) = summary.channels.values()
        assert channel.topic == chan and channel.message_encoding == "msgpack"
        ns = [m.data for _, _, m in r.iter_messages()]
    assert len(ns) == 25
