"""Shared fixtures of the Python test suite.

- ``chan``: a channel name unique to the test, removed (every segment of it)
  at teardown even if the test failed; ``make_chan()`` gives more of them.
- ``spawn``: starts a Python child process running a code snippet (or any
  program) with line-oriented stdin/stdout; every child is killed at
  teardown.
- ``rust_bin``: the path of a Rust binary of the workspace (a test peer or an
  example), built if missing; skips the test with the reason if it cannot be.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import shm_comm

from support import ROOT, Child

#: Longest channel name the library accepts, in bytes.
MAX_NAME = 100

_counter = itertools.count()


def sanitize(component: str) -> str:
    """``component`` in the allowed alphabet (letters, digits, ``_ - .``),
    never empty and never ``.`` or ``..``."""
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", component)
    s = s.strip(".") or "_"
    return s


def unique_name(test_name: str) -> str:
    """``pytest/<pid>/<test>/<n>``, at most :data:`MAX_NAME` bytes."""
    prefix = f"pytest/{os.getpid()}/"
    suffix = f"/{next(_counter)}"
    room = MAX_NAME - len(prefix) - len(suffix)
    test = sanitize(test_name)[:room].strip(".") or "_"
    return prefix + test + suffix


@pytest.fixture
def make_chan(request):
    """A factory of unique channel names; each is force-unlinked at teardown."""
    names: list[str] = []

    def make() -> str:
        name = unique_name(request.node.name)
        names.append(name)
        return name

    yield make
    for name in names:
        shm_comm.force_unlink(name)


@pytest.fixture
def chan(make_chan) -> str:
    """A channel name unique to this test (removed at teardown)."""
    return make_chan()


@pytest.fixture
def spawn():
    """``spawn(code, *args)`` runs ``code`` (dedented) in a new Python
    process (``sys.argv[1:]`` = ``args``); ``spawn.program(argv)`` runs any
    program. Every child is killed at teardown."""
    children: list[Child] = []

    def run(code: str, *args: str, env: dict[str, str] | None = None) -> Child:
        child = Child([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env)
        children.append(child)
        return child

    def program(argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child([str(a) for a in argv], env)
        children.append(child)
        return child

    run.program = program  # type: ignore[attr-defined]
    yield run
    for child in children:
        child.close()


# ---------------------------------------------------------------------------
# Rust binaries
# ---------------------------------------------------------------------------

_built: dict[tuple[str, str], Path | str] = {}
_build_lock = threading.Lock()


def _candidates(kind: str, name: str) -> list[Path]:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    sub = "examples" if kind == "example" else ""
    return [target / profile / sub / name for profile in ("release", "debug")]


def find_rust_bin(kind: str, name: str) -> Path | str:
    """The newest built ``name`` (``kind`` "bin" or "example") or, if none,
    builds it (debug) with cargo. Returns a path, or a reason string."""
    key = (kind, name)
    with _build_lock:
        if key in _built:
            return _built[key]
        found = [p for p in _candidates(kind, name) if p.is_file() and os.access(p, os.X_OK)]
        if not found:
            # The bridge and its test peer live in their own crate.
            package = "shm-comm-zenoh" if name.startswith("shmc-bridge") else "shm-comm-suite"
            cmd = ["cargo", "build", "-q", "-p", package]
            cmd += ["--example", name] if kind == "example" else ["--bins"]
            try:
                r = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as e:
                _built[key] = f"cannot build {name} ({' '.join(cmd)}): {e}"
                return _built[key]
            if r.returncode != 0:
                _built[key] = f"cannot build {name} ({' '.join(cmd)}): {r.stderr.strip()[-500:]}"
                return _built[key]
            found = [p for p in _candidates(kind, name) if p.is_file()]
            if not found:
                _built[key] = f"{name} not found after {' '.join(cmd)}"
                return _built[key]
        _built[key] = max(found, key=lambda p: p.stat().st_mtime)
        return _built[key]


@pytest.fixture
def rust_bin():
    """``rust_bin(name, kind="bin")``: the path of a workspace binary
    (``kind="example"`` for an example); skips the test if it cannot be built."""

    def get(name: str, kind: str = "bin") -> Path:
        got = find_rust_bin(kind, name)
        if isinstance(got, str):
            pytest.skip(got)
        return got

    return get


def pytest_collection_modifyitems(items):
    """Tests that start other processes get the ``multiprocess`` marker, so
    ``pytest -m "not multiprocess"`` runs the in-process ones only (as with
    the original suite)."""
    for item in items:
        if {"spawn", "rust_bin", "peer"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.multiprocess)
