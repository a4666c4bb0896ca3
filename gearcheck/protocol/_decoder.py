"""Bytes to events, incrementally: the sans-I/O heart of gearcheck.

Strategy: the decoder owns one growing buffer and a read position. ``feed``
appends whatever arrived, in any chunking; ``next_event`` looks at the next
boundary and returns a complete ``Packet`` or ``AdminLine``, or ``None`` when
more bytes are needed. As gearmand does, the first byte at each boundary
decides the kind: ``\\0`` starts a 12-byte binary header, anything else an
admin line that ends at ``\\n`` (one ``\\r`` before it is dropped).

Nothing is allocated in proportion to a declared size: a header's size is
checked against ``max_payload`` before any payload is awaited, and payload
bytes are only ever the ones that actually arrived. Errors that break framing
(bad magic, unknown type, oversized, a line that never ends, EOF mid-packet)
are fatal and repeat on every later call; errors on a packet whose extent was
known (missing NUL separators, unexpected magic) are recoverable.

Byte spans: ``offset`` (the stream offset of the next unread byte) read before
and after ``next_event`` bounds exactly the bytes of the event it returned, or
of the packet a recoverable error was raised for; a fatal error consumes
nothing. That is how a caller that keeps its own copy of the bytes (the wire
layer, for transcripts) reports what really arrived, with no re-encoding and
at no cost to callers that do not ask.

Speed: servers and load generators call ``next_event`` once per packet, so a
complete, well-formed packet takes a fast path (one header unpack into three
integers, one dictionary lookup for type and arity, one payload slice, no
property calls); anything else (admin lines, partial headers, every
error) goes through the general path, which is the one that words the errors.
The buffer is the fed ``bytes`` object itself while nothing else is pending
(no copy on ``feed``, one slice per payload); only when a partial event must
wait for more input does it become a ``bytearray`` that grows in place.
"""

from __future__ import annotations

import struct

from ._errors import (
    AdminLineTooLongError,
    BadMagicError,
    MissingArgumentsError,
    PacketTooLargeError,
    ProtocolError,
    TruncatedPacketError,
    UnexpectedMagicError,
    UnknownPacketTypeError,
)
from ._packet import AdminLine, Event, Packet
from ._table import HEADER_SIZE, MAX_PACKET_TYPE, SPECS, Magic, PacketType

DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
DEFAULT_MAX_LINE = 64 * 1024

_TYPE_SIZE = struct.Struct(">II")
_MAGICS = {Magic.REQ.value: Magic.REQ, Magic.RES.value: Magic.RES}
_TYPES = {int(t): t for t in PacketType}
_ARITY = {t: SPECS[t].arity for t in PacketType}
_COMPACT_AT = 1 << 16
_SIZE = struct.Struct(">I")
# magic + type of a response packet, the first 8 bytes of its header (take_run)
_HEADER_PREFIX = {int(t): Magic.RES.value + struct.pack(">I", int(t)) for t in PacketType}
# next_event's fast path: the header as three integers (no bytes object for the magic),
# and one lookup from type number to (type, arity); its 12 is HEADER_SIZE as a literal
_HEADER_WORDS = struct.Struct(">III")
assert _HEADER_WORDS.size == HEADER_SIZE
_MAGIC_WORDS = {int.from_bytes(m.value, "big"): m for m in Magic}
_FAST = {int(t): (t, SPECS[t].arity) for t in PacketType}


