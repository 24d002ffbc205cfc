"""Host B of the two-host example (``two_hosts.sh``): a Python node that
reads the ``Imu`` readings host A's Rust node publishes, through the two
bridges, and calls host A's ``robot/add`` service. Its code is the same as
on one host: the bridge made ``robot/imu`` and ``robot/add`` local here.

    SHM_COMM_DIR=<host B's directory> python shm-comm-zenoh/examples/host_b.py
"""

from __future__ import annotations

from shm_comm import Requester, Subscriber
from shm_comm.msgs import Imu


def main() -> None:
    # The topic appears on host B with host A's first reading.
    with Subscriber("robot/imu", msg_type=Imu, timeout_connect=15.0) as sub:
        for _ in range(5):
            imu = sub.recv(timeout=5.0)
            if imu is None:
                raise SystemExit("host B: no Imu within 5 s")
            print(f"host B: Imu seq {imu.header.seq} from {imu.header.frame_id!r}, "
                  f"a_z = {imu.linear_acceleration.z}")
    with Requester("robot/add", timeout_connect=15.0, serialization="msgpack") as add:
        total = add.request([2, 3], timeout=5.0)
        print(f"host B: robot/add(2, 3) = {total}")
        if total != 5:
            raise SystemExit(f"host B: expected 5, got {total!r}")


if __name__ == "__main__":
    main()
