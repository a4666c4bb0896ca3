"""Actors: the named connections of one case, and the transcript they share.

Strategy: an ``Actor`` wraps one ``wire.Connection`` plus a ``pending`` queue
of events that were received but not yet consumed by a step, each with its
arrival time. Steps read through ``next_event`` (pending first, then the
socket), and can push events back (``unread``): that is how an expectation
that matched nothing hands its packets to the next alternative or step.
The end of the stream (the wire's ``END_OF_STREAM``) and framing errors
(``Garbage``) are sticky, so every later read sees them too.

The transcript is written by the connection's observer: every write with the
bytes written and what the step said they are (a packet it built, an admin
line, the scenario's raw or malformed bytes: never a decoding of what was
just encoded), every event read with the bytes the decoder consumed for it
(never a re-encoding), the end of the stream once, as a "recv" with no
bytes. Each entry has the wall-clock time of the write or read. Opening
(``connected``: we opened it; ``accepted``: the peer did, a mirrored case
where the harness is the server and ``peer`` is the library) and closing by
the case are "note" entries that carry the socket's real local and peer
endpoints; the writes and reads in between are the actor's, on that
connection (once per connection, not per entry: a 10,000-row admin reply is
10,000 entries). So a capture can be rebuilt as it was on the wire
(report.pcap).
"""

from __future__ import annotations

import select
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..protocol import AdminLine, Event, Packet, ProtocolError, encode, printable
from ..results import NOTE_ACCEPTED, NOTE_CLOSED, NOTE_CONNECTED, TranscriptEntry
from ..wire import (
    END_OF_STREAM,
    Address,
    Connection,
    ConnectionClosed,
    EndOfStream,
    ReceiveTimeout,
)
from .restarts import open_riding_restarts

MAX_HEX_IN_TRANSCRIPT = 4096  # bytes of raw hex kept per entry (larger payloads are cut)


@dataclass
class Garbage:
    """The peer sent bytes that are not Gearman framing."""

    error: ProtocolError

    def __repr__(self) -> str:
        return f"<not Gearman framing: {self.error}>"


Item = Event | EndOfStream | Garbage


@dataclass
class Arrival:
    item: Item
    at: float  # time.monotonic() when it was read


def summarize(what: object, raw: bytes, peer: str = "the server") -> dict[str, object]:
    """The transcript's summary of one write or read (``what``: see ``wire.Observer``)."""
    if isinstance(what, Packet):
        return packet_summary(what)
    if isinstance(what, AdminLine):
        return {"line": printable(what.text)}
    if what is END_OF_STREAM:
        return {"note": f"closed by {peer}"}
    if isinstance(what, ProtocolError):
        return {"garbage": str(what)}
    if isinstance(what, Mapping):
        return dict(what)
    if isinstance(what, Sequence) and all(isinstance(p, Packet) for p in what):
        return {"packets": [packet_summary(p) for p in what]}
    return {"raw": len(raw)}


def packet_summary(packet: Packet) -> dict[str, object]:
    summary = dict(packet.describe())
    if packet.extra:
        summary["extra_hex"] = packet.extra[:64].hex()
    return summary


class Transcript:
    def __init__(self) -> None:
        self.start = time.time()
        self.entries: list[TranscriptEntry] = []

    def add(self, actor: str, direction: str, summary: dict[str, object],
            raw: bytes = b"", at: float | None = None, local: str | None = None,
            peer: str | None = None) -> None:
        wall = at if at is not None else time.time()
        hexed = raw[:MAX_HEX_IN_TRANSCRIPT].hex()
        if len(raw) > MAX_HEX_IN_TRANSCRIPT:
            summary = {**summary, "raw_truncated_from": len(raw)}
        self.entries.append(TranscriptEntry(
            round(wall - self.start, 6), actor, direction, summary, hexed, wall=wall,
            local=local, peer=peer))

    def note(self, actor: str, text: str, **extra: object) -> None:
        self.add(actor, "note", {"note": text, **extra})


Tap = Callable[[str, object, bytes], None]
"""Hears every write and read of a connection too: ``tap(direction, what, raw)``."""


