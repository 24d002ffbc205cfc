"""The README's Python snippets, and the original shm-comm 1.0.0 README's
quick starts, run as printed.

Every ``python`` block of this project's README.md runs as printed, in its
own process, with one change: its channel names get a prefix unique to the
test (so that parallel runs do not meet). Snippets that show one side of a
topic get the other side from a helper process. A fragment that cannot run
alone (the Zenoh decoder, which needs a Zenoh session and a bridge) is
fenced ``py`` instead; ``test_zenoh.py`` runs what it shows.

The original README's quick starts:

Each snippet runs as its own process, as the README intends (``python
publisher.py`` in one terminal, ``python subscriber.py`` in another). The
only changes: the channel name comes from ``sys.argv[1]`` (unique per test),
and ``while True`` loops are bounded (a sentinel message ends them) so the
test finishes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shm_comm import Puller, Publisher, Pusher, Replier, Requester, Subscriber

PUBLISHER_PY = """
# publisher.py
import sys
from shm_comm import Publisher
import time

with Publisher(sys.argv[1]) as pub:
    t = 0
    while t < 150:                     # README: while True
        pub.send({"x": t * 0.1, "y": 0.0, "heading": t * 0.01})
        t += 1
        time.sleep(0.01)   # 100 Hz
    pub.send({"stop": True})           # sentinel for the bounded subscriber
"""

SUBSCRIBER_PY = """
# subscriber.py
import sys
from shm_comm import Subscriber

with Subscriber(sys.argv[1]) as sub:
    while True:
        pose = sub.recv(timeout=1.0)
        if pose:
            if pose.get("stop"):         # sentinel
                break
            print(f"x={pose['x']:.2f}  heading={pose['heading']:.3f}")
"""

SERVER_PY = """
# server.py
import sys
from shm_comm import Replier

with Replier(sys.argv[1]) as rep:
    while True:
        req = rep.recv(timeout=5.0)
        if req:
            rep.send({"status": "ok", "echo": req})
            if req == {"command": "shutdown"}:     # sentinel
                break
"""

CLIENT_PY = """
# client.py
import sys
from shm_comm import Requester

with Requester(sys.argv[1]) as req:
    reply = req.request({"command": "get_status"}, timeout=2.0)
    print(reply)
"""

PUSHER_PY = """
# pusher.py
import sys, time
from shm_comm import Pusher

my_jobs = [{"job": i} for i in range(100)] + [{"stop": True}] * 2   # one sentinel per worker

with Pusher(sys.argv[1]) as push:
    # Not in the README: wait for the two workers to join. The queue lives
    # as long as a participant does; a pusher that queued its jobs and left
    # before any worker joined would take them with it.
    while push.stats()["pullers"] < 2:
        time.sleep(0.005)
    for job in my_jobs:
        push.send(job)
"""

WORKER_PY = """
# worker.py  (run multiple copies)
import sys
from shm_comm import Puller

def process(job):
    print("did", job["job"], flush=True)

with Puller(sys.argv[1]) as pull:
    while True:
        job = pull.recv(timeout=1.0)
        if job:
            if job.get("stop"):          # sentinel
                break
            process(job)
"""

NUMPY_PUB_PY = """
import sys, time
import numpy as np
from shm_comm import Publisher

joint_array = np.array([0.1, -0.2, 0.3, 1.5, -1.5, 0.0, 2.0])
pub = Publisher(sys.argv[1], slot_size=256)
for _ in range(100):                       # (the subscriber needs one)
    pub.send_bytes(joint_array.tobytes())
    time.sleep(0.01)
pub.close()
"""

NUMPY_SUB_PY = """
import sys
import numpy as np
from shm_comm import Subscriber

sub = Subscriber(sys.argv[1])
raw = None
while raw is None:
    raw = sub.recv_bytes(timeout=0.1)
