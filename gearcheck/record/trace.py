"""The trace format: one JSON line per Gearman packet, admin line or connection event.

Strategy: a trace is a JSON-lines file. The first line is a header
(``{"gearcheck_trace": 1, "source": ..., "start": EPOCH, ...}``); every other
line is one record with ``t`` (seconds since ``start``), ``conn`` (a number
per TCP connection, in the order they opened) and either
  ``event``  open (with ``client`` and ``server`` addresses, and the proxy's own
             end towards the server as ``via``), eof (``dir``: that
             direction's sender closed its side) or close;
  ``type``   a binary packet: ``dir``, ``magic``, ``size`` (payload bytes),
             ``bytes`` (on the wire) and ``args`` by their names in the
             packet table (``extra`` for payload bytes of a type without
             arguments);
  ``line``   an admin text line (without its line ending), with ``dir``;
  ``error``  bytes the codec could not frame, with ``dir``, ``offset`` and
             ``raw`` (hex, up to RAW_LIMIT bytes); a packet with too few NULs is
             skipped over, anything else ends the decoding of that direction,
             and what comes after it is kept as ``raw`` records (hex).
``dir`` is ``to_server`` or ``to_client`` (the capture module's names).

Byte values (arguments, admin lines) are JSON strings when they are UTF-8 and
``{"b64": ...}`` otherwise, so every byte comes back exactly. A trace recorded
without payloads keeps ``{"len": N}`` for each ``data`` argument instead.

``TraceRecorder`` is sans-I/O: the proxy and the pcap reader feed it bytes per
connection and direction with the time they arrived; it frames them with the
codec's ``Decoder`` (the only code that knows the wire) and hands each record
to a sink. ``read_trace`` reads a file back with ``file:line`` errors.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..protocol import (
    AdminLine,
    Decoder,
    Magic,
    MissingArgumentsError,
    Packet,
    ProtocolError,
    encode_raw,
)
from ..protocol.capture import Direction

TRACE_VERSION = 1
PAYLOAD_ARGS = frozenset({"data"})
RAW_LIMIT = 64 * 1024
# A recording must see what the peers really sent: the limit only stops absurd sizes.
_MAX_PAYLOAD = 1 << 30
HEADER_TAIL = 64  # bytes kept from the previous chunk: a bad header may straddle two

Record = dict[str, Any]
Sink = Callable[[Record], None]


class TraceError(ValueError):
    """A trace file that cannot be read; the message names the file and line."""


# -- byte values ---------------------------------------------------------------

def encode_bytes(value: bytes) -> str | dict[str, str]:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode("ascii")}


def decode_bytes(value: Any) -> bytes | None:
    """The bytes of a recorded value; None when only its length was recorded."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        if "b64" in value:
            return base64.b64decode(value["b64"])
        if "len" in value:
            return None
    raise TraceError(f"not a recorded byte value: {value!r}")


def value_length(value: Any) -> int:
    if isinstance(value, dict) and "len" in value:
        return int(value["len"])
    data = decode_bytes(value)
    return len(data) if data is not None else 0


# -- records -------------------------------------------------------------------

def packet_record(t: float, conn: int, direction: Direction, packet: Packet, wire_bytes: int,
                  *, keep_payloads: bool = True) -> Record:
    args: dict[str, Any] = {}
    for name, value in packet.named_args().items():
        if name in PAYLOAD_ARGS and not keep_payloads:
            args[name] = {"len": len(value)}
        else:
            args[name] = encode_bytes(value)
    record: Record = {"t": round(t, 6), "conn": conn, "dir": direction.value,
                      "type": packet.name,
                      "magic": "REQ" if packet.magic is Magic.REQ else "RES",
                      "size": len(packet.payload), "bytes": wire_bytes, "args": args}
    if packet.extra:
        record["extra"] = encode_bytes(packet.extra) if keep_payloads else {
            "len": len(packet.extra)}
    return record


def admin_record(t: float, conn: int, direction: Direction, line: AdminLine) -> Record:
    return {"t": round(t, 6), "conn": conn, "dir": direction.value,
            "line": encode_bytes(line.text)}


def arg(record: Record, name: str) -> bytes | None:
    """A packet record's argument as bytes (None when only its length was kept)."""
    return decode_bytes(record["args"][name])


