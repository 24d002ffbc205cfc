"""The Python examples in ``examples/`` run as the two processes their
docstrings describe, briefly (``--count``), and print what they promise."""

from __future__ import annotations

import ast
import re
import sys

import pytest

import shm_comm

from support import ROOT

EXAMPLES = ROOT / "examples"
PY_EXAMPLES = ["simple_pubsub.py", "reqrep_example.py", "numpy_sharing.py", "cross_language.py",
               "imu_pubsub.py", "asyncio_node.py"]


def run(spawn, script: str, *args):
    return spawn.program([sys.executable, EXAMPLES / script, *args])


@pytest.mark.parametrize("script", PY_EXAMPLES)
def test_example_has_run_instructions(script):
    src = (EXAMPLES / script).read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(src))
    assert doc and "python examples/" + script in doc
    assert "--count" in doc
    # Examples name paths relative to the repository, never absolute ones.
    assert str(EXAMPLES.parent.resolve()) not in src


@pytest.mark.parametrize("script", PY_EXAMPLES)
def test_example_help(script, spawn):
    out = run(spawn, script, "--help").wait_ok(20)
    assert any("--count" in line for line in out)


def _field(lines, pattern):
    for line in lines:
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no line matches {pattern!r}: {lines}")


def test_simple_pubsub(chan, spawn):
    sub = run(spawn, "simple_pubsub.py", "subscriber", "--topic", chan, "--count", "40",
              "--wait", "20")
    sub.expect("sub | waiting")
    pub = run(spawn, "simple_pubsub.py", "publisher", "--topic", chan, "--count", "80",
              "--rate", "200")
    pub_out = pub.wait_ok(30)
    sub_out = sub.wait_ok(30)
    assert _field(pub_out, r"sent (\d+) poses").group(1) == "80"
    received = int(_field(sub_out, r"received (\d+) poses").group(1))
    assert 10 <= received <= 40, sub_out
    assert _field(sub_out, r"missed (\d+)").group(1) == "0"
    assert any(re.search(r"x=\d+\.\d\d  heading=\d\.\d{3}", line) for line in sub_out)


def test_imu_pubsub(chan, spawn):
    sub = run(spawn, "imu_pubsub.py", "subscriber", "--topic", chan, "--count", "30",
              "--wait", "20")
    sub.expect("sub | waiting")
    pub = run(spawn, "imu_pubsub.py", "publisher", "--topic", chan, "--count", "600",
              "--rate", "400")
    sub_out = sub.wait_ok(30)
    pub_out = pub.wait_ok(30)
    assert "pub | sent 600 readings" in pub_out
    assert 10 <= int(_field(sub_out, r"received (\d+) readings").group(1)) <= 30, sub_out
    readings = [line for line in sub_out if re.match(r"sub \| #\d", line)]
    assert readings and all(
        "imu_link" in line and "gyro z 0.50 rad/s" in line and "accel z 9.81 m/s2 (sd 0.10)" in line
        for line in readings), sub_out


def test_reqrep_example(chan, spawn):
    server = run(spawn, "reqrep_example.py", "server", "--service", chan)
    server.expect("server | serving")
    client = run(spawn, "reqrep_example.py", "client", "--service", chan, "--count", "6",
                 "--shutdown")
    out = client.wait_ok(30)
    replies = [line for line in out if re.match(r"client \| #\d", line)]
    assert len(replies) == 6
    assert "'status': 'ok'" in replies[0] and "'served': 1" in replies[0]
    assert "move" in replies[1] and "'joints': [0.0, 0.1," in replies[1]
    assert any("bye" in line for line in out)
    assert any("round trip p50" in line for line in out)
    server_out = server.wait_ok(30)
    assert "server | shutdown requested" in server_out
    assert "server | served 7 requests" in server_out


def test_asyncio_node_demo(chan, spawn):
    """The demo starts its peer; the node takes every message of three
    topics and answers status calls, in one loop."""
    out = run(spawn, "asyncio_node.py", "--prefix", chan, "--count", "15").wait_ok(60)
    m = _field(out, r"node \| received (\d+) imu, (\d+) odom, (\d+) battery; served (\d+)")
    assert m.groups()[:3] == ("15", "15", "15") and int(m.group(4)) >= 1, out
    assert any(re.match(r"node \| status call #1 -> counts \{'imu': \d+", line) for line in out)
    assert "peer | publishing imu, odom, battery" in out
    assert _field(out, r"demo \| the peer exited \((\d+)\)").group(1) == "0"
    for t in ("imu", "odom", "battery", "status"):
        shm_comm.force_unlink(f"{chan}/{t}")