joints = np.frombuffer(raw, dtype=np.float64)
print(joints.tolist())
"""


def test_snippets_are_valid_python():
    for src in (PUBLISHER_PY, SUBSCRIBER_PY, SERVER_PY, CLIENT_PY, PUSHER_PY, WORKER_PY,
                NUMPY_PUB_PY, NUMPY_SUB_PY):
        ast.parse(src)


def test_readme_publish_subscribe(chan, spawn):
    publisher = spawn(PUBLISHER_PY, chan)
    subscriber = spawn(SUBSCRIBER_PY, chan)
    assert publisher.wait(20) == 0, publisher.stderr
    lines = subscriber.wait_ok(20)
    assert len(lines) >= 50, lines  # started within a second of the publisher
    xs = []
    for line in lines:
        x, heading = line.split()
        assert x.startswith("x=") and heading.startswith("heading=")
        xs.append(float(x[2:]))
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert xs[-1] == 14.9  # the last pose before the sentinel


def test_readme_request_reply(chan, spawn):
    server = spawn(SERVER_PY, chan)
    for _ in range(3):
        client = spawn(CLIENT_PY, chan)
        assert client.wait_ok(20) == ["{'status': 'ok', 'echo': {'command': 'get_status'}}"]
    with Requester(chan) as req:
        assert req.request({"command": "shutdown"}, timeout=5.0)["status"] == "ok"
    assert server.wait(20) == 0, server.stderr


def test_readme_push_pull(chan, spawn):
    workers = [spawn(WORKER_PY, chan) for _ in range(2)]
    pusher = spawn(PUSHER_PY, chan)
    assert pusher.wait(20) == 0, pusher.stderr
    done = []
    for w in workers:
        for line in w.wait_ok(20):
            assert line.startswith("did ")
            done.append(int(line.split()[1]))
    assert sorted(done) == list(range(100))  # every job, exactly once


def test_readme_numpy_zero_copy(chan, spawn):
    publisher = spawn(NUMPY_PUB_PY, chan)
    subscriber = spawn(NUMPY_SUB_PY, chan)
    assert subscriber.wait_ok(20) == [str([0.1, -0.2, 0.3, 1.5, -1.5, 0.0, 2.0])]
    assert publisher.wait(20) == 0


def test_original_module_docstring_quick_start(make_chan):
    """The quick start of the original ``shm_comm.__init__`` docstring: all in
    one process, in this order."""
    my_channel, my_service, jobs = make_chan(), make_chan(), make_chan()

    pub = Publisher(my_channel)
    sub = Subscriber(my_channel)
    pub.send({"value": 42})
    msg = sub.recv(timeout=1.0)
    assert msg == {"value": 42}

    rep = Replier(my_service)
    req = Requester(my_service)
    req.send({"query": "ping"})
    request = rep.recv()
    assert request == {"query": "ping"}
    rep.send({"pong": True})
    reply = req.recv()
    assert reply == {"pong": True}

    push = Pusher(jobs)
    pull = Puller(jobs)
    push.send({"task": 1})
    job = pull.recv()
    assert job == {"task": 1}

    for h in (pub, sub, rep, req, push, pull):
        h.close()


def test_original_docstring_examples(make_chan):
    """Examples from the original classes' docstrings (geometry keywords,
    ``timeout_connect``, ``recv(timeout=...)``)."""
    imu, arm, work = make_chan(), make_chan(), make_chan()
    pub = Publisher(imu, num_slots=128, slot_size=1024)
    with Subscriber(imu, timeout_connect=10.0) as sub:
        pub.send({"ax": 0.1})
        assert sub.recv(timeout=0.5) == {"ax": 0.1}
    pub.close()

    rep = Replier(arm)
    req = Requester(arm)
    req.send({"command": "get_position"})
    assert rep.recv(timeout=10.0) == {"command": "get_position"}
    rep.send({"ack": True})
    assert req.recv(timeout=1.0) == {"ack": True}
    req.close()
    rep.close()

    push = Pusher(work, num_slots=256)
    push.send({"task": "calibrate", "axis": 3})
    with Puller(work) as pull:
        assert pull.recv(timeout=2.0) == {"task": "calibrate", "axis": 3}
    push.close()


# ---------------------------------------------------------------------------
# This project's README.md
# ---------------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippets() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.S | re.M)


def _renamed(src: str, prefix: str) -> str:
    """``src`` with every channel name (a ``"word/word"`` literal) prefixed."""
    return re.sub(r'"([a-z_]+/[a-z_]+)"', lambda m: f'"{prefix}/{m.group(1)}"', src)


#: Publishers for the snippets that show a subscriber of a topic that a
#: Rust program publishes: they publish the same types at 100 Hz.
IMU_AND_CAMERA_PUBLISHER = """
import sys, time
from shm_comm import Publisher, msgs

prefix = sys.argv[1]
with Publisher(prefix + "/robot/imu", msg_type=msgs.Imu) as imu, \\
        Publisher(prefix + "/camera/rgb", msg_type=msgs.ImageVga, num_slots=4) as cam:
    print("ready", flush=True)
    img = msgs.ImageVga(height=2, width=2, step=6)
    img.data = list(range(12))
    for _ in range(2000):
        imu.send(msgs.Imu())
        cam.send(img)
        time.sleep(0.01)
"""

README_OUTPUT = [
    ["{'level': 1} {'level': 2} 0"],            # multi-publisher topic
    ["[0 1 2 3 4 5]", "320 (230400,)"],        # variable-size messages
    ["{'x': 1.0, 'y': 0.0, 'heading': 0.1}"],
    [],
    ["{'volts': 24.1}"],                        # the Poller
    ["{'x': 1.0}", "{'ok': 'status'}"],         # shm_comm.asyncio
    None,  # printed by the snippet; checked below
]


def test_readme_has_the_snippets_tested_here():
    """A new snippet in README.md needs a case in test_readme_snippet_runs_as_printed."""
    assert len(readme_snippets()) == len(README_OUTPUT)


@pytest.mark.parametrize("i", range(len(README_OUTPUT)))
def test_readme_snippet_runs_as_printed(i, chan, spawn):
    src = readme_snippets()[i]
    if "robot/imu" in src:
        helper = spawn(IMU_AND_CAMERA_PUBLISHER, chan)
        helper.expect("ready")
    lines = spawn(_renamed(src, chan)).wait_ok(30)
    if README_OUTPUT[i] is not None:
        assert lines == README_OUTPUT[i]
    else:
        # frame_id "" , linear_acceleration.z, the covariance (a numpy array)
        assert lines[0].split() == ["0.0", "[0.", "0.", "0.", "0.", "0.", "0.", "0.", "0.", "0.]"], lines
