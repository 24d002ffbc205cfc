"""Typed topics: message classes and numpy dtypes from layout descriptors.

A typed topic stores its layout in the segment (the same descriptor that
Rust's ``#[derive(ShmMessage)]`` produces), so Python needs no generated
code: :func:`message_class` turns a layout dict into a dataclass whose
instances :func:`decode` fills from a frame, and :func:`encode` packs back.

Field kinds map to Python as follows:

=====================  ===============================================
layout kind            Python value
=====================  ===============================================
``u8`` ... ``f64``     ``int`` / ``float``; with a shape: ``numpy.ndarray``
``flag``               ``bool`` (any non-zero byte is ``True``)
``struct``             a nested message dataclass
``string``             ``str`` (bounded: at most ``capacity`` UTF-8 bytes)
``vec``                ``numpy.ndarray`` of its ``len`` items (bounded)
``opaque``             a foreign type's bytes (Rust ``#[shm(pod)]``, such
                       as a ``glam::Vec3``): ``bytes`` in a message object,
                       a ``uint8`` numpy view in a sample (read-only)
=====================  ===============================================
"""

from __future__ import annotations

import dataclasses
import keyword
from typing import Any, Callable, TypeVar, overload

import numpy as np

from . import _native
from ._errors import SHMLayoutError, SHMMessageTooLargeError, SHMSerializationError

__all__ = [
    "message_class",
    "register",
    "dtype_of",
    "tail_dtype",
    "tail_name",
    "decode",
    "encode",
    "view",
    "writable",
    "layout_of",
    "layout_hash",
    "first_difference",
]

_SCALARS = {
    "u8": "<u1",
    "u16": "<u2",
    "u32": "<u4",
    "u64": "<u8",
    "i8": "<i1",
    "i16": "<i2",
    "i32": "<i4",
    "i64": "<i8",
    "f32": "<f4",
    "f64": "<f8",
    "flag": "<u1",
}

#: A layout descriptor as a dict: ``name``, ``size``, ``align``, ``fields``
#: (each ``name``, ``offset``, ``kind`` and the kind's entries) and ``hash``.
Layout = dict[str, Any]

_C = TypeVar("_C", bound=type)
_M = TypeVar("_M")

#: Message classes by (layout hash, type name): structurally identical types
#: (``Point`` and ``Vector3``) share a hash but keep their own class.
_CLASSES: dict[tuple[int, str], type[Any]] = {}
_STD_LOADED = False


def layout_hash(layout: Layout) -> int:
    """The structural hash of ``layout`` (identical to Rust's)."""
    return _native.layout_hash(layout)


def first_difference(ours: Layout, theirs: Layout) -> str | None:
    """The first field that differs between two layouts, or ``None``."""
    return _native.first_difference(ours, theirs)


def _type_dtype(t: Layout) -> np.dtype[Any]:
    kind = t["kind"]
    if kind in _SCALARS:
        base = np.dtype(_SCALARS[kind])
    elif kind == "struct":
        base = dtype_of(t["layout"])
    elif kind == "string":
        base = np.dtype({"names": ["len", "bytes"], "formats": ["<u4", ("u1", (t["capacity"],))],
                         "offsets": [0, 4], "itemsize": 4 + t["capacity"]})
    elif kind == "vec":
        elem = _type_dtype(t["elem"])
        base = np.dtype({"names": ["len", "reserved", "items"],
                         "formats": ["<u4", "<u4", (elem, (t["capacity"],))],
                         "offsets": [0, 4, 8], "itemsize": 8 + elem.itemsize * t["capacity"]})
    elif kind == "opaque":
        base = np.dtype(("u1", (t["size"],)))
    else:
        raise SHMLayoutError(f"unknown field kind {kind!r}")
    shape = tuple(t.get("shape") or ())
    return np.dtype((base, shape)) if shape else base


def dtype_of(layout: Layout) -> np.dtype[Any]:
    """The numpy structured dtype of a layout (offsets and size exact)."""
    return np.dtype({
        "names": [f["name"] for f in layout["fields"]],
        "formats": [_type_dtype(f) for f in layout["fields"]],
        "offsets": [f["offset"] for f in layout["fields"]],
        "itemsize": layout["size"],
    })


def tail_dtype(layout: Layout) -> np.dtype[Any]:
    """The numpy dtype of one element of a variable-size message's tail
    (``layout["tail"]``): a plain dtype for numbers (``uint8``; a
    ``(uint8, (3,))`` subarray for ``[u8; 3]`` pixels, so that a view of
    ``n`` elements has shape ``(n, 3)``), a structured one for a message."""
    tail = layout.get("tail")
    if tail is None:
        raise SHMLayoutError(f"`{layout.get('name')}` has a fixed size: it has no tail")
    return _type_dtype(tail["elem"])