def test_asyncio_node_in_two_processes(chan, spawn):
    peer = run(spawn, "asyncio_node.py", "peer", "--prefix", chan, "--rate", "500")
    peer.expect("peer | publishing")
    out = run(spawn, "asyncio_node.py", "node", "--prefix", chan, "--count", "30").wait_ok(60)
    assert _field(out, r"node \| received (\d+) imu").group(1) == "30"
    assert any("the node is gone" in line for line in peer.wait_ok(30))
    for t in ("imu", "odom", "battery", "status"):
        shm_comm.force_unlink(f"{chan}/{t}")


@pytest.mark.parametrize("zero_copy", [False, True], ids=["bytes", "zero-copy"])
def test_numpy_sharing(zero_copy, chan, spawn):
    flag = ["--zero-copy"] if zero_copy else []
    sub = run(spawn, "numpy_sharing.py", "subscriber", "--topic", chan, "--count", "20",
              "--wait", "20", *flag)
    sub.expect("sub | waiting")
    pub = run(spawn, "numpy_sharing.py", "publisher", "--topic", chan, "--count", "60",
              "--rate", "200", *flag)
    sub_out = sub.wait_ok(30)
    pub_out = pub.wait_ok(30)
    assert "pub | sent 60 frames" in pub_out
    assert any(("typed Frame" if zero_copy else "(bytes)") in line for line in sub_out)
    m = _field(sub_out, r"received (\d+) frames, (\d+) corrupt")
    assert int(m.group(1)) >= 10 and m.group(2) == "0", sub_out
    assert any(re.search(r"frame \d+: mean [\d.]+, ok", line) for line in sub_out)


@pytest.mark.parametrize("mode", [[], ["--strict"], ["--zero-copy"]],
                         ids=["plain", "strict", "zero-copy"])
def test_cross_language_typed(mode, chan, spawn, rust_bin):
    example = rust_bin("typed_pubsub", kind="example")
    py = run(spawn, "cross_language.py", "--topic", chan, "--count", "30", "--wait", "20", *mode)
    py.expect("py  | waiting")
    rust = spawn.program([example, "publisher", "--topic", chan, "--count", "200",
                          "--rate", "500"])
    out = py.wait_ok(30)
    assert "py  | layout Pose (112 bytes" in "\n".join(out)
    assert any("frame_id: string<32>" in line for line in out)
    poses = [line for line in out if re.match(r"py  \| #\d", line)]
    assert poses and all("frame 'map'  valid True" in line for line in poses), out
    assert _field(out, r"received (\d+) poses").group(1) == "30"
    rust.kill()


def test_cross_language_dynamic(chan, spawn, rust_bin):
    example = rust_bin("dynamic_pubsub", kind="example")
    py = run(spawn, "cross_language.py", "--dynamic", "--topic", chan, "--count", "20",
             "--wait", "20")
    py.expect("py  | waiting")
    rust = spawn.program([example, "publisher", "--topic", chan, "--count", "100",
                          "--rate", "400"])
    out = py.wait_ok(30)
    m = _field(out, r"received (\d+) events and (\d+) raw frames")
    assert int(m.group(1)) + int(m.group(2)) == 20 and int(m.group(1)) >= 5
    assert any(re.search(r"event \{'seq': \d+, 'stamp_ns': \d+, 'source': '", line) for line in out)
    rust.kill()


def test_cross_language_strict_refuses_another_layout(chan, spawn):
    """``--strict`` against a topic whose layout differs: SHMLayoutError."""
    from shm_comm import Publisher, typed

    other = {"name": "Pose", "size": 8, "align": 8,
             "fields": [{"name": "stamp_ns", "offset": 0, "kind": "u64"}]}
    with Publisher(chan, msg_type=typed.message_class(other)):
        py = run(spawn, "cross_language.py", "--topic", chan, "--strict", "--wait", "5")
        rc = py.wait(30)
    assert rc != 0
    assert "SHMLayoutError" in py.stderr
