"""The message schema compiler, in pure Python (``tomllib``, no other dependency).

Schema files (TOML, the format of the repository's ``schemas/`` directory and
of the Rust compiler ``shm-comm-schema``) describe fixed-layout messages; this
module computes their layouts itself (C's rules, explicit ``_padN`` fields)
and generates dataclass modules like :mod:`shm_comm.msgs`. It is a second
implementation of the Rust compiler: the test suite checks that both agree
byte for byte.

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
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as a package
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:
        tomllib = None  # type: ignore[assignment]

__all__ = [
    "SchemaError",
    "Schema",
    "Message",
    "compile_sources",
    "compile_files",
    "std_sources",
    "generate_python",
    "load",
    "structural_hash",
    "schema_from_layout",
    "main",
]

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class SchemaError(ValueError):
    """A problem in a schema file: ``str(e)`` is ``file:line: reason``."""

    def __init__(self, file: str, line: int, message: str):
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------
# Scalars, as in shm_comm::Scalar (the order gives the wire codes)
# ---------------------------------------------------------------------------

SCALARS = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64", "flag"]
_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i8": 1, "i16": 2, "i32": 4, "i64": 8,
         "f32": 4, "f64": 8, "flag": 1}
_DTYPE = {"u8": "<u1", "u16": "<u2", "u32": "<u4", "u64": "<u8", "i8": "<i1", "i16": "<i2",
          "i32": "<i4", "i64": "<i8", "f32": "<f4", "f64": "<f8", "flag": "?"}
_RANGE = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
          "u64": (0, 2**64 - 1), "i8": (-(2**7), 2**7 - 1), "i16": (-(2**15), 2**15 - 1),
          "i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}
U32_MAX = 2**32 - 1
MAX_NAME = 256

NOT_RAW = ["self", "super", "crate"]
PY_RESERVED = ["dataclasses", "np", "typed"]
RESERVED_TYPES = ["Self", "Flag", "FixedString", "FixedVec", "ShmMessage", "ShmType",
                  "LayoutDescriptor", "ClassVar"]


def py_name(name: str) -> str:
    """The attribute name of a field in Python (keywords get a trailing ``_``)."""
    return name + "_" if keyword.iskeyword(name) else name


# ---------------------------------------------------------------------------
# Where things are: line numbers of TOML keys, tables and array elements
# ---------------------------------------------------------------------------


class _Positions:
    """Line numbers of the keys, ``[[tables]]`` and array elements of a TOML
    document that ``tomllib`` has already accepted (``tomllib`` gives no
    positions). Paths are tuples: ``("message", 0, "fields", 3, "type")``."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self.counts: dict[tuple, int] = {}
        self._document()

    def get(self, path: tuple, default: int = 1) -> int:
        return self.lines.get(path, default)

    def _peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def _advance(self, n: int = 1) -> None:
        chunk = self.s[self.i:self.i + n]
        self.line += chunk.count("\n")
        self.i += n

    def _ws(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def _string(self) -> str:
        for q in ('"""', "'''"):
            if self._peek(3) == q:
                self._advance(3)
                start = self.i
                while self.i < len(self.s):
                    if q == '"""' and self.s[self.i] == "\\":
                        self._advance(2)
                    elif self._peek(3) == q:
                        # A closing run may be up to 5 quotes long.
                        while self._peek(4) == q + q[0]:
                            self._advance()
                        text = self.s[start:self.i]
                        self._advance(3)
                        return text
                    else:
                        self._advance()
                return self.s[start:]
        q = self.s[self.i]
        self._advance()
        start = self.i
        while self.i < len(self.s) and self.s[self.i] != q:
            if q == '"' and self.s[self.i] == "\\":
                self._advance()
            self._advance()
        text = self.s[start:self.i]
        self._advance()
        return text

    def _key(self) -> tuple:
        parts = []
        while True:
            self._ws(False)
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                start = self.i
                while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "_-"):
                    self.i += 1
                parts.append(self.s[start:self.i])
            self._ws(False)
            if self._peek() == ".":
                self._advance()
                continue
            return tuple(parts)

    def _value(self, path: tuple) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "[":
            self._advance()
            n = 0
            while True:
                self._ws(True)
                if self._peek() in ("]", ""):
                    self._advance()
                    return
                self.lines.setdefault(path + (n,), self.line)
                self._value(path + (n,))
                self._ws(True)
                if self._peek() == ",":
                    self._advance()
                n += 1
        elif c == "{":
            self._advance()
            while True:
                self._ws(False)
                if self._peek() in ("}", ""):
                    self._advance()
                    return
                line = self.line
                key = self._key()
                self.lines.setdefault(path + key, line)
                self._ws(False)
                self._advance()  # '='
                self._ws(False)
                self._value(path + key)
                self._ws(False)
                if self._peek() == ",":
                    self._advance()
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}\n#":
                self.i += 1

    def _document(self) -> None:
        table: tuple = ()
        while True:
            self._ws(True)
            if self.i >= len(self.s):
                return
            line = self.line
            if self._peek(2) == "[[":
                self._advance(2)
                key = self._key()
                self._advance(2)
                n = self.counts.get(key, 0)
                self.counts[key] = n + 1
                table = key + (n,)
                self.lines[table] = line
            elif self._peek() == "[":
                self._advance()
                table = self._key()
                self._advance()
                self.lines[table] = line
            else:
                key = self._key()
                self.lines.setdefault(table + key, line)
                self._ws(False)
                self._advance()  # '='
                self._ws(False)
                self._value(table + key)


