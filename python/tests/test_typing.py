"""The type stubs hold up under ``mypy --strict``: the package itself, the
examples, a file of correct uses (``typecheck/typing_usage.py``) and a module
generated from a user's schema (with ``typecheck/generated_usage.py``) check
clean, and every error marked in ``typecheck/typing_misuse.py`` is reported
on its line, with no error on any other line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

CHECKS = Path(__file__).with_name("typecheck")
MISUSE = CHECKS / "typing_misuse.py"
FIXTURE = ROOT / "shm-comm-schema" / "tests" / "fixtures" / "robot.toml"
#: ``path:line: error: message  [code]`` (mypy's one-line format).
ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: (?P<msg>.*)$")
#: ``# E: text``: the error expected on a line of the misuse file.
MARK = re.compile(r"#\s*E:\s*(?P<text>.+?)\s*$")


def _expected_errors() -> dict[int, str]:
    lines = MISUSE.read_text(encoding="utf-8").splitlines()
    return {i: m["text"] for i, line in enumerate(lines, 1) if (m := MARK.search(line))}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory) -> dict[Path, list[tuple[int, str]]]:
    """One mypy --strict run over everything: its errors by file."""
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy is not installed (`./dev.sh test` installs it): "
                    "the typing checks did not run")
    tmp = tmp_path_factory.mktemp("typing")
    gen = subprocess.run(
        [sys.executable, "-m", "shm_comm.schema", "gen", str(FIXTURE), "-o", str(tmp / "robot_msgs.py")],
        capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    files = [ROOT / "python" / "shm_comm", *sorted((ROOT / "examples").glob("*.py")),
             *sorted(CHECKS.glob("*.py")), tmp / "robot_msgs.py"]
    # The package from this tree, its stubs included, and the generated module.
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(ROOT / "python"), str(tmp)]))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-pretty", "--no-error-summary",
         "--show-absolute-path", "--cache-dir", str(tmp / "cache"), *map(str, files)],
        capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp))
    assert r.returncode in (0, 1), f"mypy failed to run:\n{r.stdout}\n{r.stderr}"
    errors: dict[Path, list[tuple[int, str]]] = {}
    for line in r.stdout.splitlines():
        m = ERROR.match(line)
        if m:
            errors.setdefault(Path(m["path"]).resolve(), []).append((int(m["line"]), m["msg"]))
    assert errors or not r.returncode, f"mypy failed without an error line:\n{r.stdout}\n{r.stderr}"
    return errors


def test_everything_but_the_misuses_passes_mypy_strict(mypy_errors):
    others = {p: e for p, e in mypy_errors.items() if p != MISUSE.resolve()}
    report = "\n".join(f"{p}:{n}: {msg}" for p, errs in others.items() for n, msg in errs)
    assert not others, f"mypy --strict errors:\n{report}"


def test_every_misuse_is_reported_on_its_line(mypy_errors):
    expected = _expected_errors()
    assert len(expected) >= 15
    got: dict[int, list[str]] = {}
    for n, msg in mypy_errors.get(MISUSE.resolve(), []):
        got.setdefault(n, []).append(msg)
    missing = {n: text for n, text in expected.items()
               if not any(text in msg for msg in got.get(n, []))}
    assert not missing, f"expected errors mypy did not report: {missing}; it reported {got}"
    unexpected = {n: msgs for n, msgs in got.items() if n not in expected}
    assert not unexpected, f"errors on lines not marked `# E:`: {unexpected}"