#: The attribute of a message object that holds the tail's elements when
#: the class does not name it (a class made from a topic's stored layout,
#: which records the elements but not what the schema called them).
TAIL_NAME = "data"


def tail_name(msg_type: type[Any] | Layout) -> str | None:
    """The attribute holding the elements of a variable-size message class
    (its ``__shm_tail__``, ``"data"`` by default); ``None`` for a fixed-size
    message."""
    layout = msg_type if isinstance(msg_type, dict) else layout_of(msg_type)
    if layout.get("tail") is None:
        return None
    name: str = getattr(msg_type, "__shm_tail__", TAIL_NAME)
    return name


def _tail_of(buf: Any, layout: Layout) -> Any:
    """The elements of the variable-size message in ``buf`` (a sample or a
    loan, whose length is the message's): a numpy view."""
    tail = layout["tail"]
    dt = tail_dtype(layout)
    n = (memoryview(buf).nbytes - tail["offset"]) // dt.itemsize
    return np.frombuffer(buf, dtype=dt, offset=tail["offset"], count=max(n, 0))


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) else name


def register(cls: _C) -> _C:
    """Registers a generated message class (a class decorator): sets its
    ``__shm_dtype__`` and makes :func:`message_class` (and so received
    messages) use it for its layout. The layout's hash is checked. The latest
    class registered for a (layout, name) is the one messages decode to, but
    a class of the standard set stays (``shm_comm.msgs.Header``, not a copy
    of it in another generated module)."""
    layout: Layout = getattr(cls, "__shm_layout__")
    h = _native.check_layout(layout)["hash"]
    if layout.get("tail") is not None and not hasattr(cls, "__shm_tail__"):
        setattr(cls, "__shm_tail__", TAIL_NAME)
    if layout.get("hash") != h:
        raise SHMLayoutError(f"{cls.__name__}: layout hash {layout.get('hash')!r} is not the "
                             f"structural hash {h:#018x} of its fields (edited by hand?)")
    setattr(cls, "__shm_dtype__", dtype_of(layout))
    old = _CLASSES.get((h, layout["name"]))
    if old is None or old.__module__ != __package__ + ".msgs":
        _CLASSES[(h, layout["name"])] = cls
    return cls


def message_class(layout: Layout) -> type[Any]:
    """A dataclass for messages of ``layout`` (cached by hash and name).

    A layout of the standard set (``shm_comm.msgs``) or of a registered
    generated module gets its generated class; any other gets a class made
    here. The class carries ``__shm_layout__`` (the layout dict) and
    ``__shm_dtype__`` (its numpy dtype), which is all :class:`Publisher`
    and :class:`Subscriber` need to speak the topic.
    """
    global _STD_LOADED
    layout = _native.check_layout(layout)
    h = layout["hash"]
    if not _STD_LOADED:
        _STD_LOADED = True
        from . import msgs  # noqa: F401  (registers the standard classes)
    cls = _CLASSES.get((h, layout["name"]))
    if cls is not None:
        return cls
    fields: list[tuple[str, Any, Any]] = []
    for f in layout["fields"]:
        fields.append((_py_name(f["name"]), Any, dataclasses.field(default=None)))
    if layout.get("tail") is not None:
        empty = np.zeros(0, dtype=tail_dtype(layout))
        fields.append((TAIL_NAME, Any, dataclasses.field(default_factory=empty.copy)))
    cls = dataclasses.make_dataclass(layout["name"].replace("<", "_").replace(">", "_")
                                     .replace(",", "_").replace(" ", ""), fields)
    cls.__doc__ = f"Message `{layout['name']}` ({layout['size']} bytes, hash {h:#018x})."
    setattr(cls, "__shm_layout__", layout)
    setattr(cls, "__shm_dtype__", dtype_of(layout))
    if layout.get("tail") is not None:
        setattr(cls, "__shm_tail__", TAIL_NAME)
    _CLASSES[(h, layout["name"])] = cls
    return cls


def layout_of(msg_type: type[Any]) -> Layout:
    """The layout dict of a message class."""
    try:
        layout: Layout = msg_type.__shm_layout__
        return layout
    except AttributeError:
        raise TypeError(f"{msg_type!r} is not a shm_comm message class "
                        "(make one with shm_comm.typed.message_class or shm_comm.msgs)") from None


