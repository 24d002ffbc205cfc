"""Read bridged shm-comm samples with a plain Zenoh subscriber.

A ``shmc-bridge`` puts each sample of an exported topic on the Zenoh key
``<domain>/<topic name>``: the payload is the slot's bytes, the attachment
a 40-byte header (layout hash, sequence number, origin bridge, codec). This
module turns such a sample into what a ``shm_comm`` subscriber on the
topic would give: the message dataclass of a typed topic (fetching the
layout once per hash from the bridges' ``<domain>/@layout/<hash>``
queryable), or the object of a dynamic frame.

Needs the ``zenoh`` extra (``pip install "shm-comm[zenoh]"``, which brings
``eclipse-zenoh``)::

    import zenoh
    from shm_comm.zenoh import Decoder

    session = zenoh.open(zenoh.Config.from_json5('{"mode": "client", "connect": '
                                                 '{"endpoints": ["tcp/127.0.0.1:7447"]}}'))
    decoder = Decoder(session, domain="shm")
    with session.declare_subscriber("shm/robot/imu") as sub:
        imu = decoder.decode(sub.recv())   # shm_comm.msgs.Imu
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, NamedTuple

from . import _native, typed

__all__ = ["BridgeHeader", "Decoder", "parse_header", "HEADER_LEN"]

_HEADER = struct.Struct("<4sBBHQQQII")
#: Size of the bridge header in bytes.
HEADER_LEN = _HEADER.size

_SAMPLE = 1
_RAW, _MSGPACK, _PICKLE, _TYPED = 0, 1, 2, 3


class BridgeHeader(NamedTuple):
    """The attachment of a bridged message (see the bridge's ``wire`` docs)."""

    kind: int
    codec: int
    hash: int
    seq: int
    origin: int
    a: int
    b: int


def parse_header(data: bytes) -> BridgeHeader:
    """Reads and checks a bridge header; ``ValueError`` if it is not one."""
    if len(data) != HEADER_LEN:
        raise ValueError(f"bridge header of {len(data)} bytes, expected {HEADER_LEN}")
    magic, version, kind, codec, h, seq, origin, a, b = _HEADER.unpack(data)
    if magic != b"SHMZ" or version != 1:
        raise ValueError(f"not a bridge header (magic {magic!r}, version {version})")
    return BridgeHeader(kind, codec, h, seq, origin, a, b)


class Decoder:
    """Decodes bridged samples; fetches and caches layouts by hash.

    ``session`` is an open ``zenoh.Session``; ``domain`` the bridges'
    key prefix; ``timeout`` how long a layout fetch waits, in seconds.
    ``allow_pickle`` unpickles pickle frames (which runs code from the
    sender: off by default, such frames are a ``ValueError``).
    """

    def __init__(self, session: Any, domain: str = "shm", timeout: float = 2.0,
                 allow_pickle: bool = False) -> None:
        self._session = session
        self._domain = domain
        self._timeout = timeout
        self._allow_pickle = allow_pickle
        self._layouts: dict[int, dict[str, Any]] = {}

    def layout(self, layout_hash: int) -> dict[str, Any]:
        """The layout dict of ``layout_hash``, fetched once from the bridges."""
        cached = self._layouts.get(layout_hash)
        if cached is not None:
            return cached
        key = f"{self._domain}/@layout/{layout_hash:016x}"
        for reply in self._session.get(key, timeout=self._timeout):
            if reply.ok is None:
                continue
            layout = _native.decode_layout(reply.ok.payload.to_bytes())
            if layout["hash"] != layout_hash:
                continue
            self._layouts[layout_hash] = layout
            return layout
        raise LookupError(f"{key}: no bridge served the layout within {self._timeout} s")

    def header(self, sample: Any) -> BridgeHeader:
        """The bridge header of a Zenoh sample."""
        if sample.attachment is None:
            raise ValueError(f"{sample.key_expr}: no bridge header (not a bridged sample)")
        return parse_header(sample.attachment.to_bytes())

    def decode(self, sample: Any) -> Any:
        """The message a ``shm_comm`` subscriber would give for ``sample``."""
        h = self.header(sample)
        if h.kind != _SAMPLE:
            raise ValueError(f"{sample.key_expr}: not a topic sample (kind {h.kind})")
        data = sample.payload.to_bytes()
        if h.hash != 0:
            layout = self.layout(h.hash)
            if len(data) != layout["size"]:
                raise ValueError(f"{sample.key_expr}: {len(data)} bytes for a "
                                 f"{layout['size']}-byte {layout['name']}")
            return typed.decode(layout, data)
        if h.codec == _MSGPACK:
            return _native.decode_msgpack(data)
        if h.codec == _PICKLE:
            if not self._allow_pickle:
                raise ValueError(f"{sample.key_expr}: a pickle frame; unpickling runs the "
                                 "sender's code: pass allow_pickle=True to accept it")
            return pickle.loads(data)
        return data