class _Recorder:
    """A connection's observer: each write and read becomes a transcript entry (and goes
    to the tap, when there is one)."""

    def __init__(self, actor: str, transcript: Transcript, peer_name: str,
                 tap: Tap | None = None) -> None:
        self.actor = actor
        self.transcript = transcript
        self.peer_name = peer_name
        self.tap = tap
        self.local: str | None = None  # the connection's endpoints, once it has them
        self.peer: str | None = None

    def bind(self, conn: Connection) -> None:
        self.local = str(conn.local) if conn.local is not None else None
        self.peer = str(conn.peer) if conn.peer is not None else None

    def __call__(self, direction: str, wall: float, what: object, raw: bytes) -> None:
        if self.tap is not None:
            self.tap(direction, what, raw)
        self.transcript.add(self.actor, direction, summarize(what, raw, self.peer_name), raw,
                            at=wall)

    def note(self, text: str, at: float | None = None, **extra: object) -> None:
        self.transcript.add(self.actor, "note", {"note": text, **extra}, at=at,
                            local=self.local, peer=self.peer)


class Actor:
    peer = "the server"  # who is at the other end, for messages

    def __init__(self, name: str, conn: Connection, transcript: Transcript,
                 recorder: _Recorder | None = None) -> None:
        self.name = name
        self.conn = conn
        self.transcript = transcript
        self.recorder = recorder or _Recorder(name, transcript, self.peer)
        self.pending: deque[Arrival] = deque()
        self.ended: Arrival | None = None  # sticky END_OF_STREAM / Garbage

    @classmethod
    def open(cls, name: str, address: Address, transcript: Transcript,
             connect_timeout: float, tap: Tap | None = None) -> Actor:
        recorder = _Recorder(name, transcript, cls.peer, tap)
        connecting = time.time()  # the note's time is the SYN's, not the handshake's end
        conn = open_riding_restarts(address, timeout=connect_timeout, observer=recorder)
        recorder.bind(conn)
        actor = cls(name, conn, transcript, recorder)
        recorder.note(NOTE_CONNECTED, at=connecting, local=str(conn.local), server=str(address))
        return actor

    @classmethod
    def accepted(cls, name: str, sock: socket.socket, transcript: Transcript,
                 peer: str) -> Actor:
        """An actor over a connection the harness accepted from ``peer``."""
        recorder = _Recorder(name, transcript, peer)
        remote = Address.of_socket(sock, peer=True)
        conn = Connection(sock, address=remote, observer=recorder)
        recorder.bind(conn)
        actor = cls(name, conn, transcript, recorder)
        actor.peer = peer
        recorder.note(NOTE_ACCEPTED, remote=str(remote))
        return actor

    @property
    def closed_by_us(self) -> bool:
        return self.conn.closed

    # -- sending -------------------------------------------------------------
    def send_bytes(self, data: bytes, about: object = None, chunk: int | None = None) -> None:
        """Write ``data`` (in writes of ``chunk`` bytes when given); ``about`` is what the
        transcript says it is (see ``summarize``): the first write carries it, later
        chunks say which part they are."""
        if not chunk or chunk >= len(data):
            self.conn.send_raw(data, about)
            return
        starts = range(0, len(data), chunk)
        for n, i in enumerate(starts):
            part = f"{n + 1}/{len(starts)}"
            label = ({**summarize(about, data, self.peer), "chunk": part} if n == 0
                     else {"chunk": part})
            self.conn.send_raw(data[i:i + chunk], label)
            time.sleep(0.001)

    def send_packets(self, packets: list[Packet], chunk: int | None = None) -> None:
        if chunk:
            self.send_bytes(b"".join(encode(p) for p in packets), packets, chunk)
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
        except ConnectionClosed:  # the connection's observer recorded it
            self.ended = Arrival(END_OF_STREAM, time.monotonic())
            return self.ended
        except ProtocolError as exc:  # so did it the garbage, with every unframed byte
            self.ended = Arrival(Garbage(exc), time.monotonic())
            return self.ended
        except OSError as exc:
            self.ended = Arrival(END_OF_STREAM, time.monotonic())
            self.recorder.note(f"connection error: {exc}")
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
            self.recorder.note(NOTE_CLOSED)


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