# ---------------------------------------------------------------------------
# Type expressions: f64, [f64; 9], string<64>, vec<T, N>, Name
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([0-9]+)|([\[\];<>,]))")


def _lex(src: str) -> list:
    out: list = []
    i = 0
    while i < len(src):
        if src[i] in " \t":
            i += 1
            continue
        m = _TOKEN.match(src, i)
        if not m or m.end() == i:
            raise ValueError(f"unexpected character `{src[i]}`")
        ident, num, punct = m.groups()
        if ident is not None:
            out.append(("ident", ident))
        elif num is not None:
            if int(num) > U32_MAX:
                raise ValueError(f"`{num}` is too large (at most {U32_MAX})")
            out.append(("int", int(num)))
        else:
            out.append(("punct", punct))
        i = m.end()
    out.append(("end", None))
    return out


def _tok_str(t: tuple) -> str:
    return "the end" if t[0] == "end" else f"`{t[1]}`"


def parse_type(src: str) -> tuple:
    """A type expression as a tuple: ``("scalar", "f64")``, ``("named", "Pose")``,
    ``("array", elem, size)``, ``("string", size)``, ``("vec", elem, size)``;
    a size is ``("lit", n)`` or ``("name", "MAX")``."""

    def fail(why: str) -> ValueError:
        return ValueError(f"invalid type `{src}`: {why} (types are written like `f64`, `[f64; 9]`, "
                          "`string<32>`, `vec<f32, 64>` or a message name)")

    try:
        toks = _lex(src)
    except ValueError as e:
        raise fail(str(e)) from None
    pos = 0

    def nxt() -> tuple:
        nonlocal pos
        t = toks[pos]
        if pos + 1 < len(toks):
            pos += 1
        return t

    def expect(c: str) -> None:
        t = nxt()
        if t != ("punct", c):
            raise fail(f"expected `{c}`, found {_tok_str(t)}")

    def size() -> tuple:
        t = nxt()
        if t[0] == "int":
            return ("lit", t[1])
        if t[0] == "ident":
            return ("name", t[1])
        raise fail(f"expected a size (a number or a constant), found {_tok_str(t)}")

    def ty() -> tuple:
        t = nxt()
        if t == ("punct", "["):
            elem = ty()
            expect(";")
            n = size()
            expect("]")
            return ("array", elem, n)
        if t == ("ident", "string"):
            expect("<")
            n = size()
            expect(">")
            return ("string", n)
        if t == ("ident", "vec"):
            expect("<")
            elem = ty()
            expect(",")
            n = size()
            expect(">")
            return ("vec", elem, n)
        if t[0] == "ident":
            return ("scalar", t[1]) if t[1] in _SIZE else ("named", t[1])
        raise fail(f"expected a type, found {_tok_str(t)}")

    result = ty()
    if toks[pos][0] != "end":
        raise fail(f"unexpected {_tok_str(toks[pos])} after the type")
    return result


def type_str(t: tuple) -> str:
    """A resolved type (sizes are ints) in schema syntax."""
    kind = t[0]
    if kind == "scalar":
        return t[1]
    if kind == "message":
        return t[1]
    if kind == "array":
        return f"[{type_str(t[1])}; {t[2]}]"
    if kind == "string":
        return f"string<{t[1]}>"
    return f"vec<{type_str(t[1])}, {t[2]}>"


def _contained_message(t: tuple) -> str | None:
    if t[0] == "message":
        return t[1]
    if t[0] in ("array", "vec"):
        return _contained_message(t[1])
    return None


# ---------------------------------------------------------------------------
# Reading a file (what serde does on the Rust side, with the same messages)
# ---------------------------------------------------------------------------


@dataclass
class _FieldDef:
    name: str
    ty: str
    doc: str
    line: int


@dataclass
class _ConstDef:
    name: str
    ty: str
    value: int
    doc: str
    line: int


@dataclass
class _Item:
    name: str
    line: int
    doc: str
    file: int
    kind: str  # "message" or "variant"
    params: list = field(default_factory=list)  # [(name, line)]
    constants: list = field(default_factory=list)  # [_ConstDef]
    fields: list = field(default_factory=list)  # [_FieldDef]
    template: str = ""
    template_line: int = 0
    args: list = field(default_factory=list)  # [(name, value, line)], sorted


_KEYS = {
    "file": ["version", "doc", "message", "variant"],
    "message": ["name", "doc", "params", "constants", "fields"],
    "field": ["name", "type", "doc"],
    "constant": ["name", "type", "value", "doc"],
    "variant": ["name", "template", "args", "doc"],
}
_REQUIRED = {
    "file": [],
    "message": ["name", "fields"],
    "field": ["name", "type"],
    "constant": ["name", "type", "value"],
    "variant": ["name", "template", "args"],
}


def _expected(keys: list[str]) -> str:
    q = [f"`{k}`" for k in keys]
    if len(q) == 2:
        return f"expected {q[0]} or {q[1]}"
    return "expected one of " + ", ".join(q)


