"""Use of a module generated from a user's schema, for ``mypy --strict``.

Never run: ``test_typing.py`` generates ``robot_msgs`` from
``shm-comm-schema/tests/fixtures/robot.toml`` with ``python -m
shm_comm.schema gen`` and type-checks it together with this file.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from robot_msgs import ImageThermal, RobotStatus
from typing_extensions import assert_type

from shm_comm import Publisher, Subscriber
from shm_comm.msgs import Header, Point, Pose


def robot_status() -> None:
    with Publisher("robot/status", msg_type=RobotStatus) as pub, \
            Subscriber("robot/status", msg_type=RobotStatus) as sub:
        pub.send(RobotStatus(mode=RobotStatus.MODE_DRIVE, errors=["e1"], waypoints=[Point(x=1.0)]))
        st = sub.recv(0.1)
        if st is not None:
            assert_type(st.header, Header)
            assert_type(st.pose, Pose)
            assert_type(st.mode, int)
            assert_type(st.in_, bool)
            assert_type(st.joints, npt.NDArray[np.float32])
            assert_type(st.gains, npt.NDArray[np.float64])
            assert_type(st.wheel_speeds, list[npt.NDArray[np.float32]])
            assert_type(st.errors, list[str])
            assert_type(st.waypoints, list[Point])
    assert_type(ImageThermal().data, npt.NDArray[np.uint8])
