"""The exception classes have one list, ``shm_comm._errors.__all__``: the
package re-exports it, and the native module refuses to import unless it
names exactly the classes the native code raises."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import shm_comm
from shm_comm import _errors, _native


def test_every_listed_class_is_exported_by_the_package():
    assert len(set(_errors.__all__)) == len(_errors.__all__)
    for name in _errors.__all__:
        cls = getattr(_errors, name)
        assert getattr(shm_comm, name) is cls, name
        assert name in shm_comm.__all__, name
        assert issubclass(cls, _errors.SHMError), name


def test_every_class_defined_is_listed():
    defined = {n for n, o in vars(_errors).items()
               if isinstance(o, type) and issubclass(o, _errors.SHMError)}
    assert defined == set(_errors.__all__)


def test_the_native_module_raises_the_listed_classes(chan):
    with pytest.raises(shm_comm.SHMNameError):
        _native.Pusher("a b")
    with pytest.raises(shm_comm.SHMConfigError):
        _native.Pusher(chan, num_slots=0)
    with pytest.raises(shm_comm.SHMConnectionError):
        _native.Puller(chan, timeout_connect=0)


@pytest.mark.parametrize("change", ["drop", "add"])
def test_the_native_import_fails_if_the_lists_differ(change):
    # A fresh interpreter, where `shm_comm._errors` is replaced before the
    # native module is first imported (the package's `__init__` is skipped,
    # as it imports the native module itself).
    code = textwrap.dedent(f"""
        import importlib, importlib.util, sys, types
        spec = importlib.util.find_spec("shm_comm")
        pkg = types.ModuleType("shm_comm")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["shm_comm"] = pkg
        errors = importlib.import_module("shm_comm._errors")
        if {change!r} == "drop":
            errors.__all__ = errors.__all__[:-1]
        else:
            class SHMExtraError(errors.SHMError):
                pass
            errors.SHMExtraError = SHMExtraError
            errors.__all__ = errors.__all__ + ["SHMExtraError"]
        try:
            importlib.import_module("shm_comm._native")
        except ImportError as e:
            print("refused:", e)
        else:
            print("imported")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("refused:"), out
    assert ("SHMLayoutError" if change == "drop" else "SHMExtraError") in out, out