def _parse_file(path: str, text: str, file: int) -> list[_Item]:
    if tomllib is None:
        raise SchemaError(path, 1, "reading schema files needs Python 3.11 (tomllib) or the tomli package")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+)", str(e))
        line = int(m.group(1)) if m else 1
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e)).strip()
        raise SchemaError(path, line, f"invalid TOML: {msg}") from None
    pos = _Positions(text)

    def err(line: int, message: str) -> SchemaError:
        return SchemaError(path, line, message)

    def check_table(t: Any, what: str, p: tuple, line: int) -> dict:
        if not isinstance(t, dict):
            raise err(pos.get(p, line), "invalid type: expected a table")
        for k in t:
            if k not in _KEYS[what]:
                raise err(pos.get(p + (k,), line),
                          f"unknown field `{k}`, {_expected(_KEYS[what])}")
        for k in _REQUIRED[what]:
            if k not in t:
                raise err(line, f"missing field `{k}`")
        return t

    def typed_value(t: dict, k: str, py: type, what: str, p: tuple, default: Any = None) -> Any:
        if k not in t:
            return default
        v = t[k]
        ok = isinstance(v, py) and not (py is int and isinstance(v, bool))
        if not ok:
            raise err(pos.get(p + (k,)), f"invalid type: expected {what}")
        return v

    check_table(doc, "file", (), 1)
    version = doc.get("version")
    if version is None:
        raise err(1, "missing `version = 1` (the version of the schema format)")
    version = typed_value(doc, "version", int, "i64", ())
    if version != 1:
        raise err(pos.get(("version",)),
                  f"unsupported schema format version {version}: this compiler reads version 1")
    typed_value(doc, "doc", str, "a string", ())
    items: list[_Item] = []
    for kind in ("message", "variant"):
        tables = typed_value(doc, kind, list, "a sequence", (), [])
        for i, t in enumerate(tables):
            p = (kind, i)
            t = check_table(t, kind, p, pos.get(p))
            name = typed_value(t, "name", str, "a string", p)
            item = _Item(name=name, line=pos.get(p + ("name",)),
                         doc=typed_value(t, "doc", str, "a string", p, "") or "", file=file, kind=kind)
            if kind == "message":
                for j, prm in enumerate(typed_value(t, "params", list, "a sequence", p, [])):
                    if not isinstance(prm, str):
                        raise err(pos.get(p + ("params", j)), "invalid type: expected a string")
                    item.params.append((prm, pos.get(p + ("params", j))))
                for j, c in enumerate(typed_value(t, "constants", list, "a sequence", p, [])):
                    cp = p + ("constants", j)
                    c = check_table(c, "constant", cp, pos.get(cp))
                    item.constants.append(_ConstDef(
                        name=typed_value(c, "name", str, "a string", cp),
                        ty=typed_value(c, "type", str, "a string", cp),
                        value=typed_value(c, "value", int, "i64", cp),
                        doc=typed_value(c, "doc", str, "a string", cp, "") or "",
                        line=pos.get(cp)))
                for j, f in enumerate(typed_value(t, "fields", list, "a sequence", p, [])):
                    fp = p + ("fields", j)
                    f = check_table(f, "field", fp, pos.get(fp))
                    item.fields.append(_FieldDef(
                        name=typed_value(f, "name", str, "a string", fp),
                        ty=typed_value(f, "type", str, "a string", fp),
                        doc=typed_value(f, "doc", str, "a string", fp, "") or "",
                        line=pos.get(fp)))
            else:
                item.template = typed_value(t, "template", str, "a string", p)
                item.template_line = pos.get(p + ("template",))
                args = typed_value(t, "args", dict, "a table", p)
                for k in sorted(args):
                    v = args[k]
                    if not isinstance(v, int) or isinstance(v, bool):
                        raise err(pos.get(p + ("args", k)), "invalid type: expected i64")
                    item.args.append((k, v, pos.get(p + ("args", k))))
            items.append(item)
    items.sort(key=lambda it: it.line)
    return items


# ---------------------------------------------------------------------------
# Compiling
# ---------------------------------------------------------------------------


@dataclass
class Field:
    """A field of a compiled message (padding included)."""

    name: str
    doc: str
    ty: tuple  # resolved: ("scalar", "f64"), ("message", "Pose"), ("array", t, n), ...
    offset: int
    size: int
    padding: bool
    line: int


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
    variant_of: tuple | None  # (template, template_doc, [(param, value)])
    fields: list[Field]
    constants: list[Constant]
    layout: dict  # the format of shm_comm.typed, with "hash"

    def doc_lines(self) -> list[str]:
        out: list[str] = []

        def para(text: str) -> None:
            text = text.rstrip()
            if not text:
                return
            if out:
                out.append("")
            out.extend(line.rstrip() for line in text.splitlines())

        para(self.doc)
        if self.variant_of is not None:
            template, template_doc, args = self.variant_of
            para(template_doc)
            para(f"Variant of `{template}` with {', '.join(f'{k} = {n}' for k, n in args)}.")
        lay = self.layout
        para(f"Layout: {lay['size']} bytes, align {lay['align']}, hash 0x{lay['hash']:016x}.")
        return out


def _field_doc_lines(f: Field) -> list[str]:
    if f.padding:
        return ["Padding inserted by the schema compiler (always zero)."]
    return [line.rstrip() for line in f.doc.rstrip().splitlines()]


@dataclass
class Schema:
    """The result of a compilation: messages, dependencies first."""

    messages: list[Message]
    std_set: bool
    sources: list[tuple[str, str]]  # (path, text), the prelude excluded

    def get(self, name: str) -> Message | None:
        return next((m for m in self.messages if m.name == name), None)

    def generated(self) -> list[Message]:
        return [m for m in self.messages if not m.prelude]


def _is_type_name(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Za-z0-9]*", s))


