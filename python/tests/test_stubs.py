"""``shm_comm/_native.pyi`` matches the compiled module: the same classes,
methods, properties and functions, with the same parameters and defaults."""

from __future__ import annotations

import ast
import inspect
import typing
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


# ---------------------------------------------------------------------------
# The public stub, shm_comm/__init__.pyi: what type checkers read instead of
# shm_comm/__init__.py. Checked against the runtime objects the same way.
# ---------------------------------------------------------------------------

PUBLIC_STUB = Path(shm_comm.__file__).with_name("__init__.pyi")
PUBLIC_CLASSES = ["Publisher", "Subscriber", "MultiPublisher", "MultiSubscriber", "Requester", "Replier", "Pusher", "Puller"]


def _public_stub() -> ast.Module:
    return ast.parse(PUBLIC_STUB.read_text(encoding="utf-8"), filename=str(PUBLIC_STUB))


def _public_stub_names() -> set[str]:
    """Every name the public stub binds at module level."""
    names = set()
    for node in _public_stub().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            # Only `import x as x` re-exports a name from a stub.
            names.update(a.asname for a in node.names if a.asname == a.name)
    return names


def _public_stub_class(name: str) -> tuple[dict[str, list[ast.FunctionDef]], set[str]]:
    """(methods, each with its overloads; annotated attributes) of a stub class."""
    (cls,) = [n for n in _public_stub().body if isinstance(n, ast.ClassDef) and n.name == name]
    methods: dict[str, list[ast.FunctionDef]] = {}
    attrs = set()
    for m in cls.body:
        if isinstance(m, ast.FunctionDef):
            methods.setdefault(m.name, []).append(m)
        elif isinstance(m, ast.AnnAssign) and isinstance(m.target, ast.Name):
            attrs.add(m.target.id)
    return methods, attrs


def _check_against_runtime(where: str, overloads: list[ast.FunctionDef], runtime: list) -> None:
    """Each overload has the runtime's parameter names and kinds; each
    default a stub gives is the runtime's; and every runtime default is
    given by some overload (an overload may leave one out to require it)."""
    for fn in overloads:
        stub = _stub_params(fn)
        assert [(n, k) for n, k, _ in stub] == [(n, k) for n, k, _ in runtime], (
            f"{where}: stub {stub} vs runtime {runtime}")
        for (n, _, d), (_, _, rd) in zip(stub, runtime):
            assert d is inspect.Parameter.empty or d == rd, f"{where}: default of {n}: {d!r} vs {rd!r}"
    for i, (n, _, rd) in enumerate(runtime):
        assert any(_stub_params(fn)[i][2] == rd for fn in overloads), f"{where}: default of {n}"


def test_public_stub_names_every_public_name():
    stub = _public_stub_names()
    assert set(shm_comm.__all__) <= stub, sorted(set(shm_comm.__all__) - stub)
    for name in stub - {"__all__"}:
        assert hasattr(shm_comm, name), f"the stub names {name}, the package has none"
    assert "py.typed" in (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert PUBLIC_STUB.with_name("py.typed").is_file()


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_public_class_members_match(name):
    cls = getattr(shm_comm, name)
    methods, attrs = _public_stub_class(name)
    runtime = {n for n in dir(cls) if not n.startswith("_")} | set(getattr(cls, "__annotations__", {}))
    runtime = {n for n in runtime if not n.startswith("_")}
    stub = {n for n in set(methods) | attrs if not n.startswith("_")}
    assert runtime == stub, (
        f"missing from the stub: {sorted(runtime - stub)}; not in the class: {sorted(stub - runtime)}")
    for dunder in ("__new__", "__enter__", "__exit__"):
        assert dunder in methods, f"{name}.{dunder}"


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_public_signatures_match(name):
    cls = getattr(shm_comm, name)
    methods, _ = _public_stub_class(name)
    for member, overloads in methods.items():
        static = inspect.getattr_static(cls, member)
        if any(_is_property(fn) for fn in overloads):
            assert isinstance(static, property) or inspect.isgetsetdescriptor(static), member
            continue
        runtime = _runtime_params(inspect.signature(getattr(cls, member)))
        _check_against_runtime(f"{name}.{member}", overloads, runtime)


def test_public_function_signatures_match():
    fns = [n for n in _public_stub().body if isinstance(n, ast.FunctionDef)]
    assert {f.name for f in fns} == {"force_unlink", "list_segments"}
    for fn in fns:
        runtime = _runtime_params(inspect.signature(getattr(shm_comm, fn.name)))
        _check_against_runtime(fn.name, [fn], runtime)


def test_typed_topics_are_generic_at_runtime():
    # `Subscriber[Imu]` in an annotation that is evaluated must not fail.
    from shm_comm.msgs import Imu

    for cls in (shm_comm.Publisher, shm_comm.Subscriber):
        alias = cls[Imu]
        assert typing.get_origin(alias) is cls and typing.get_args(alias) == (Imu,)
