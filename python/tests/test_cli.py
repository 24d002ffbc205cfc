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


def test_a_typed_recording_is_omgidl_and_cdr(chan: str, tmp_path: Path) -> None:
    """A typed topic is recorded with an ``omgidl`` schema and ``cdr``
    messages, which a reader that knows only CDR decodes: the 4-byte
    encapsulation header, then the fields aligned to their size."""
    import struct

    from shm_comm import msgs

    reader = pytest.importorskip("mcap.reader", reason="the mcap Python package is not installed")
    with Publisher(chan, msg_type=msgs.PoseStamped) as pub:
        stop = threading.Event()

        def keep_sending() -> None:
            n = 0
            while not stop.is_set():
                m = msgs.PoseStamped()
                m.header.seq = n
                m.header.stamp.sec = 100 + n
                m.header.frame_id = f"frame-{n}"
                m.pose.position.x = n * 0.5
                m.pose.orientation.w = 1.0
                pub.send(m)
                n += 1
                stop.wait(0.005)

        sender = threading.Thread(target=keep_sending)
        sender.start()
        try:
            out = shmc("record", "-o", str(tmp_path / "rec.mcap"), chan, "-n", "10", "-q")
        finally:
            stop.set()
            sender.join()
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "rec.mcap", "rb") as f:
        r = reader.make_reader(f, validate_crcs=True)
        summary = r.get_summary()
        assert summary is not None and summary.statistics is not None
        assert summary.statistics.message_count == 10
        (channel,) = summary.channels.values()
        schema = summary.schemas[channel.schema_id]
        assert (schema.name, schema.encoding) == ("PoseStamped", "omgidl")
        assert channel.message_encoding == "cdr"
        idl = schema.data.decode()
        assert "struct PoseStamped {\n    Header header;\n    Pose pose;\n};" in idl, idl
        assert "shm_comm.layout_hash" in channel.metadata
        messages = [m.data for _, _, m in r.iter_messages()]
    # Header { Time stamp { int32 sec; uint32 nanosec; }; uint32 seq;
    #          FixedString64 frame_id { uint32 len; uint8 data[64]; }; }
    # then Pose { Point position { double x, y, z; }; Quaternion ... }.
    for data in messages:
        assert data[:4] == b"\x00\x01\x00\x00"
        body = data[4:]
        sec, _nanosec, seq, flen = struct.unpack_from("<iIII", body, 0)
        assert sec == 100 + seq
        assert body[16:16 + flen].decode() == f"frame-{seq}"
        pos = 16 + 64
        pos = (pos + 7) // 8 * 8  # a double is aligned to 8
        x, y, z = struct.unpack_from("<3d", body, pos)
        assert (x, y, z) == (seq * 0.5, 0.0, 0.0)
        qw = struct.unpack_from("<d", body, pos + 24 + 24)[0]
        assert qw == 1.0