def _from_record(t: Layout, value: Any, copy: bool) -> Any:
    kind = t["kind"]
    if kind == "opaque":  # never has a shape (the layout check refuses one)
        return value.tobytes() if copy else value
    shape = t.get("shape") or ()
    if shape:
        if kind in _SCALARS:
            arr = np.array(value, copy=True) if copy else value
            return arr.astype(bool) if kind == "flag" else arr
        inner = dict(t, shape=[])
        return [_from_record(inner, v, copy) for v in np.asarray(value).reshape(-1)] \
            if len(shape) == 1 else [_from_record(dict(t, shape=shape[1:]), v, copy) for v in value]
    if kind == "flag":
        return bool(value)
    if kind in _SCALARS:
        return value.item() if hasattr(value, "item") else value
    if kind == "struct":
        return _to_obj(t["layout"], value, copy)
    if kind == "string":
        n = min(int(value["len"]), t["capacity"])
        return bytes(value["bytes"][:n]).decode("utf-8", errors="replace")
    if kind == "vec":
        n = min(int(value["len"]), t["capacity"])
        items = value["items"][:n]
        if t["elem"]["kind"] in _SCALARS and not t["elem"].get("shape"):
            arr = np.array(items, copy=True) if copy else items
            return arr.astype(bool) if t["elem"]["kind"] == "flag" else arr
        return [_from_record(t["elem"], v, copy) for v in items]
    raise SHMLayoutError(f"unknown field kind {kind!r}")


#: id(layout) -> (layout, its dtype, its message class), for the layouts
#: messages are encoded and decoded with (a class's, and the nested ones in
#: it): checking a layout and building its dtype cost tens of microseconds,
#: so they are done once per layout, not once per message. Keyed by identity
#: (the entry keeps the dict alive, so the id stays its own); cleared when it
#: grows past `_COMPILED_MAX` (callers passing a new dict each time).
_COMPILED: dict[int, tuple[Layout, np.dtype[Any], type[Any]]] = {}
_COMPILED_MAX = 4096


def _compiled(layout: Layout) -> tuple[np.dtype[Any], type[Any]]:
    entry = _COMPILED.get(id(layout))
    if entry is None or entry[0] is not layout:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        entry = _COMPILED[id(layout)] = (layout, dtype_of(layout), message_class(layout))
    return entry[1], entry[2]


def _to_obj(layout: Layout, rec: Any, copy: bool) -> Any:
    cls = _compiled(layout)[1]
    return cls(**{_py_name(f["name"]): _from_record(f, rec[f["name"]], copy) for f in layout["fields"]})


def decode(layout: Layout, data: Any) -> Any:
    """A message object (copied) from a frame's bytes."""
    dt, cls = _compiled(layout)
    rec = np.frombuffer(data, dtype=dt, count=1)[0]
    obj = _to_obj(layout, rec, copy=True)
    if layout.get("tail") is not None:
        setattr(obj, tail_name(cls) or TAIL_NAME, _tail_of(data, layout).copy())
    return obj


@overload
def view(sample: Any, msg_type: type[_M]) -> _M: ...
@overload
def view(sample: Any, msg_type: Layout) -> Any: ...


def view(sample: Any, msg_type: type[Any] | Layout) -> Any:
    """A message object whose array fields are read-only numpy views into a
    borrowed sample (``Subscriber.borrow()``): no copy. The views keep the
    sample, and so the slot, pinned while they live. A variable-size
    message's elements (exactly as many as were sent) are a view too."""
    layout = msg_type if isinstance(msg_type, dict) else layout_of(msg_type)
    rec = np.frombuffer(sample, dtype=_compiled(layout)[0], count=1)[0]
    obj = _to_obj(layout, rec, copy=False)
    if layout.get("tail") is not None:
        name = tail_name(msg_type if not isinstance(msg_type, dict) else _compiled(layout)[1])
        setattr(obj, name or TAIL_NAME, _tail_of(sample, layout))
    return obj


def writable(loan: Any, msg_type: type[Any] | Layout) -> np.void:
    """A writable numpy record over a loaned slot (``Publisher.loan()``):
    assign fields in place (``rec["pixels"][:] = frame``), then
    ``loan.send()``."""
    layout = msg_type if isinstance(msg_type, dict) else layout_of(msg_type)
    rec: np.void = np.frombuffer(loan, dtype=_compiled(layout)[0], count=1)[0]
    return rec


def _field_spec(layout: Layout, name: str) -> Layout:
    f: Layout
    for f in layout["fields"]:
        if f["name"] == name:
            return f
    raise KeyError(name)


def get_field(buf: Any, layout: Layout, name: str, dtype: np.dtype[Any] | None = None) -> Any:
    """Field ``name`` of the message in ``buf`` (a borrowed sample or a loan),
    in place: array fields are numpy views (read-only for a sample). What
    ``sample[name]`` and ``loan[name]`` use for fields that are not plain
    numbers. ``dtype``: ``dtype_of(layout)``, if the caller has it."""
    f = _field_spec(layout, name)
    rec = np.frombuffer(buf, dtype=dtype if dtype is not None else dtype_of(layout), count=1)[0]
    return _from_record(f, rec[name], copy=False)


