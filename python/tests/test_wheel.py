"""The package as users get it: the wheel (and the sdist) built from this
tree, the wheel installed into a fresh virtual environment, used from there.

* the wheel is ``shm_comm-<version>-cp311-abi3-manylinux_2_31_<arch>`` and its
  version is ``shm_comm.__version__`` (both from ``python/Cargo.toml``), as
  is the sdist's;
* a publisher and a subscriber, two processes of that environment started
  outside the repository, talk over a topic;
* the public-API tests of shm-comm 1.0.0 (``compat/``) pass against it.

Slow (a release build of the wheel, then pip): ``SHM_COMM_SKIP_WHEEL_TEST=1``
skips it for quick local runs; the test command runs it. The test command
builds the wheel once, installs it for the whole suite and names its
directory in ``SHM_COMM_WHEEL_DIR``; this module then installs that file
instead of building its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
from pathlib import Path

import pytest

import shm_comm

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.skipif(os.environ.get("SHM_COMM_SKIP_WHEEL_TEST") == "1",
                       reason="SHM_COMM_SKIP_WHEEL_TEST=1"),
    pytest.mark.multiprocess,
]


def _run(argv: list, cwd: Path, timeout: float, env: dict | None = None) -> str:
    r = subprocess.run([str(a) for a in argv], cwd=str(cwd), env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{argv} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _maturin() -> str:
    found = Path(sys.executable).with_name("maturin")
    if found.exists():
        return str(found)
    which = shutil.which("maturin")
    assert which, "maturin is needed to build the wheel (pip install 'maturin>=1.9.4,<2')"
    return which


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The wheel and the sdist, built as for a release."""
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    env.pop("VIRTUAL_ENV", None)
    # maturin runs zig from the `ziglang` package of the python on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    manifest = ROOT / "python" / "Cargo.toml"
    # As the README's "Building wheels" says: linked by zig against glibc
    # 2.31, whatever this machine's glibc is, and audited for it.
    built = os.environ.get("SHM_COMM_WHEEL_DIR")
    if built:
        wheel, = Path(built).glob("*.whl")
        shutil.copy(wheel, out)
    else:
        abi3 = ["--features", "abi3"] if sys.version_info >= (3, 11) else []
        _run([_maturin(), "build", "--release", *abi3, "--zig", "--compatibility",
              "manylinux_2_31", "-m", manifest, "-o", out], ROOT, 1800, env)
    _run([_maturin(), "sdist", "-m", manifest, "-o", out], ROOT, 300, env)
    return out


@pytest.fixture(scope="module")
def env_python(dist, tmp_path_factory) -> Path:
    """The python of a fresh virtual environment (no system site-packages)
    with the wheel (and pytest, for the 1.0.0 tests) installed."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True, system_site_packages=False, clear=True)
    py = home / "bin" / "python"
    wheel, = dist.glob("*.whl")
    _run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel,
          "pytest"], home, 600)
    return py


def test_wheel_and_sdist_carry_the_package_version(dist):
    version = shm_comm.__version__
    wheel, = dist.glob("*.whl")
    # One wheel for CPython 3.11+ (the stable ABI), for glibc 2.31 and later;
    # Python 3.10 gets a wheel of its own.
    tag = "cp311-abi3" if sys.version_info >= (3, 11) else "cp310-cp310"
    assert re.fullmatch(rf"shm_comm-{re.escape(version)}-{tag}-manylinux_2_31_\w+\.whl",
                        wheel.name), wheel.name
    sdist, = dist.glob("*.tar.gz")
    assert sdist.name == f"shm_comm-{version}.tar.gz"
    with tarfile.open(sdist) as t:
        info = t.extractfile(f"shm_comm-{version}/PKG-INFO").read().decode()
    assert f"\nVersion: {version}\n" in info
    # 1.0.0's extras still exist (msgpack is built in: nothing to install).
    assert "Provides-Extra: msgpack" in info and "Provides-Extra: dev" in info


def test_installed_wheel_pub_sub_between_two_processes(env_python, tmp_path):
    """Run from a directory outside the repository, so that ``shm_comm``
    can only come from the environment."""
    name = f"wheel-test/{os.getpid()}"
    stop = tmp_path / "stop"
    publisher = textwrap.dedent("""
        import os, sys, time
        import numpy as np
        import shm_comm
        name, stop = sys.argv[1], sys.argv[2]
        with shm_comm.Publisher(name) as pub:
            print(shm_comm.__file__, shm_comm.__version__, flush=True)
            i, deadline = 0, time.monotonic() + 30
            while not os.path.exists(stop) and time.monotonic() < deadline:
                pub.send({"i": i, "a": np.arange(3) * i})
                i += 1
                time.sleep(0.002)
    """)
    subscriber = textwrap.dedent("""
        import importlib.metadata, sys
        import shm_comm
        name, stop = sys.argv[1], sys.argv[2]
        assert importlib.metadata.version("shm-comm") == shm_comm.__version__
        got = []
        with shm_comm.Subscriber(name, timeout_connect=20) as sub:
            while len(got) < 100:
                msg = sub.recv(timeout=5.0)
                assert msg is not None, "no message for 5 s"
                assert (msg["a"] == [0, msg["i"], 2 * msg["i"]]).all()
                got.append(msg["i"])
        open(stop, "w").close()
        assert got == list(range(got[0], got[0] + 100)), got
        print("ok", len(got), flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pub = subprocess.Popen([str(env_python), "-c", publisher, name, str(stop)], cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sub_out = _run([env_python, "-c", subscriber, name, stop], tmp_path, 60, env)
        out, err = pub.communicate(timeout=30)
    finally:
        pub.kill()
        pub.wait()
    assert pub.returncode == 0, err
    assert sub_out.split() == ["ok", "100"]
    where, version = out.split()
    assert Path(where).is_relative_to(env_python.parent.parent), where
    assert version == shm_comm.__version__


def test_installed_wheel_passes_the_tests_of_1_0_0(env_python, tmp_path):
    """shm-comm 1.0.0's public-API tests, run against the installed wheel."""
    shutil.copytree(HERE / "compat", tmp_path / "compat")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = _run([env_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "compat"],
               tmp_path, 600, env)
    summary = out.strip().splitlines()[-1]
    assert re.match(r"33 passed, 2 xfailed in ", summary), out[-3000:]
