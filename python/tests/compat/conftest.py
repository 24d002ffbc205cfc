"""The public-API tests of shm-comm 1.0.0 (its sdist's tests/test_pubsub.py,
test_reqrep.py, test_pipeline.py and test_performance.py), vendored
unchanged, run against this package: a drop-in replacement passes them.

Two of them cannot pass, and are expected to fail:
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

#: test name -> (why it fails, whether to run it at all)
EXPECTED_FAILURES = {
    "test_cross_process_pubsub": (
        "fails on shm-comm 1.0.0 itself: the subscriber process starts after the "
        "publisher process has sent its 5 messages and closed the topic, so it "
        "cannot connect (1.0.0 fails it the same way; running it costs 7 s)", False),
    "test_memory_usage": (
        "imports shm_comm.core, the segment layer of 1.0.0's pure-Python ring, "
        "which this package does not have", True),
}


def pytest_configure(config):
    # The marker the vendored files use (registered here too so that they
    # run outside this repository, from an installed wheel).
    config.addinivalue_line("markers", "multiprocess: spawns other processes")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.path).resolve().parent != HERE:
            continue
        expected = EXPECTED_FAILURES.get(getattr(item, "originalname", item.name))
        if expected is not None:
            reason, run = expected
            item.add_marker(pytest.mark.xfail(reason=reason, run=run, strict=run))