def set_field(buf: Any, layout: Layout, name: str, value: Any,
              dtype: np.dtype[Any] | None = None) -> None:
    """Sets field ``name`` of the message in ``buf`` (a loan) to ``value``."""
    f = _field_spec(layout, name)
    rec = np.frombuffer(buf, dtype=dtype if dtype is not None else dtype_of(layout), count=1)[0]
    if f["kind"] in _SCALARS and not f.get("shape"):
        rec[name] = value
    else:
        _fill(f, rec[name], value, name)


def _fill(t: Layout, slot: Any, value: Any, where: str) -> None:
    kind = t["kind"]
    shape = t.get("shape") or ()
    if shape:
        if kind in _SCALARS:
            # dtype= keeps integers exact (a list of big u64s would go through float64).
            slot[...] = np.asarray(value, dtype=slot.dtype)
            return
        for i, v in enumerate(value):
            _fill(dict(t, shape=shape[1:]), slot[i], v, f"{where}[{i}]")
        return
    if kind == "opaque":
        raw = np.frombuffer(value, dtype="u1") if isinstance(value, (bytes, bytearray, memoryview)) \
            else np.ascontiguousarray(value).reshape(-1).view("u1")
        if raw.size != t["size"]:
            raise SHMSerializationError(f"`{where}`: {raw.size} bytes for an opaque field of {t['size']}")
        slot[...] = raw
    elif kind == "struct":
        _fill_struct(t["layout"], slot, value, where)
    elif kind == "string":
        b = str(value or "").encode("utf-8")
        if len(b) > t["capacity"]:
            raise SHMMessageTooLargeError(f"`{where}`: {len(b)} bytes do not fit FixedString<{t['capacity']}>")
        slot["len"] = len(b)
        slot["bytes"][: len(b)] = np.frombuffer(b, dtype="u1")
    elif kind == "vec":
        scalar = t["elem"]["kind"] in _SCALARS and not t["elem"].get("shape")
        items = value if value is not None else []
        if scalar:
            items = np.asarray(items, dtype=slot["items"].dtype)
        if len(items) > t["capacity"]:
            raise SHMMessageTooLargeError(f"`{where}`: {len(items)} items do not fit FixedVec<_, {t['capacity']}>")
        slot["len"] = len(items)
        if scalar:
            slot["items"][: len(items)] = items
        else:
            for i, v in enumerate(value):
                _fill(t["elem"], slot["items"][i], v, f"{where}[{i}]")


def _fill_struct(layout: Layout, rec: Any, obj: Any, where: str = "") -> None:
    get: Callable[[str], Any]
    if isinstance(obj, dict):
        get = obj.get
    elif isinstance(obj, np.void) and obj.dtype.names:
        names = obj.dtype.names
        get = lambda name: obj[name] if name in names else None  # noqa: E731
    elif any(hasattr(obj, _py_name(f["name"])) for f in layout["fields"]):
        get = lambda name: getattr(obj, _py_name(name), None)  # noqa: E731
    else:
        raise SHMSerializationError(
            f"`{where or layout['name']}`: cannot pack a {type(obj).__name__} as `{layout['name']}` "
            "(give a message object, a dict or a numpy record with its fields)")
    for f in layout["fields"]:
        name = f["name"]
        value = get(name)
        if value is None:
            continue
        path = f"{where}.{name}" if where else name
        if f["kind"] in _SCALARS and not f.get("shape"):
            rec[name] = value
        else:
            _fill(f, rec[name], value, path)


def encode(layout: Layout, obj: Any) -> bytes:
    """The bytes of ``obj`` (a message object or a dict) laid out per ``layout``;
    fields left ``None`` are zero. A variable-size message's bytes go on
    with the elements of its tail attribute (none if it is ``None``)."""
    dt, cls = _compiled(layout)
    arr = np.zeros(1, dtype=dt)
    _fill_struct(layout, arr[0], obj)
    tail = layout.get("tail")
    if tail is None:
        return arr.tobytes()
    name = getattr(type(obj), "__shm_tail__", None) or tail_name(cls) or TAIL_NAME
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    elems = np.zeros(0, dtype=tail_dtype(layout)) if value is None else value
    if not isinstance(elems, (bytes, bytearray, memoryview)):
        elems = np.ascontiguousarray(elems, dtype=tail_dtype(layout)).tobytes()
    return arr.tobytes() + bytes(tail["offset"] - layout["size"]) + bytes(elems)
