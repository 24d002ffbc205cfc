"""The message schema compiler for Python: a thin layer over the Rust one.

Schema files (TOML, the format of the repository's ``schemas/`` directory)
describe fixed-layout messages. The compiler that checks them, computes their
layouts (C's rules, explicit ``_padN`` fields) and structural hashes and
generates code is the Rust crate ``shm-comm-schema``, reached here through the
native module: this module reads files, presents the result as Python data
and keeps the command line.

Commands::

    python -m shm_comm.schema gen FILE.toml [FILE.toml ...] [-o out.py]
        dataclasses for a user's schema files (the standard message set is in
        scope: fields may use ``Header``, ``Pose``, ..., variants may use the
        ``Image`` and ``PointCloud`` templates)

    python -m shm_comm.schema from-topic NAME [-o out.toml]
        a schema file for the live typed topic NAME (e.g. one a Rust program
        publishes with its own ``#[derive(ShmMessage)]`` struct), from which
        ``gen`` makes static classes with the topic's exact layout

    python -m shm_comm.schema check FILE.toml [...]
        check the files and print each message's layout

Every error is a :class:`SchemaError` whose text starts with ``file:line:``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _native

__all__ = [
    "SchemaError",
    "Schema",
    "Message",
    "compile_sources",
    "compile_files",
    "std_sources",
    "generate_python",
    "generate_rust",
    "load",
    "structural_hash",
    "schema_from_layout",
    "main",
]

#: Type names the generated code uses (a schema cannot define them).
RESERVED_TYPES = ["Self", "Flag", "FixedString", "FixedVec", "ShmMessage", "ShmType",
                  "LayoutDescriptor", "ClassVar"]


class SchemaError(ValueError):
    """A problem in a schema file: ``str(e)`` is ``file:line: reason``."""

    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------
# The result of a compilation, as Python data
# ---------------------------------------------------------------------------


@dataclass
class Field:
    """A field of a compiled message (padding included)."""

    name: str
    doc: str
    ty: tuple[Any, ...]  # resolved: ("scalar", "f64"), ("message", "Pose"), ("array", t, n), ...
    offset: int
    size: int
    padding: bool
    line: int
    type_text: str = ""  # the type in schema syntax: "[f64; 9]", "vec<u8, 4096>"


@dataclass
class Constant:
    name: str
    ty: str
    value: int
    doc: str


@dataclass
class Message:
    """A compiled message: its fields with offsets, and its layout dict."""

    name: str
    doc: str
    file: str
    line: int
    prelude: bool
    variant_of: tuple[Any, ...] | None  # (template, template_doc, [(param, value)])
    fields: list[Field]
    constants: list[Constant]
    layout: dict[str, Any]  # the format of shm_comm.typed, with "hash"
    doc_lines_: list[str] = field(default_factory=list, repr=False)

    def doc_lines(self) -> list[str]:
        """The docstring lines of the generated class (doc, template, layout)."""
        return list(self.doc_lines_)


@dataclass
class Schema:
    """The result of a compilation: messages, dependencies first."""

    messages: list[Message]
    std_set: bool
    sources: list[tuple[str, str]]  # (path, text), the prelude excluded
    compiled: _native.CompiledSchema | None = field(default=None, repr=False, compare=False)

    def get(self, name: str) -> Message | None:
        return next((m for m in self.messages if m.name == name), None)

    def generated(self) -> list[Message]:
        return [m for m in self.messages if not m.prelude]


def _message(d: dict[str, Any]) -> Message:
    v = d["variant_of"]
    return Message(
        name=d["name"], doc=d["doc"], file=d["file"], line=d["line"], prelude=d["prelude"],
        variant_of=None if v is None else (v[0], v[1], [tuple(a) for a in v[2]]),
        fields=[Field(f["name"], f["doc"], f["ty"], f["offset"], f["size"], f["padding"], f["line"],
                      f["type"]) for f in d["fields"]],
        constants=[Constant(c["name"], c["ty"], c["value"], c["doc"]) for c in d["constants"]],
        layout=d["layout"], doc_lines_=d["doc_lines"])


# ---------------------------------------------------------------------------
# Compiling (in Rust)
# ---------------------------------------------------------------------------


def _pairs(sources: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    return [(str(p), t) for p, t in sources or []]


def compile_sources(sources: list[tuple[str, str]], prelude: list[tuple[str, str]] | None = None,
                    std_set: bool = False) -> Schema:
    """Compiles ``sources`` (``(path, text)`` pairs) together with ``prelude``
    (whose messages are marked ``prelude`` and not generated again)."""
    compiled = _native.compile_schema(_pairs(sources), _pairs(prelude), std_set)
    return Schema(messages=[_message(d) for d in compiled.messages()], std_set=compiled.std_set,
                  sources=list(compiled.sources), compiled=compiled)


def std_sources() -> list[tuple[str, str]]:
    """The standard message set's schema files, as ``("<std>/FILE", text)``
    (embedded in :mod:`shm_comm.msgs`)."""
    from . import msgs

    return [(f"<std>/{name}", text) for name, text in msgs._SCHEMA_SOURCES.items()]


def _read(paths: list[str | Path]) -> list[tuple[str, str]]:
    out = []
    for p in paths:
        p = Path(p)
        files = sorted(f for f in p.iterdir() if f.suffix == ".toml") if p.is_dir() else [p]
        for f in files:
            try:
                out.append((str(f), f.read_text(encoding="utf-8")))
            except OSError as e:
                raise SchemaError(str(f), 1, f"cannot read: {e}") from None
    return out


def compile_files(paths: list[str | Path], std: bool = False) -> Schema:
    """Compiles schema files (a directory stands for its ``*.toml`` files,
    sorted); with ``std=True`` as the standard set itself, else with the
    standard set in scope."""
    sources = _read(paths)
    if std:
        return compile_sources(sources, std_set=True)
    return compile_sources(sources, prelude=std_sources())


def structural_hash(layout: dict[str, Any]) -> int:
    """The structural hash of a layout dict: Rust's ``LayoutDescriptor::hash()``."""
    return _native.layout_hash(layout)


