"""Actors: the named connections of one case, and the transcript they share.

Strategy: an ``Actor`` wraps one ``wire.Connection`` plus a ``pending`` queue
of events that were received but not yet consumed by a step, each with its
arrival time. Steps read through ``next_event`` (pending first, then the
socket), and can push events back (``unread``): that is how an expectation
that matched nothing hands its packets to the next alternative or step.
End of stream and framing errors become sticky markers (``Closed``,
``Garbage``) so every later read sees them too.

Every byte sent and every event received is appended to the case's
``Transcript`` through the connection's observer, with the time since the
case started, the actor's name, a decoded summary and the raw hex; opening,
closing, EOF and garbage are recorded as "note" entries. An actor can also
wrap a connection the harness accepted (a mirrored case, where the harness is
the server and ``peer`` is the library).
"""

from __future__ import annotations

import select
import socket
import time
from collections import deque
from dataclasses import dataclass

from ..protocol import AdminLine, Decoder, Event, Packet, ProtocolError, encode
from ..results import TranscriptEntry
from ..wire import Address, Connection, ConnectionClosed, Observer, ReceiveTimeout

MAX_HEX_IN_TRANSCRIPT = 4096  # bytes of raw hex kept per entry (larger payloads are cut)


class Closed:
    """The peer closed the connection (end of stream)."""

    def __repr__(self) -> str:
        return "<connection closed>"


@dataclass
class Garbage:
    """The peer sent bytes that are not Gearman framing."""

    error: ProtocolError

    def __repr__(self) -> str:
        return f"<not Gearman framing: {self.error}>"


Item = Event | Closed | Garbage


@dataclass
class Arrival:
    item: Item
    at: float  # time.monotonic() when it was read


def summarize(event: Event | None, raw: bytes) -> dict[str, object]:
    if isinstance(event, Packet):
        summary = dict(event.describe())
        if event.extra:
            summary["extra_hex"] = event.extra[:64].hex()
        return summary
    if isinstance(event, AdminLine):
        from ..protocol import printable

        return {"line": printable(event.text)}
    return describe_raw(raw)


def describe_raw(raw: bytes) -> dict[str, object]:
    """What a raw write would decode to, for the transcript of malformed sends."""
    decoder = Decoder(admin_lines=True)
    decoder.feed(raw)
    events: list[dict[str, object]] = []
    try:
        while (ev := decoder.next_event()) is not None:
            events.append(summarize(ev, b""))
    except ProtocolError as exc:
        return {"raw": len(raw), "decodes_to": events, "malformed": str(exc)}
    if len(events) == 1 and not decoder.buffered:
        return events[0]
    out: dict[str, object] = {"raw": len(raw), "decodes_to": events}
    if decoder.buffered:
        out["partial_bytes"] = decoder.buffered
    return out


class Transcript:
    def __init__(self) -> None:
        self.start = time.time()
        self.entries: list[TranscriptEntry] = []

    def add(self, actor: str, direction: str, summary: dict[str, object],
            raw: bytes = b"", at: float | None = None) -> None:
        t = (at if at is not None else time.time()) - self.start
        hexed = raw[:MAX_HEX_IN_TRANSCRIPT].hex()
        if len(raw) > MAX_HEX_IN_TRANSCRIPT:
            summary = {**summary, "raw_truncated_from": len(raw)}
        self.entries.append(TranscriptEntry(round(t, 6), actor, direction, summary, hexed))

    def note(self, actor: str, text: str, **extra: object) -> None:
        self.add(actor, "note", {"note": text, **extra})


def _observer(name: str, transcript: Transcript) -> Observer:
    def observer(direction: str, ts: float, event: Event | None, raw: bytes) -> None:
        transcript.add(name, direction, summarize(event, raw), raw, at=ts)
    return observer