def _is_upper_name(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", s))


def _is_field_name(s: str) -> bool:
    return bool(re.fullmatch(r"[a-z_][a-z0-9_]*", s)) and s != "_" and not s.startswith("__")


class _Compiler:
    def __init__(self, files: list[str], prelude_files: int, items: list[_Item]):
        self.files = files
        self.prelude_files = prelude_files
        self.items = items
        self.by_name: dict[str, int] = {}

    def err(self, item: _Item, line: int, message: str) -> SchemaError:
        return SchemaError(self.files[item.file], line, message)

    def blame(self, owner: _Item, variant: _Item | None, line: int, arg: bool, message: str):
        if variant is not None and arg:
            return self.err(variant, line, f"variant `{variant.name}`: {message}")
        return self.err(owner, line, message)

    # -- names -------------------------------------------------------------
    def check_names(self) -> None:
        for idx, item in enumerate(self.items):
            if not _is_type_name(item.name) or len(item.name) > MAX_NAME:
                raise self.err(item, item.line, f"invalid {item.kind} name `{item.name}`: names of messages "
                               "are CamelCase (a capital letter, then letters and digits)")
            if item.name in RESERVED_TYPES:
                raise self.err(item, item.line, f"name collision: `{item.name}` is a reserved name "
                               "(used by the generated code)")
            if item.name in self.by_name:
                first = self.items[self.by_name[item.name]]
                std = " (the standard message set)" if first.file < self.prelude_files else ""
                raise self.err(item, item.line, f"name collision: `{item.name}` is already defined at "
                               f"{self.files[first.file]}:{first.line}{std}")
            self.by_name[item.name] = idx

    # -- definitions -------------------------------------------------------
    def check_constants(self, item: _Item) -> list[Constant]:
        m = item.name
        seen: dict[str, int] = {}
        for p, line in item.params:
            if not _is_upper_name(p):
                raise self.err(item, line, f"invalid parameter name `{p}` of `{m}`: parameters are UPPER_CASE")
            if p in seen:
                raise self.err(item, line, f"duplicate parameter `{p}` in `{m}` (first at line {seen[p]})")
            seen[p] = line
        out = []
        for c in item.constants:
            n = c.name
            if not _is_upper_name(n):
                raise self.err(item, c.line, f"invalid constant name `{n}` of `{m}`: constants are UPPER_CASE")
            if n in seen:
                raise self.err(item, c.line, f"name collision: constant `{n}` of `{m}` is already defined "
                               f"at line {seen[n]}")
            seen[n] = c.line
            try:
                t = parse_type(c.ty)
            except ValueError:
                t = None
            if t is None or t[0] != "scalar" or t[1] in ("f32", "f64", "flag"):
                raise self.err(item, c.line, f"constant `{n}` of `{m}`: type `{c.ty}` is not an integer type "
                               "(u8, u16, u32, u64, i8, i16, i32, i64)")
            lo, hi = _RANGE[t[1]]
            if not lo <= c.value <= hi:
                raise self.err(item, c.line, f"constant `{n}` of `{m}`: {c.value} does not fit in {t[1]}")
            out.append(Constant(n, t[1], c.value, c.doc))
        return out

    def check_fields(self, item: _Item) -> list[tuple[_FieldDef, tuple]]:
        m = item.name
        if not item.fields:
            raise self.err(item, item.line, f"`{m}` has no fields: a message needs at least one")
        seen: dict[str, int] = {}
        out = []
        for f in item.fields:
            n = f.name
            if not _is_field_name(n) or len(n) > MAX_NAME:
                raise self.err(item, f.line, f"invalid field name `{n}` in `{m}`: field names are snake_case "
                               "(lower-case letters, digits and `_`, not starting with a digit or `__`)")
            if n in NOT_RAW or n in PY_RESERVED:
                raise self.err(item, f.line, f"field name `{n}` in `{m}` is reserved "
                               "(by Rust or the generated Python)")
            if n in seen:
                raise self.err(item, f.line, f"duplicate field `{n}` in `{m}` (first at line {seen[n]})")
            seen[n] = f.line
            try:
                t = parse_type(f.ty)
            except ValueError as e:
                raise self.err(item, f.line, f"field `{n}` of `{m}`: {e}") from None
            out.append((f, t))
        for f in item.fields:
            py = py_name(f.name)
            if py != f.name:
                other = next((g for g in item.fields if g.name == py), None)
                if other is not None:
                    raise self.err(item, max(other.line, f.line),
                                   f"name collision: field `{f.name}` of `{m}` is `{py}` in Python, "
                                   "like another field")
        return out

    def resolve(self, owner: _Item, variant: _Item | None, f: _FieldDef, t: tuple,
                consts: list[Constant], args: list) -> tuple:
        """Resolves names and sizes; sizes become (n, line, arg) triples."""
        m = owner.name

        def size(s: tuple) -> tuple:
            if s[0] == "lit":
                v, line, arg = s[1], f.line, False
            else:
                n = s[1]
                a = next((a for a in args if a[0] == n), None)
                c = next((c for c in consts if c.name == n), None)
                if a is not None:
                    v, line, arg = a[1], a[2], variant is not None
                elif c is not None:
                    v, line, arg = c.value, f.line, False
                else:
                    raise self.blame(owner, variant, f.line, False,
                                     f"unknown size `{n}` in field `{f.name}` of `{m}`: not a number, "
                                     f"a constant of `{m}` or a parameter")
            if v == 0:
                raise self.blame(owner, variant, line, arg,
                                 f"capacity 0 in field `{f.name}` of `{m}` (`{f.ty}`): a capacity or "
                                 "array length must be at least 1")
            if v < 0 or v > U32_MAX:
                raise self.blame(owner, variant, line, arg,
                                 f"size {v} in field `{f.name}` of `{m}` is out of range (1 to {U32_MAX})")
            return (v, line, arg)

        kind = t[0]
        if kind == "scalar":
            return t
        if kind == "named":
            n = t[1]
            if n not in self.by_name:
                raise self.blame(owner, variant, f.line, False,
                                 f"unknown type `{n}` in field `{f.name}` of `{m}`")
            target = self.items[self.by_name[n]]
            if target.kind == "message" and target.params:
                ps = ", ".join(p for p, _ in target.params)
                raise self.blame(owner, variant, f.line, False,
                                 f"field `{f.name}` of `{m}`: `{n}` is a template (parameters {ps}); use one "
                                 "of its variants or declare one with [[variant]]")
            return ("message", n)
        if kind == "array":
            e = self.resolve(owner, variant, f, t[1], consts, args)
            return ("array", e, size(t[2]))
        if kind == "string":
            n = size(t[1])
            if n[0] % 4 != 0:
                raise self.blame(owner, variant, n[1], n[2],
                                 f"field `{f.name}` of `{m}`: the capacity of `string<{n[0]}>` must be a "
                                 "multiple of 4 (FixedString<N> would have padding otherwise)")
            return ("string", n)
        e = self.resolve(owner, variant, f, t[1], consts, args)
        return ("vec", e, size(t[2]))

    def instantiate(self, idx: int) -> dict:
        item = self.items[idx]
        v, template = item.name, item.template
        if template not in self.by_name:
            raise self.err(item, item.template_line, f"unknown template `{template}` in variant `{v}`")
        t = self.items[self.by_name[template]]
        if t.kind != "message":
            raise self.err(item, item.template_line, f"variant `{v}`: `{template}` is a variant, not a template")
        if not t.params:
            raise self.err(item, item.template_line,
                           f"variant `{v}`: `{template}` is not a template (it has no `params`)")
        for a, val, line in item.args:
            if not any(p == a for p, _ in t.params):
                raise self.err(item, line, f"variant `{v}`: template `{template}` has no parameter `{a}`")
            if val == 0:
                raise self.err(item, line, f"capacity 0 in variant `{v}`: `{a}` must be at least 1")
            if val < 0 or val > U32_MAX:
                raise self.err(item, line, f"variant `{v}`: `{a}` = {val} is out of range (1 to {U32_MAX})")
        ordered = []
        for p, _ in t.params:
            a = next((a for a in item.args if a[0] == p), None)
            if a is None:
                raise self.err(item, item.line, f"variant `{v}`: missing argument `{p}` of template `{template}`")
            ordered.append((p, a[1]))
        consts = self.check_constants(t)
        resolved = [(f, self.resolve(t, item, f, ty, consts, item.args)) for f, ty in self.check_fields(t)]
        return {"item": idx, "fields": resolved, "constants": consts,
                "variant_of": (template, t.doc, ordered)}

    # -- cycles ------------------------------------------------------------
    def template_item(self, c: dict) -> _Item | None:
        if c["variant_of"] is None:
            return None
        return self.items[self.by_name[c["variant_of"][0]]]

    def check_cycles(self, concrete: list[dict]) -> None:
        by_name = {self.items[c["item"]].name: i for i, c in enumerate(concrete)}
        state = [0] * len(concrete)

        def visit(i: int, stack: list) -> None:
            state[i] = 1
            for fi, (f, t) in enumerate(concrete[i]["fields"]):
                target = _contained_message(_plain(t))
                if target is None or target not in by_name:
                    continue
                j = by_name[target]
                stack.append((i, fi))
                if state[j] == 1:
                    start = next(k for k, (m, _) in enumerate(stack) if m == j)
                    path = [f"`{self.items[concrete[m]['item']].name}.{concrete[m]['fields'][x][0].name}`"
                            for m, x in stack[start:]]
                    item = self.items[concrete[i]["item"]]
                    owner = self.template_item(concrete[i]) or item
                    raise self.err(owner, f.line, f"cycle: {' -> '.join(path)} -> `{target}`: "
                                   "a message cannot contain itself")
                if state[j] == 0:
                    visit(j, stack)
                stack.pop()
            state[i] = 2

        for i in range(len(concrete)):
            if state[i] == 0:
                visit(i, [])

    # -- layouts -----------------------------------------------------------
    def check_sizes(self, owner: _Item, variant: _Item | None, f: _FieldDef, t: tuple,
                    layouts: dict) -> tuple[int, int]:
        m = owner.name
        kind = t[0]
        if kind == "scalar":
            size, align = _SIZE[t[1]], _SIZE[t[1]]
        elif kind == "message":
            size, align = layouts[t[1]]["size"], layouts[t[1]]["align"]
        elif kind == "string":
            size, align = 4 + t[1][0], 4
        elif kind == "array":
            s, a = self.check_sizes(owner, variant, f, t[1], layouts)
            size, align = s * t[2][0], a
        else:
            s, a = self.check_sizes(owner, variant, f, t[1], layouts)
            n = t[2]
            items = s * n[0]
            if items % 4 != 0 or items % a != 0:
                raise self.blame(owner, variant, n[1], n[2],
                                 f"field `{f.name}` of `{m}`: `{type_str(_plain(t))}` needs its capacity times "
                                 f"the element size ({n[0]} x {s} = {items} bytes) to be a multiple of 4 and of "
                                 f"the element's alignment ({a}) (FixedVec<T, N> would have padding otherwise)")
            size, align = 8 + items, max(a, 4)
        if size > U32_MAX:
            raise self.blame(owner, variant, f.line, False,
                             f"field `{f.name}` of `{m}` (`{f.ty}`) is larger than 4 GiB")
        return size, align

    def lay_out(self, concrete: list[dict]) -> list[Message]:
        by_name = {self.items[c["item"]].name: i for i, c in enumerate(concrete)}
        layouts: dict[str, dict] = {}
        out: list[Message] = []
        done: set[int] = set()

        def visit(i: int) -> None:
            if i in done:
                return
            done.add(i)
            for _, t in concrete[i]["fields"]:
                n = _contained_message(_plain(t))
                if n is not None and n in by_name:
                    visit(by_name[n])
            msg = self.lay_out_one(concrete[i], layouts)
            layouts[msg.name] = msg.layout
            out.append(msg)

        for i in range(len(concrete)):
            visit(i)
        return out

    def lay_out_one(self, c: dict, layouts: dict) -> Message:
        item = self.items[c["item"]]
        template = self.template_item(c)
        owner, variant = (template, item) if template is not None else (item, None)
        m = item.name
        used = {f.name for f, _ in c["fields"]}
        pad_names = (f"_pad{k}" for k in range(10**9) if f"_pad{k}" not in used)
        fields: list[Field] = []
        descs: list[dict] = []
        offset, align = 0, 1

        def pad(n: int) -> None:
            nonlocal offset
            name = next(pad_names)
            descs.append({"name": name, "offset": offset, **_type_dict(("array", ("scalar", "u8"), n), layouts)})
            fields.append(Field(name, "", ("array", ("scalar", "u8"), n), offset, n, True, item.line))
            offset += n

        for f, t in c["fields"]:
            size, a = self.check_sizes(owner, variant, f, t, layouts)
            if offset % a:
                pad(a - offset % a)
            align = max(align, a)
            plain = _plain(t)
            descs.append({"name": f.name, "offset": offset, **_type_dict(plain, layouts)})
            fields.append(Field(f.name, f.doc, plain, offset, size, False, f.line))
            offset += size
            if offset > U32_MAX:
                raise self.err(item, item.line, f"`{m}` is larger than 4 GiB")
        if offset % align:
            pad(align - offset % align)
        if offset > U32_MAX:
            raise self.err(item, item.line, f"`{m}` is larger than 4 GiB")
        layout = {"name": m, "size": offset, "align": align, "fields": descs}
        if _depth(layout) > 16:
            raise self.err(item, item.line, f"`{m}` cannot be described: nesting too deep")
        layout["hash"] = structural_hash(layout)
        layout = {"name": m, "size": offset, "align": align, "hash": layout["hash"], "fields": descs}
        return Message(name=m, doc=item.doc, file=self.files[item.file], line=item.line,
                       prelude=item.file < self.prelude_files, variant_of=c["variant_of"],
                       fields=fields, constants=c["constants"], layout=layout)


def _plain(t: tuple) -> tuple:
    """A resolved type without the lines of its sizes."""
    kind = t[0]
    if kind in ("scalar", "message"):
        return t
    if kind == "string":
        return ("string", t[1][0])
    return (kind, _plain(t[1]), t[2][0])


def _type_dict(t: tuple, layouts: dict) -> dict:
    """A plain resolved type as a type dict of ``shm_comm.typed``:
    ``{"size", "shape", "kind", ...}``."""
    shape: list[int] = []
    while t[0] == "array":
        shape.append(t[2])
        t = t[1]
    kind = t[0]
    if kind == "scalar":
        d: dict = {"size": _SIZE[t[1]], "kind": t[1]}
    elif kind == "message":
        d = {"size": layouts[t[1]]["size"], "kind": "struct", "layout": layouts[t[1]]}
    elif kind == "string":
        d = {"size": 4 + t[1], "kind": "string", "capacity": t[1]}
    else:
        elem = _type_dict(t[1], layouts)
        d = {"size": 8 + elem["size"] * t[2], "kind": "vec", "capacity": t[2], "elem": elem}
    for n in shape:
        d["size"] *= n
    out = {"size": d.pop("size"), "shape": shape}
    out.update(d)
    return out


def _depth(layout: dict, depth: int = 0) -> int:
    best = depth

    def ty(t: dict, d: int) -> None:
        nonlocal best
        if t["kind"] == "struct":
            best = max(best, _depth(t["layout"], d + 1))
        elif t["kind"] == "vec":
            best = max(best, d + 1)
            ty(t["elem"], d + 1)

    for f in layout["fields"]:
        ty(f, depth)
    return best


def compile_sources(sources: list[tuple[str, str]], prelude: list[tuple[str, str]] | None = None,
                    std_set: bool = False) -> Schema:
    """Compiles ``sources`` (``(path, text)`` pairs) together with ``prelude``
    (whose messages are marked ``prelude`` and not generated again)."""
    prelude = prelude or []
    every = list(prelude) + list(sources)
    items: list[_Item] = []
    for i, (path, text) in enumerate(every):
        items.extend(_parse_file(path, text, i))
    cx = _Compiler([p for p, _ in every], len(prelude), items)
    cx.check_names()
    concrete: list[dict] = []
    for idx, item in enumerate(cx.items):
        if item.kind == "message":
            consts = cx.check_constants(item)
            defs = cx.check_fields(item)
            if not item.params:
                resolved = [(f, cx.resolve(item, None, f, t, consts, [])) for f, t in defs]
                concrete.append({"item": idx, "fields": resolved, "constants": consts, "variant_of": None})
            else:
                names = [(p, 1, line) for p, line in item.params]
                for f, t in defs:
                    cx.resolve(item, None, f, t, consts, names)
        else:
            concrete.append(cx.instantiate(idx))
    cx.check_cycles(concrete)
    messages = cx.lay_out(concrete)
    return Schema(messages=messages, std_set=std_set, sources=list(sources))


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


# ---------------------------------------------------------------------------
# The structural hash (as shm_comm::LayoutDescriptor::hash)
# ---------------------------------------------------------------------------


def _u32(v: int) -> bytes:
    return int(v).to_bytes(4, "little")


def _enc_str(s: str) -> bytes:
    b = s.encode("utf-8")
    return _u32(len(b)) + b


def _enc_type(t: dict) -> bytes:
    shape = t.get("shape") or []
    out = _u32(t["size"]) + _u32(len(shape)) + b"".join(_u32(d) for d in shape)
    kind = t["kind"]
    if kind == "struct":
        return out + bytes([32]) + _enc_layout(t["layout"])
    if kind == "string":
        return out + bytes([33]) + _u32(t["capacity"])
    if kind == "vec":
        return out + bytes([34]) + _u32(t["capacity"]) + _enc_type(t["elem"])
    return out + bytes([SCALARS.index(kind)])


def _enc_layout(layout: dict) -> bytes:
    out = _u32(layout["size"]) + _u32(layout["align"]) + _u32(len(layout["fields"]))
    for f in layout["fields"]:
        out += _enc_str(f["name"]) + _u32(f["offset"]) + _enc_type(f)
    return out


def structural_hash(layout: dict) -> int:
    """FNV-1a 64 over the canonical encoding of ``layout`` (type names
    excluded): the same number as Rust's ``LayoutDescriptor::hash()``."""
    h = 0xCBF29CE484222325
    for b in _enc_layout(layout):
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# ---------------------------------------------------------------------------
# Generating Python (the same bytes as shm-comm-schema gen-python)
# ---------------------------------------------------------------------------

_SCALAR_HINT = {"f32": "float", "f64": "float", "flag": "bool"}
_SCALAR_DEFAULT = {"f32": "0.0", "f64": "0.0", "flag": "False"}


def _array_of_scalar(t: tuple) -> tuple[str, list[int]] | None:
    if t[0] == "scalar":
        return t[1], []
    if t[0] == "array":
        inner = _array_of_scalar(t[1])
        if inner is None:
            return None
        return inner[0], [t[2]] + inner[1]
    return None


def _shape_tuple(shape: list[int]) -> str:
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _hint(t: tuple) -> str:
    kind = t[0]
    if kind == "scalar":
        return _SCALAR_HINT.get(t[1], "int")
    if kind == "message":
        return t[1]
    if kind == "string":
        return "str"
    if kind == "array":
        return "np.ndarray" if _array_of_scalar(t) is not None else f"list[{_hint(t[1])}]"
    return "np.ndarray" if t[1][0] == "scalar" else f"list[{_hint(t[1])}]"


def _default_expr(t: tuple) -> str:
    a = _array_of_scalar(t)
    if a is not None and t[0] != "scalar":
        return f'np.zeros({_shape_tuple(a[1])}, dtype="{_DTYPE[a[0]]}")'
    kind = t[0]
    if kind == "scalar":
        return _SCALAR_DEFAULT.get(t[1], "0")
    if kind == "message":
        return f"{t[1]}()"
    if kind == "string":
        return '""'
    if kind == "array":
        return f"[{_default_expr(t[1])} for _ in range({t[2]})]"
    return f'np.zeros(0, dtype="{_DTYPE[t[1][1]]}")' if t[1][0] == "scalar" else "[]"


def _default(t: tuple, padding: bool) -> str:
    repr_ = ", repr=False" if padding else ""
    kind = t[0]
    if kind == "scalar":
        return _SCALAR_DEFAULT.get(t[1], "0")
    if kind == "string":
        return '""'
    if kind == "message":
        return f"dataclasses.field(default_factory={t[1]}{repr_})"
    if kind == "vec" and t[1][0] != "scalar":
        return f"dataclasses.field(default_factory=list{repr_})"
    return f"dataclasses.field(default_factory=lambda: {_default_expr(t)}{repr_})"


def _escape_doc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _docstring(out: list[str], indent: str, lines: list[str]) -> None:
    if not lines:
        return
    if len(lines) == 1:
        out.append(f'{indent}"""{_escape_doc(lines[0])}"""\n')
        return
    out.append(f'{indent}"""{_escape_doc(lines[0])}\n')
    for line in lines[1:]:
        out.append(f"{indent}{_escape_doc(line)}\n" if line else "\n")
    out.append(f'{indent}"""\n')


def _type_entries(t: dict) -> str:
    s = f'"size": {t["size"]}, "shape": [{", ".join(str(d) for d in t["shape"])}], '
    kind = t["kind"]
    if kind == "struct":
        s += f'"kind": "struct", "layout": {t["layout"]["name"]}.__shm_layout__'
    elif kind == "string":
        s += f'"kind": "string", "capacity": {t["capacity"]}'
    elif kind == "vec":
        s += f'"kind": "vec", "capacity": {t["capacity"]}, "elem": {{{_type_entries(t["elem"])}}}'
    else:
        s += f'"kind": "{kind}"'
    return s


def _gen_message(out: list[str], m: Message) -> None:
    out.append("\n\n@typed.register\n@dataclasses.dataclass\n")
    out.append(f"class {m.name}:\n")
    _docstring(out, "    ", m.doc_lines())
    for c in m.constants:
        out.append("\n")
        out.append(f"    {c.name}: ClassVar[int] = {c.value}\n")
        _docstring(out, "    ", [line.rstrip() for line in c.doc.rstrip().splitlines()])
    out.append("\n")
    for f in m.fields:
        out.append(f"    {py_name(f.name)}: {_hint(f.ty)} = {_default(f.ty, f.padding)}\n")
        _docstring(out, "    ", _field_doc_lines(f))
    lay = m.layout
    out.append("\n    __shm_layout__: ClassVar[dict] = {\n")
    out.append(f'        "name": "{lay["name"]}",\n')
    out.append(f'        "size": {lay["size"]},\n')
    out.append(f'        "align": {lay["align"]},\n')
    out.append(f'        "hash": 0x{lay["hash"]:016x},\n')
    out.append('        "fields": [\n')
    for f in lay["fields"]:
        out.append(f'            {{"name": "{f["name"]}", "offset": {f["offset"]}, {_type_entries(f)}}},\n')
    out.append("        ],\n    }\n")
    out.append("    __shm_dtype__: ClassVar[np.dtype]\n")


def _files_list(files: list[str]) -> str:
    names = [f"`{f}`" for f in files]
    if not names:
        return "no files"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _py_text(text: str) -> str:
    return "'''\\\n" + text.replace("\\", "\\\\").replace("'", "\\'") + "'''"


def generate_python(schema: Schema) -> str:
    """The Python module of ``schema``: the same text as ``shm-comm-schema gen-python``."""
    gen = schema.generated()
    out: list[str] = []
    if schema.std_set:
        out.append(
            '"""The standard message set: time and header, geometry, sensors, images and\n'
            "point clouds, as dataclasses with the layouts of the Rust types of\n"
            "`shm_comm::msgs` (see the table in the README).\n"
            "\n"
            "Generated from `schemas/` by `shm-comm-schema`: do not edit. After changing a\n"
            "schema, run `cargo run -p shm-comm-schema -- gen-std` from the workspace root\n"
            "(a test checks that the checked-in files are up to date).\n"
            "\n"
            "Each class has `__shm_layout__` (its layout dict) and `__shm_dtype__` (its numpy\n"
            "dtype): pass it as `msg_type=` to `shm_comm.Publisher` and `shm_comm.Subscriber`.\n"
            "For large messages (images, point clouds), `Subscriber.recv_view()` and\n"
            "`shm_comm.typed.view()` give numpy views into the shared slot, without a copy.\n"
            '"""\n')
    else:
        out.append(f'"""Messages generated from {_files_list([p for p, _ in schema.sources])} by the '
                   "shm-comm schema compiler: do not edit.\n")
        out.append(
            "\n"
            "Regenerate with `python -m shm_comm.schema gen FILES -o OUT` (or\n"
            "`shm-comm-schema gen-python`); the same files give Rust types with the same\n"
            "layouts (`shm-comm-schema gen-rust`).\n"
            '"""\n')
    out.append("\nfrom __future__ import annotations\n\n"
               "import dataclasses\n"
               "from typing import ClassVar\n\n"
               "import numpy as np\n\n")
    if schema.std_set:
        out.append("from . import typed\n")
    else:
        out.append("from shm_comm import typed\n")
        prelude = set()
        for m in gen:
            for f in m.fields:
                n = _contained_message(f.ty)
                if n is not None and schema.get(n) is not None and schema.get(n).prelude:
                    prelude.add(n)
        if prelude:
            out.append(f"from shm_comm.msgs import {', '.join(sorted(prelude))}\n")
    out.append("\n__all__ = [\n")
    for m in gen:
        out.append(f'    "{m.name}",\n')
    out.append("]\n\n#: The version of the schema format these classes were generated from.\n"
               "SCHEMA_VERSION = 1\n")
    for m in gen:
        _gen_message(out, m)
    if schema.std_set:
        out.append("\n\n#: The schema files these classes were generated from: the standard set that\n"
                   "#: `python -m shm_comm.schema gen` compiles along with a user's files.\n"
                   "_SCHEMA_SOURCES = {\n")
        for path, text in schema.sources:
            name = re.split(r"[/\\]", path)[-1]
            out.append(f'    "{name}": {_py_text(text)},\n')
        out.append("}\n")
    return "".join(out)


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


def schema_from_layout(layout: dict, topic: str | None = None) -> str:
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
    order: list[tuple[str, dict]] = []

    def name_of(lay: dict) -> str:
        h = structural_hash(lay)
        key = (h, lay["name"])
        if key in names:
            return names[key]
        if std.get(lay["name"]) == h:
            names[key] = lay["name"]
            return lay["name"]
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

    def ty(t: dict) -> str:
        kind = t["kind"]
        if kind == "struct":
            s = name_of(t["layout"])
        elif kind == "string":
            s = f"string<{t['capacity']}>"
        elif kind == "vec":
            s = f"vec<{ty(t['elem'])}, {t['capacity']}>"
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
        s += f"  {f.offset:>6}  {f.name}: {type_str(f.ty)} ({f.size} bytes)\n"
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