# ---------------------------------------------------------------------------
# Generating code (in Rust)
# ---------------------------------------------------------------------------


def _compiled(schema: Schema) -> _native.CompiledSchema:
    if schema.compiled is None:
        raise ValueError("the schema was not made by compile_sources() or compile_files()")
    return schema.compiled


def generate_python(schema: Schema) -> str:
    """The Python module of ``schema``: the same text as ``shm-comm-schema gen-python``."""
    return _compiled(schema).generate_python()


def generate_rust(schema: Schema) -> str:
    """The Rust module of ``schema``: the same text as ``shm-comm-schema gen-rust``."""
    return _compiled(schema).generate_rust()


def load(paths: list[str | Path] | str | Path, module_name: str = "shm_comm_generated") -> Any:
    """Compiles schema files and returns the generated module (not written
    to disk): ``load("robot.toml").RobotStatus``."""
    import types

    if isinstance(paths, (str, Path)):
        paths = [paths]
    code = generate_python(compile_files(list(paths)))
    module = types.ModuleType(module_name)
    module.__file__ = f"<generated from {', '.join(str(p) for p in paths)}>"
    sys.modules[module_name] = module
    exec(compile(code, module.__file__, "exec"), module.__dict__)
    return module


# ---------------------------------------------------------------------------
# A schema from a live topic's layout
# ---------------------------------------------------------------------------


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def schema_from_layout(layout: dict[str, Any], topic: str | None = None) -> str:
    """A schema file (TOML text) that compiles to exactly ``layout``: same
    field names, offsets, types and hash. Nested messages of the standard
    set are referenced by name; others are defined too (renamed if two
    different ones share a name; type names are not part of the hash)."""
    std = {}
    try:
        for m in compile_sources(std_sources(), std_set=True).messages:
            std[m.name] = m.layout["hash"]
    except Exception:  # pragma: no cover - the standard set always compiles
        std = {}
    names: dict[tuple[int, str], str] = {}  # (hash, original name) -> schema name
    taken: set[str] = set(std)
    order: list[tuple[str, dict[str, Any]]] = []

    def name_of(lay: dict[str, Any]) -> str:
        h = structural_hash(lay)
        key = (h, lay["name"])
        if key in names:
            return names[key]
        if std.get(lay["name"]) == h:
            names[key] = lay["name"]
            return str(lay["name"])
        base = re.sub(r"[^A-Za-z0-9]", "", lay["name"]) or "Message"
        if not base[0].isupper():
            base = base[0].upper() + base[1:] if base[0].isalpha() else "M" + base
        if base in RESERVED_TYPES:
            base += "Msg"
        n, k = base, 2
        while n in taken:
            n, k = f"{base}{k}", k + 1
        taken.add(n)
        names[key] = n
        for f in lay["fields"]:
            ty(f)
        order.append((n, lay))
        return n

    def ty(t: dict[str, Any]) -> str:
        kind = t["kind"]
        if kind == "struct":
            s = name_of(t["layout"])
        elif kind == "string":
            s = f"string<{t['capacity']}>"
        elif kind == "vec":
            s = f"vec<{ty(t['elem'])}, {t['capacity']}>"
        elif kind == "opaque":
            raise SchemaError(f"<from-topic {topic}>", 1,
                              "the layout has an opaque field (a Rust `#[shm(pod)]` foreign type), "
                              "which the schema language cannot describe")
        else:
            s = kind
        for d in reversed(t.get("shape") or []):
            s = f"[{s}; {d}]"
        return s

    top = name_of(layout)
    lines = ["# A schema written by `python -m shm_comm.schema from-topic`"
             + (f" from topic {topic!r}" if topic else "") + ".",
             f"# Layout hash 0x{structural_hash(layout):016x}: generated types have exactly the topic's layout.",
             "version = 1"]
    if not order:
        lines.append(f"# The topic carries the standard message `{top}`: use shm_comm.msgs.{top}.")
    for n, lay in order:
        lines += ["", "[[message]]", f"name = {_toml_str(n)}"]
        if n != lay["name"]:
            lines.append(f"doc = {_toml_str('Called `' + lay['name'] + '` where the topic was defined.')}")
        lines.append("fields = [")
        for f in lay["fields"]:
            lines.append(f"    {{ name = {_toml_str(f['name'])}, type = {_toml_str(ty(f))} }},")
        lines.append("]")
    text = "\n".join(lines) + "\n"
    # Check: the schema compiles back to the same layout.
    got = compile_sources([(f"<from-topic {topic}>", text)], prelude=std_sources()).get(top)
    want = structural_hash(layout)
    if got is not None and got.layout["hash"] != want:
        raise SchemaError(f"<from-topic {topic}>", 1,
                          "the topic's layout cannot be expressed in a schema (it has gaps that are not "
                          "fields, or fields out of the C layout order)")
    return text


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _pretty(m: Message) -> str:
    lay = m.layout
    s = f"{m.name} (size {lay['size']}, align {lay['align']}, hash 0x{lay['hash']:016x})\n"
    for f in m.fields:
        s += f"  {f.offset:>6}  {f.name}: {f.type_text} ({f.size} bytes)\n"
    return s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shm_comm.schema",
                                description="Message schemas (TOML) to Python dataclasses.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gen", help="dataclasses for schema files (the standard set is in scope)")
    g.add_argument("files", nargs="+")
    g.add_argument("-o", "--output")
    g.add_argument("--std", action="store_true", help="compile the files as the standard set")
    c = sub.add_parser("check", help="check schema files and print the layouts")
    c.add_argument("files", nargs="+")
    c.add_argument("--std", action="store_true")
    t = sub.add_parser("from-topic", help="a schema file for a live typed topic")
    t.add_argument("name")
    t.add_argument("-o", "--output")
    t.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the topic")
    a = p.parse_args(argv)
    try:
        if a.command == "gen":
            _write(generate_python(compile_files(a.files, std=a.std)), a.output)
        elif a.command == "check":
            sys.stdout.write("".join(_pretty(m) for m in compile_files(a.files, std=a.std).generated()))
        else:
            from . import Subscriber

            with Subscriber(a.name, timeout_connect=a.timeout) as s:
                layout = s.layout()
            if layout is None:
                print(f"error: topic {a.name!r} is not typed (it carries pickled, msgpack or raw frames)",
                      file=sys.stderr)
                return 1
            _write(schema_from_layout(layout, a.name), a.output)
    except SchemaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # connection errors and the like
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