class Decoder:
    """Incremental decoder for one direction of one connection."""

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 max_line: int = DEFAULT_MAX_LINE, expect_magic: Magic | None = None,
                 admin_lines: bool = True) -> None:
        self.max_payload = max_payload
        self.max_line = max_line
        self.expect_magic = expect_magic
        self.admin_lines = admin_lines
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._consumed = 0  # bytes consumed before _buf[0], for error offsets
        self._eof = False
        self._error: ProtocolError | None = None

    # -- input -------------------------------------------------------------
    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        if not data:
            return
        buf, pos = self._buf, self._pos
        if pos == len(buf):              # nothing pending: keep the caller's bytes as they are
            self._consumed += pos
            self._pos = 0
            self._buf = data if type(data) is bytes else bytes(data)
            return
        if type(buf) is bytes:           # a partial event waits: grow a bytearray from here on
            self._consumed += pos
            self._pos = 0
            self._buf = buf = bytearray(memoryview(buf)[pos:])
        buf += data

    def feed_eof(self) -> None:
        self._eof = True

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into an event."""
        return len(self._buf) - self._pos

    @property
    def offset(self) -> int:
        """Stream offset of the next unread byte."""
        return self._consumed + self._pos

    @property
    def at_eof(self) -> bool:
        """The peer closed and every byte was turned into an event."""
        return self._eof and self.buffered == 0

    @property
    def failed(self) -> ProtocolError | None:
        return self._error

    # -- output ------------------------------------------------------------
    def next_event(self) -> Event | None:
        if self._error is not None:
            raise self._error
        buf, pos = self._buf, self._pos
        have = len(buf)
        if have - pos >= 12 and not buf[pos]:
            magic_word, number, size = _HEADER_WORDS.unpack_from(buf, pos)
            kind = _FAST.get(number)
            magic = _MAGIC_WORDS.get(magic_word)
            if kind is not None and magic is not None and size <= self.max_payload:
                end = pos + 12 + size
                if end > have:
                    self._need_more()
                    return None
                payload = buf[pos + 12:end]
                if type(payload) is not bytes:
                    payload = bytes(payload)
                start = self._consumed + pos
                if end >= have:             # the common case: the buffer is used up
                    self._consumed += have
                    self._buf = b""
                    self._pos = 0
                elif end > _COMPACT_AT and type(buf) is bytearray:
                    self._consumed += end
                    del buf[:end]
                    self._pos = 0
                else:
                    self._pos = end
                ptype, arity = kind
                if arity == 1:
                    packet = Packet(magic, ptype, (payload,))
                elif arity == 0:
                    packet = Packet(magic, ptype, (), payload)
                else:
                    args = payload.split(b"\0", arity - 1)
                    if len(args) < arity:
                        raise MissingArgumentsError(
                            f"{ptype.name} at offset {start} needs {arity} arguments "
                            f"({', '.join(SPECS[ptype].args)}) but its {size}-byte payload "
                            f"has {len(args) - 1} NUL separator(s)",
                            packet_type=number, payload=payload, magic=magic.value, offset=start)
                    packet = Packet(magic, ptype, tuple(args))
                expect = self.expect_magic
                if expect is not None and magic is not expect:
                    raise UnexpectedMagicError(
                        f"{ptype.name} at offset {start} has {magic.value!r} magic, "
                        f"expected {expect.value!r}", packet=packet, offset=start)
                return packet
        if have == pos:
            return None
        return self._general_event()

    def take_run(self, ptype: PacketType, limit: int) -> list[bytes]:
        """The payloads of up to ``limit`` consecutive well-formed ``ptype`` packets (a
        one-argument response type such as JOB_CREATED) at the head of the buffer.

        A pipelining client gets hundreds of JOB_CREATED in one read; this takes them
        in one call and builds no ``Packet``. It stops, leaving the rest to
        ``next_event``, at anything else: another type, a partial packet, anything
        malformed, or a magic ``expect_magic`` would refuse."""
        if self._error is not None or limit <= 0 or self.expect_magic is Magic.REQ:
            return []
        buf, pos = self._buf, self._pos
        have = len(buf)
        number = int(ptype)
        want = _HEADER_PREFIX[number]
        max_payload = self.max_payload
        out: list[bytes] = []
        append = out.append
        unpack = _SIZE.unpack_from
        while len(out) < limit and have - pos >= HEADER_SIZE and buf[pos:pos + 8] == want:
            size = unpack(buf, pos + 8)[0]
            end = pos + HEADER_SIZE + size
            if size > max_payload or end > have:
                break
            append(bytes(buf[pos + HEADER_SIZE:end]))
            pos = end
        if out:
            self._advance(pos)
        return out

    def _general_event(self) -> Event | None:
        """Every case the fast path leaves: admin lines, partial input, and all errors."""
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail == 0:
            return None
        if buf[pos] != 0 and self.admin_lines:
            return self._next_line()
        if avail < HEADER_SIZE:
            if avail >= 4 and bytes(buf[pos:pos + 4]) not in _MAGICS:
                raise self._fatal(BadMagicError(
                    f"bad magic {bytes(buf[pos:pos + 4])!r} at offset {self.offset}: "
                    f"expected \\0REQ or \\0RES", offset=self.offset, raw=bytes(buf[pos:pos + 4])))
            self._need_more()
            return None
        magic = _MAGICS.get(bytes(buf[pos:pos + 4]))
        header = bytes(buf[pos:pos + HEADER_SIZE])
        if magic is None:
            raise self._fatal(BadMagicError(
                f"bad magic {header[:4]!r} at offset {self.offset}: expected \\0REQ or \\0RES",
                offset=self.offset, raw=header))
        number, size = _TYPE_SIZE.unpack_from(buf, pos + 4)
        ptype = _TYPES.get(number)
        if ptype is None:
            raise self._fatal(UnknownPacketTypeError(
                f"unknown packet type {number} at offset {self.offset} "
                f"(known types are 1..{MAX_PACKET_TYPE})", offset=self.offset, raw=header))
        if size > self.max_payload:
            raise self._fatal(PacketTooLargeError(
                f"{ptype.name} at offset {self.offset} declares a {size}-byte payload, "
                f"over the {self.max_payload}-byte limit", offset=self.offset, raw=header))
        end = pos + HEADER_SIZE + size
        if len(buf) < end:
            self._need_more()
            return None
        payload = bytes(buf[pos + HEADER_SIZE:end])
        start = self.offset
        self._advance(end)
        arity = _ARITY[ptype]
        if arity == 0:
            packet = Packet(magic, ptype, (), payload)
        else:
            args = tuple(payload.split(b"\0", arity - 1))
            if len(args) < arity:
                raise MissingArgumentsError(
                    f"{ptype.name} at offset {start} needs {arity} arguments "
                    f"({', '.join(SPECS[ptype].args)}) but its {size}-byte payload has "
                    f"{len(args) - 1} NUL separator(s)",
                    packet_type=number, payload=payload, magic=magic.value, offset=start)
            packet = Packet(magic, ptype, args)
        if self.expect_magic is not None and magic is not self.expect_magic:
            raise UnexpectedMagicError(
                f"{ptype.name} at offset {start} has {magic.value!r} magic, "
                f"expected {self.expect_magic.value!r}", packet=packet, offset=start)
        return packet

    def events(self) -> list[Event]:
        """Every complete event buffered now (stops at the first error, which it raises)."""
        out: list[Event] = []
        while (event := self.next_event()) is not None:
            out.append(event)
        return out

    def __iter__(self):  # type: ignore[no-untyped-def]
        while (event := self.next_event()) is not None:
            yield event

    # -- internals ---------------------------------------------------------
    def _next_line(self) -> Event | None:
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\n", pos, pos + self.max_line + 1)
        if nl < 0:
            if len(buf) - pos > self.max_line:
                raise self._fatal(AdminLineTooLongError(
                    f"admin line at offset {self.offset} is longer than {self.max_line} bytes "
                    f"with no newline", offset=self.offset, raw=bytes(buf[pos:pos + 64])))
            self._need_more()
            return None
        end = nl
        if end > pos and buf[end - 1] == 0x0D:
            end -= 1
        text = bytes(buf[pos:end])
        self._advance(nl + 1)
        return AdminLine(text)

    def _need_more(self) -> None:
        """No complete event yet: fine, unless the peer closed in the middle of one."""
        if self._eof and self.buffered:
            what = "an admin line" if self._buf[self._pos] != 0 else "a binary packet"
            raise self._fatal(TruncatedPacketError(
                f"connection closed in the middle of {what}: {self.buffered} byte(s) "
                f"left at offset {self.offset}", offset=self.offset,
                raw=bytes(self._buf[self._pos:self._pos + HEADER_SIZE])))

    def _advance(self, new_pos: int) -> None:
        buf = self._buf
        if new_pos >= len(buf):
            self._consumed += len(buf)
            self._buf = b""
            self._pos = 0
        elif new_pos > _COMPACT_AT and type(buf) is bytearray:
            self._consumed += new_pos
            del buf[:new_pos]
            self._pos = 0
        else:
            self._pos = new_pos

    def _fatal(self, error: ProtocolError) -> ProtocolError:
        """Remember a framing error: every later call raises it again."""
        self._error = error
        return error