class Actor:
    peer = "the server"  # who is at the other end, for messages

    def __init__(self, name: str, conn: Connection, transcript: Transcript) -> None:
        self.name = name
        self.conn = conn
        self.transcript = transcript
        self.pending: deque[Arrival] = deque()
        self.ended: Arrival | None = None  # sticky Closed / Garbage

    @classmethod
    def open(cls, name: str, address: Address, transcript: Transcript,
             connect_timeout: float) -> Actor:
        conn = Connection.open(address, timeout=connect_timeout,
                               observer=_observer(name, transcript))
        actor = cls(name, conn, transcript)
        local = conn.sock.getsockname()
        transcript.note(name, "connected", local=f"{local[0]}:{local[1]}", server=str(address))
        return actor

    @classmethod
    def accepted(cls, name: str, sock: socket.socket, transcript: Transcript,
                 peer: str) -> Actor:
        """An actor over a connection the harness accepted from ``peer``."""
        host, port = sock.getpeername()[:2]
        conn = Connection(sock, address=Address(host, port), observer=_observer(name, transcript))
        actor = cls(name, conn, transcript)
        actor.peer = peer
        transcript.note(name, "accepted", remote=f"{host}:{port}")
        return actor

    @property
    def closed_by_us(self) -> bool:
        return self.conn.closed

    # -- sending -------------------------------------------------------------
    def send_bytes(self, data: bytes, chunk: int | None = None) -> None:
        if not chunk or chunk >= len(data):
            self.conn.send_raw(data)
            return
        for i in range(0, len(data), chunk):
            self.conn.send_raw(data[i:i + chunk])
            time.sleep(0.001)

    def send_packets(self, packets: list[Packet], chunk: int | None = None) -> None:
        if chunk:
            self.send_bytes(b"".join(encode(p) for p in packets), chunk)
        elif len(packets) == 1:
            self.conn.send(packets[0])
        else:
            self.conn.send_many(packets)

    # -- receiving -------------------------------------------------------------
    def has_buffered(self) -> bool:
        return bool(self.pending) or self.ended is not None or self.conn.decoder.buffered > 0

    def next_event(self, until: float) -> Arrival | None:
        """The next arrival, or None when ``until`` (monotonic) passes first."""
        if self.pending:
            return self.pending.popleft()
        if self.ended is not None:
            return self.ended
        remaining = until - time.monotonic()
        try:
            event = self.conn.recv(max(remaining, 0.0))
        except ReceiveTimeout:
            return None
        except ConnectionClosed:
            self.ended = Arrival(Closed(), time.monotonic())
            self.transcript.note(self.name, f"closed by {self.peer}")
            return self.ended
        except ProtocolError as exc:
            self.ended = Arrival(Garbage(exc), time.monotonic())
            self.transcript.add(self.name, "recv", {"garbage": str(exc)}, exc.raw)
            return self.ended
        except OSError as exc:
            self.ended = Arrival(Closed(), time.monotonic())
            self.transcript.note(self.name, f"connection error: {exc}")
            return self.ended
        return Arrival(event, time.monotonic())

    def unread(self, arrivals: list[Arrival]) -> None:
        """Put arrivals back, in order, in front of anything still pending."""
        for arrival in reversed(arrivals):
            if arrival is self.ended:
                continue
            self.pending.appendleft(arrival)

    def fileno(self) -> int:
        return self.conn.sock.fileno()

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()
            self.transcript.note(self.name, "closed by the case")


def wait_readable(actors: list[Actor], until: float) -> list[Actor]:
    """Actors with something to read (buffered or on the socket) before ``until``."""
    ready = [a for a in actors if a.has_buffered()]
    if ready:
        return ready
    remaining = until - time.monotonic()
    if remaining <= 0:
        return []
    live = [a for a in actors if not a.conn.closed]
    if not live:
        return []
    try:
        readable, _, _ = select.select(live, [], [], remaining)
    except (OSError, ValueError):
        return live
    return list(readable)
