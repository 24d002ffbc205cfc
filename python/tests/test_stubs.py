"""``shm_comm/_native.pyi`` matches the compiled module: the same classes,
methods, properties and functions, with the same parameters and defaults."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import shm_comm
from shm_comm import _native

STUB = Path(shm_comm.__file__).with_name("_native.pyi")

#: Dunder methods a class defines that the stub must list too.
DUNDERS = {"__new__", "__enter__", "__exit__", "__len__", "__repr__", "__getitem__", "__setitem__"}
#: Stub-only names: the buffer protocol, which the runtime implements as a
#: C slot (visible as ``__buffer__`` only from Python 3.12).
STUB_ONLY = {"__buffer__"}


def _stub() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _stub_classes() -> dict[str, dict[str, ast.AST]]:
    out = {}
    for node in _stub().body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                m.name: m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return out


def _stub_functions() -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in _stub().body if isinstance(n, ast.FunctionDef)}


def _runtime_classes() -> dict[str, type]:
    return {n: o for n, o in vars(_native).items() if isinstance(o, type) and not n.startswith("_")}


def _runtime_functions() -> dict[str, object]:
    return {n: o for n, o in vars(_native).items()
            if callable(o) and not isinstance(o, type) and not n.startswith("__")}


def _runtime_members(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("__") or n in DUNDERS}


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a stub function, without self/cls."""
    a = fn.args
    out = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword"
        out.append((arg.arg, kind, _literal(default)))
    if a.vararg:
        out.append((a.vararg.arg, "var_positional", inspect.Parameter.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "keyword_only", _literal(default)))
    if a.kwarg:
        out.append((a.kwarg.arg, "var_keyword", inspect.Parameter.empty))
    if out and out[0][0] in ("self", "cls"):
        out = out[1:]
    return out


def _literal(node):
    return inspect.Parameter.empty if node is None else ast.literal_eval(node)


def _runtime_params(sig: inspect.Signature) -> list[tuple[str, str, object]]:
    out = []
    for p in sig.parameters.values():
        out.append((p.name, p.kind.name.lower(), p.default))
    if out and out[0][0] in ("self", "$self", "cls", "type", "$type"):
        out = out[1:]
    return out


def _signature_from_text(text: str) -> inspect.Signature:
    """A signature from a pyo3 ``__text_signature__`` (``$self`` marks self)."""

    src = f"def f{text.replace('$self', 'self').replace('$type', 'cls')}: pass"
    ns: dict = {}
    exec(src, ns)  # noqa: S102 - text signatures come from the compiled module
    return inspect.signature(ns["f"])


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def test_stub_parses_and_is_packaged():
    assert STUB.is_file()
    _stub()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert "shm_comm/*.pyi" in pyproject


def test_every_class_is_in_the_stub_and_vice_versa():
    assert set(_stub_classes()) == set(_runtime_classes())


def test_every_function_is_in_the_stub_and_vice_versa():
    assert set(_stub_functions()) == set(_runtime_functions())


@pytest.mark.parametrize("name", sorted(_runtime_classes()))
def test_class_members_match(name):
    runtime = _runtime_members(_runtime_classes()[name])
    stub = set(_stub_classes()[name])
    assert runtime == stub - STUB_ONLY, (
        f"missing from the stub: {sorted(runtime - stub)}; "
        f"not in the module: {sorted(stub - STUB_ONLY - runtime)}")


@pytest.mark.parametrize("name", sorted(_runtime_classes()))
def test_properties_are_properties(name):
    cls = _runtime_classes()[name]
    for member, fn in _stub_classes()[name].items():
        if member in STUB_ONLY:
            continue
        is_getset = inspect.isgetsetdescriptor(vars(cls)[member])
        assert _is_property(fn) == is_getset, member


@pytest.mark.parametrize("name", sorted(_runtime_classes()))
def test_method_signatures_match(name):
    cls = _runtime_classes()[name]
    stub = _stub_classes()[name]
    for member, fn in stub.items():
        if member in STUB_ONLY or _is_property(fn):
            continue
        if member == "__new__":
            text = cls.__text_signature__
        else:
            text = getattr(vars(cls)[member], "__text_signature__", None)
        assert text, f"{name}.{member} has no text signature"
        runtime = _runtime_params(_signature_from_text(text))
        assert _stub_params(fn) == runtime, f"{name}.{member}: stub {_stub_params(fn)} vs {runtime}"


@pytest.mark.parametrize("name", sorted(_runtime_functions()))
def test_function_signatures_match(name):
    runtime = _runtime_params(_signature_from_text(_runtime_functions()[name].__text_signature__))
    assert _stub_params(_stub_functions()[name]) == runtime


def test_constructors_are_only_where_the_module_has_them():
    for name, cls in _runtime_classes().items():
        has_new = cls.__text_signature__ is not None
        assert ("__new__" in _stub_classes()[name]) == has_new, name