def arg_text(record: Record, name: str) -> str:
    """An argument as text (for names: function, handle, unique)."""
    value = record["args"][name]
    if isinstance(value, str):
        return value
    data = decode_bytes(value)
    return (data or b"").decode("utf-8", "backslashreplace")


# -- the recorder ----------------------------------------------------------------

@dataclass
class _Tap:
    """One direction of one connection: a decoder and what it could not frame."""

    decoder: Decoder = field(default_factory=lambda: Decoder(max_payload=_MAX_PAYLOAD))
    failed: bool = False
    undecoded: int = 0
    bytes_seen: int = 0
    tail: bytes = b""  # the last bytes fed before the current chunk (for an error's raw)


@dataclass
class _Conn:
    taps: dict[Direction, _Tap] = field(
        default_factory=lambda: {Direction.TO_SERVER: _Tap(), Direction.TO_CLIENT: _Tap()})
    open: bool = True


class TraceRecorder:
    """Bytes per connection and direction in, trace records out (to ``sink``)."""

    def __init__(self, sink: Sink, start: float, *, keep_payloads: bool = True) -> None:
        self.sink = sink
        self.start = start
        self.keep_payloads = keep_payloads
        self._conns: dict[int, _Conn] = {}
        self._next = 1
        self.packets = 0
        self.errors = 0

    def _t(self, when: float) -> float:
        return round(when - self.start, 6)

    def open(self, when: float, client: str, server: str, via: str | None = None) -> int:
        """A new connection; ``via`` is the proxy's own end towards the server."""
        conn = self._next
        self._next += 1
        self._conns[conn] = _Conn()
        record: Record = {"t": self._t(when), "conn": conn, "event": "open", "client": client,
                          "server": server}
        if via is not None:
            record["via"] = via
        self.sink(record)
        return conn

    def data(self, conn: int, direction: Direction, when: float, data: bytes) -> None:
        tap = self._conns[conn].taps[direction]
        chunk_start = tap.bytes_seen
        tap.bytes_seen += len(data)
        if tap.failed:
            tap.undecoded += len(data)
            self.sink({"t": self._t(when), "conn": conn, "dir": direction.value,
                       **self._raw(data)})
            return
        tap.decoder.feed(data)
        self._drain(conn, direction, tap, when, data, chunk_start)
        tap.tail = data[-HEADER_TAIL:]

    def _raw(self, data: bytes) -> Record:
        if not self.keep_payloads:
            return {"raw_len": len(data)}
        record: Record = {"raw": data[:RAW_LIMIT].hex()}
        if len(data) > RAW_LIMIT:
            record["raw_len"] = len(data)
        return record

    def _drain(self, conn: int, direction: Direction, tap: _Tap, when: float, chunk: bytes,
               chunk_start: int) -> None:
        decoder = tap.decoder
        t = self._t(when)
        while True:
            start = decoder.offset
            try:
                event = decoder.next_event()
            except ProtocolError as exc:
                self.errors += 1
                record: Record = {"t": t, "conn": conn, "dir": direction.value,
                                  "error": str(exc), "offset": start}
                if isinstance(exc, MissingArgumentsError):
                    record["bytes"] = decoder.offset - start
                    record.update(self._raw(encode_raw(exc.magic, exc.packet_type,
                                                       exc.payload)))
                    self.sink(record)
                    continue
                if exc.recoverable:
                    record["bytes"] = decoder.offset - start
                    self.sink(record)
                    continue
                tap.failed = True
                tap.undecoded += decoder.buffered
                # The unframed bytes: from the error's offset to the end of this chunk.
                window = tap.tail + chunk
                skip = start - (chunk_start - len(tap.tail))
                record.update(self._raw(window[max(0, skip):]))
                self.sink(record)
                return
            if event is None:
                return
            self.packets += 1
            if isinstance(event, Packet):
                self.sink(packet_record(t, conn, direction, event, decoder.offset - start,
                                        keep_payloads=self.keep_payloads))
            else:
                self.sink(admin_record(t, conn, direction, event))

    def eof(self, conn: int, direction: Direction, when: float) -> None:
        """The sender of ``direction`` closed its side."""
        state = self._conns.get(conn)
        if state is None:
            return
        tap = state.taps[direction]
        record: Record = {"t": self._t(when), "conn": conn, "event": "eof",
                          "dir": direction.value}
        if not tap.failed and tap.decoder.buffered:
            record["partial_bytes"] = tap.decoder.buffered  # a packet cut off by the close
        self.sink(record)

    def close(self, conn: int, when: float) -> None:
        state = self._conns.pop(conn, None)
        if state is None:
            return
        record: Record = {"t": self._t(when), "conn": conn, "event": "close",
                          "bytes_to_server": state.taps[Direction.TO_SERVER].bytes_seen,
                          "bytes_to_client": state.taps[Direction.TO_CLIENT].bytes_seen}
        undecoded = sum(tap.undecoded for tap in state.taps.values())
        if undecoded:
            record["undecoded_bytes"] = undecoded
        self.sink(record)

    def close_all(self, when: float) -> None:
        for conn in list(self._conns):
            self.close(conn, when)


