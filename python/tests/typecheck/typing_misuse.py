"""Misuses of the public API that ``mypy --strict`` must reject.

Never run. Each line whose comment starts with ``E:`` must get a mypy error
containing the comment's text on that line, and no other line may get one
(``test_typing.py``).
"""

from __future__ import annotations

import shm_comm
from shm_comm import Publisher, Puller, Pusher, Replier, Requester, Subscriber, force_unlink
from shm_comm.msgs import Imu, Odometry


def misuse() -> None:
    sub = Subscriber("t/imu", msg_type=Imu)
    sub.recv(timeout="1.0")  # E: Argument "timeout" to "recv" of "Subscriber" has incompatible type "str"
    msg = sub.recv()
    if msg is not None:
        print(msg.no_such_field)  # E: "Imu" has no attribute "no_such_field"
        print(msg.header.sequence)  # E: "Header" has no attribute "sequence"
        text: str = msg.header.seq  # E: Incompatible types in assignment (expression has type "int", variable has type "str")
    print(sub.recv().header)  # E: Item "None" of "Imu | None" has no attribute "header"
    odom: Odometry | None = sub.recv(1.0)  # E: Incompatible types in assignment (expression has type "Imu | None"

    pub = Publisher("t/imu", msg_type=Imu)
    pub.send(Odometry())  # E: Argument 1 to "send" of "Publisher" has incompatible type "Odometry"
    pub.send_bytes("text")  # E: Argument 1 to "send_bytes" of "Publisher" has incompatible type "str"
    pub.send(Imu(), block=False, timeout="soon")  # E: Argument "timeout" to "send" of "Publisher" has incompatible type "str"
    Publisher("t/x", slot_size="4k")  # E: No overload variant of "Publisher" matches argument types
    Subscriber("t/x", timeout_conect=1.0)  # E: No overload variant of "Subscriber" matches argument types
    Subscriber("t/x").recv(1.0, 2.0)  # E: Too many arguments for "recv" of "Subscriber"

    Pusher("jobs").send(1, timeout="soon")  # E: Argument "timeout" to "send" of "Pusher" has incompatible type "str"
    Puller("jobs").recv_bytes(timeout=[1])  # E: Argument "timeout" to "recv_bytes" of "Puller" has incompatible type "list[int]"
    Requester("svc").request({}, 1.0, 2)  # E: Too many arguments for "request" of "Requester"
    Replier("svc").sned(1)  # E: "Replier" has no attribute "sned"
    count: str = Replier("svc").stats()["pending"]  # E: Incompatible types in assignment (expression has type "int", variable has type "str")

    force_unlink(42)  # E: Argument 1 to "force_unlink" has incompatible type "int"; expected "str"
    print(shm_comm.Publsher)  # E: Module has no attribute "Publsher"
    with Subscriber("t/imu", msg_type=Imu) as s:
        s.close(True)  # E: Too many arguments for "close" of "Subscriber"
