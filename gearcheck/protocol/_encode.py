"""Packet to bytes.

Strategy: a header is ``magic + struct(">II", type, size)`` followed by the
arguments joined with NUL. ``encode_raw`` takes any magic, type number and
payload, including nonsense, for the tests and scenarios that want to send
malformed input; ``encode`` is the path every well-formed packet takes.
"""

from __future__ import annotations

import struct

from ._packet import Packet
from ._table import Magic, PacketType

_HEADER = struct.Struct(">4sII")


def encode(packet: Packet) -> bytes:
    payload = b"\0".join(packet.args)
    if packet.extra:
        payload += packet.extra
    return _HEADER.pack(packet.magic.value, packet.type, len(payload)) + payload


def encode_fields(ptype: PacketType, args: tuple[bytes, ...], magic: Magic = Magic.REQ) -> bytes:
    """``encode(Packet(magic, ptype, args))`` without building the Packet: the hot path
    of a load generator that answers every job with a packet or two."""
    payload = b"\0".join(args)
    return _HEADER.pack(magic.value, ptype, len(payload)) + payload


def encode_raw(magic: bytes, ptype: int, payload: bytes, *, size: int | None = None) -> bytes:
    """A packet with any magic, type and payload; ``size`` overrides the declared length."""
    declared = len(payload) if size is None else size
    return _HEADER.pack(bytes(magic), ptype & 0xFFFFFFFF, declared & 0xFFFFFFFF) + payload


def encode_header(magic: bytes, ptype: int, size: int) -> bytes:
    return _HEADER.pack(magic if type(magic) is bytes else bytes(magic), ptype, size)
