"""What a connection tells its observer: the bytes really read and written, once each.

A real loopback TCP pair: the test writes the peer's bytes itself, in chosen chunks,
so it knows exactly what went over the socket and can compare every report with it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gearcheck.protocol import (
    AdminLine,
    BadMagicError,
    MissingArgumentsError,
    Packet,
    PacketType,
    encode,
    encode_raw,
)
from gearcheck.wire import END_OF_STREAM, Address, Connection, ConnectionClosed, ReceiveTimeout

Report = tuple[str, float, Any, bytes]


class Recorder:
    def __init__(self) -> None:
        self.reports: list[Report] = []

    def __call__(self, direction: str, wall: float, what: Any, raw: bytes) -> None:
        self.reports.append((direction, wall, what, raw))

    def received(self) -> list[Report]:
        return [r for r in self.reports if r[0] == "recv"]


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket, Recorder]]:
    listener = socket.create_server(("127.0.0.1", 0))
    recorder = Recorder()
    conn = Connection.open(Address("127.0.0.1", listener.getsockname()[1]), timeout=2.0,
                           observer=recorder)
    peer, _ = listener.accept()
    listener.close()
    yield conn, peer, recorder
    conn.close()
    peer.close()


def _feed(peer: socket.socket, *chunks: bytes) -> None:
    for chunk in chunks:
        peer.sendall(chunk)
        time.sleep(0.02)  # separate reads on our side


def test_each_event_is_reported_with_the_bytes_that_made_it(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    echo = encode(Packet.build(PacketType.ECHO_RES, b"split across reads"))
    created = encode(Packet.build(PacketType.JOB_CREATED, b"H:x:1"))
    # "OK\r\n" re-encoded would be "OK\n"; the ECHO_RES comes in two reads, glued to the
    # admin line before it and to the JOB_CREATED after it
    wire = b"OK\r\n" + echo + created
    _feed(peer, wire[:9])
    events = [conn.recv(1.0)]
    with pytest.raises(ReceiveTimeout):  # 5 bytes of the ECHO_RES are buffered
        conn.recv(0.05)
    _feed(peer, wire[9:])
    events += [conn.recv(1.0) for _ in range(2)]
    assert events[0] == AdminLine(b"OK") and isinstance(events[1], Packet)
    got = recorder.received()
    assert [raw for *_, raw in got] == [b"OK\r\n", echo, created]
    assert b"".join(raw for *_, raw in got) == wire
    assert [what for _, _, what, _ in got] == events
    # the time of each event is that of the read that completed it
    assert got[0][1] < got[1][1] == got[2][1]


def test_writes_are_reported_as_written_with_what_the_caller_said(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    ping = Packet.build(PacketType.ECHO_REQ, b"ping")
    conn.send(ping)
    conn.send_line("status\r")
    conn.send_raw(b"\0REQ\0\0\0\x63\0\0\0\0", about={"malformed": "type 99"})
    peer.settimeout(2.0)
    sent = b""
    while len(sent) < 16 + 8 + 12:
        sent += peer.recv(100)
    assert [(d, what, raw) for d, _, what, raw in recorder.reports] == [
        ("send", ping, encode(ping)), ("send", AdminLine(b"status"), b"status\r\n"),
        ("send", {"malformed": "type 99"}, b"\0REQ\0\0\0\x63\0\0\0\0")]
    assert b"".join(raw for *_, raw in recorder.reports) == sent


def test_end_of_stream_is_reported_once_and_raised_every_time(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    _feed(peer, b"last\n")
    peer.close()
    assert conn.recv(1.0) == AdminLine(b"last")
    for _ in range(2):
        with pytest.raises(ConnectionClosed):
            conn.recv(1.0)
    assert [(what, raw) for _, _, what, raw in recorder.received()] == [
        (AdminLine(b"last"), b"last\n"), (END_OF_STREAM, b"")]


def test_garbage_is_reported_once_with_every_unframed_byte(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    bad = b"\0BAD" + bytes(8) + b"and the rest of it"
    _feed(peer, encode(Packet.build(PacketType.NOOP)) + bad)
    assert conn.recv(1.0).name == "NOOP"  # type: ignore[union-attr]
    for _ in range(2):
        with pytest.raises(BadMagicError):
            conn.recv(1.0)
    (noop, garbage) = recorder.received()
    assert isinstance(garbage[2], BadMagicError) and garbage[3] == bad
    assert noop[3] == b"\0RES\0\0\0\x06\0\0\0\0"


def test_a_packet_with_missing_arguments_spans_its_own_bytes(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    short = encode_raw(b"\0RES", int(PacketType.JOB_ASSIGN), b"H:x:1")  # no NULs: 1 arg of 3
    after = encode(Packet.build(PacketType.NO_JOB))
    _feed(peer, short + after)
    with pytest.raises(MissingArgumentsError):
        conn.recv(1.0)
    assert conn.recv(1.0).name == "NO_JOB"  # type: ignore[union-attr]
    assert [raw for *_, raw in recorder.received()] == [short, after]


def test_a_connection_knows_its_real_endpoints(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, _ = pair
    assert conn.local == Address(*peer.getpeername()[:2])
    assert conn.peer == Address(*peer.getsockname()[:2])
    with pytest.raises(ReceiveTimeout):
        conn.recv(0.01)


def test_without_an_observer_nothing_is_kept() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    plain = Connection.open(Address("127.0.0.1", listener.getsockname()[1]), timeout=2.0)
    other, _ = listener.accept()
    other.sendall(encode(Packet.build(PacketType.NOOP)) * 3)
    assert [plain.recv(1.0).name for _ in range(3)] == ["NOOP"] * 3  # type: ignore[union-attr]
    assert not plain._unreported  # the bytes are only kept for an observer
    for s in (plain, other, listener):
        s.close()


def test_a_long_reply_read_at_once_is_reported_line_by_line(pair) -> None:  # type: ignore[no-untyped-def]
    conn, peer, recorder = pair
    rows = [b"fn-%05d\t0\t0\t1\r\n" % i for i in range(10_000)] + [b".\n"]
    peer.sendall(b"".join(rows))  # ~170 kB: many events per read, past the compaction point
    assert len(conn.admin("status", timeout=5.0)) == 10_001
    assert [raw for *_, raw in recorder.received()] == rows