# -- files -----------------------------------------------------------------------

def header(source: str, start: float, **meta: Any) -> Record:
    return {"gearcheck_trace": TRACE_VERSION, "source": source, "start": start,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(start)),
            **meta}


class TraceWriter:
    """Writes records as JSON lines; flushed at least every ``flush_every`` seconds."""

    def __init__(self, path: str | os.PathLike[str], head: Record,
                 flush_every: float = 1.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        self._flush_every = flush_every
        self._flushed = time.monotonic()
        self.records = 0
        self.write(head)

    def write(self, record: Record) -> None:
        self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
        self._file.write("\n")
        self.records += 1
        now = time.monotonic()
        if now - self._flushed >= self._flush_every:
            self._file.flush()
            self._flushed = now

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


@dataclass
class Trace:
    path: str
    header: Record
    records: list[Record]

    @property
    def start(self) -> float:
        return float(self.header.get("start", 0.0))

    def connections(self) -> list[int]:
        seen: dict[int, None] = {}
        for r in self.records:
            seen.setdefault(int(r["conn"]), None)
        return list(seen)

    def packets(self) -> Iterator[Record]:
        return (r for r in self.records if "type" in r)


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """A trace file, checked line by line (TraceError names file:line and the problem)."""
    name = str(path)
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise TraceError(f"{name}: cannot read the trace: {exc.strerror or exc}") from None
    records: list[Record] = []
    head: Record | None = None
    with handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                raise TraceError(f"{name}:{number}: not a JSON line: {exc}") from None
            if not isinstance(record, dict):
                raise TraceError(f"{name}:{number}: a trace line is a JSON object")
            if head is None:
                if record.get("gearcheck_trace") != TRACE_VERSION:
                    raise TraceError(f"{name}:{number}: not a gearcheck trace (the first line "
                                     f"must be a header with \"gearcheck_trace\": "
                                     f"{TRACE_VERSION}; write one with gearcheck record)")
                head = record
                continue
            problem = _check(record)
            if problem:
                raise TraceError(f"{name}:{number}: {problem}")
            records.append(record)
    if head is None:
        raise TraceError(f"{name}: empty file, not a gearcheck trace")
    return Trace(name, head, records)


_DIRECTIONS = {d.value for d in Direction}


def _check(record: Record) -> str | None:
    for key, kind in (("t", (int, float)), ("conn", int)):
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            return f"field {key!r} is missing or not a number"
    if "event" in record:
        if record["event"] not in ("open", "eof", "close"):
            return f"unknown event {record['event']!r} (open, eof or close)"
        return None
    if record.get("dir") not in _DIRECTIONS:
        return f"field 'dir' must be one of {sorted(_DIRECTIONS)}"
    if "type" in record:
        if not isinstance(record.get("args"), dict):
            return "a packet record needs 'args'"
        for value in record["args"].values():
            try:
                decode_bytes(value)
            except (TraceError, ValueError):
                return f"argument value {value!r} is not text, {{b64}} or {{len}}"
        return None
    if "line" in record or "error" in record or "raw" in record or "raw_len" in record:
        return None
    return "a record needs 'event', 'type', 'line', 'error' or 'raw'"
