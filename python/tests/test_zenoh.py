"""A plain Zenoh subscriber in Python decodes a sample a ``shmc-bridge``
exported: the same ``Imu`` dataclass a ``shm_comm`` subscriber gives.

Needs ``eclipse-zenoh`` (the ``zenoh`` extra); skipped with that reason
when it is not installed.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

zenoh = pytest.importorskip(
    "zenoh", reason="eclipse-zenoh is not installed (pip install 'shm-comm[zenoh]')")

from shm_comm.msgs import Imu  # noqa: E402
from shm_comm.zenoh import Decoder, parse_header  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def host_dir():
    """A segment directory of this test's own (a simulated host)."""
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    d = tempfile.mkdtemp(prefix="shmc-bridge-py-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_a_plain_zenoh_subscriber_decodes_a_bridged_imu(spawn, rust_bin, host_dir):
    port = _free_port()
    env = {"SHM_COMM_DIR": host_dir}
    bridge = spawn.program([rust_bin("shmc-bridge"), "run", "--listen",
                            f"tcp/127.0.0.1:{port}", "--export", "robot/**"], env=env)
    publisher = spawn.program([rust_bin("shmc-bridge-test-peer"), "pub-imu", "robot/imu",
                               "5000", "0"], env=env)
    assert publisher.line(timeout=15) == "ready"
    deadline = time.monotonic() + 15
    while "running as" not in bridge.stderr and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "running as" in bridge.stderr, bridge.stderr
    conf = zenoh.Config()
    conf.insert_json5("mode", '"client"')
    conf.insert_json5("connect/endpoints", f'["tcp/127.0.0.1:{port}"]')
    conf.insert_json5("scouting/multicast/enabled", "false")
    with zenoh.open(conf) as session:
        decoder = Decoder(session, domain="shm")
        with session.declare_subscriber("shm/robot/imu") as sub:
            deadline = time.monotonic() + 15
            sample = None
            while sample is None and time.monotonic() < deadline:
                sample = sub.try_recv()
                if sample is None:
                    time.sleep(0.01)
            assert sample is not None, f"no sample in 15 s; bridge: {bridge.stderr}"
        header = parse_header(sample.attachment.to_bytes())
        imu = decoder.decode(sample)
    assert isinstance(imu, Imu)
    # Every field as the publisher's `imu(i)` wrote it (src/bin/test_peer/fixture.rs).
    i = imu.header.seq
    assert header.hash == 0x93083B9A5BABDB51
    assert (imu.header.stamp.sec, imu.header.stamp.nanosec) == (i, (7 * i) % 1_000_000_000)
    assert imu.header.frame_id == f"imu-{i}"
    assert (imu.orientation.x, imu.orientation.y, imu.orientation.z, imu.orientation.w) == \
        (i, -i, i * 0.5, 1.0)
    cov = np.array([i + k / 10 for k in range(9)])
    np.testing.assert_array_equal(imu.orientation_covariance, cov)
    np.testing.assert_array_equal(imu.angular_velocity_covariance, -cov)
    np.testing.assert_array_equal(imu.linear_acceleration_covariance, cov * 2)
    assert (imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z) == \
        (i + 0.25, i + 0.5, i + 0.75)
    assert (imu.linear_acceleration.x, imu.linear_acceleration.y, imu.linear_acceleration.z) == \
        (9.81, i * 3.0, -i)
