"""A pcap file as a Gearman conversation: TCP streams reassembled, then decoded.

Strategy: scapy dissects one TCP segment at a time, so a Gearman packet split
over segments cannot be dissected from ``rdpcap`` alone. Here every TCP
connection in the capture is put back together per direction: segments are
ordered by sequence number relative to the SYN (or to the first segment seen),
retransmitted bytes are dropped, and a hole in the sequence space ends the
stream with an error. Each direction's bytes then go through the codec's
``Decoder``, which frames them (packets and admin lines in any chunking); each
framed slice is dissected by the scapy layer, so the result has named fields
and keeps malformed packets as they were on the wire. A stream the decoder
cannot frame past some point (bad magic, unknown type, EOF mid-packet) yields
the rest dissected best-effort and a ``StreamError`` saying where and why.

Which side is the server: the peer that received the SYN; without a SYN in
the capture, the peer on a port bound to the layer (4730, ``bind_port``);
failing that, the peer with the lower port number.

Each packet's ``time`` is when the receiver could have read it: the capture
time of its last byte or of any earlier byte that arrived later (out of order).
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet as ScapyPacket
from scapy.utils import PcapReader

from ._decoder import Decoder
from ._errors import MissingArgumentsError, ProtocolError
from .scapy_layer import Gearman, bound_ports

Endpoint = tuple[str, int]
_SEQ_MOD = 1 << 32
_SEQ_HALF = 1 << 31
# Captures come from tests and failing cases; a peer may declare anything, so
# the decoder's limit only stops absurd sizes, never a packet that was sent.
_MAX_PAYLOAD = 1 << 30


class Direction(StrEnum):
    TO_SERVER = "to_server"
    TO_CLIENT = "to_client"

    @property
    def arrow(self) -> str:
        return ">" if self is Direction.TO_SERVER else "<"


@dataclass(frozen=True)
class Flow:
    """One TCP connection, named by its two ends."""

    client: Endpoint
    server: Endpoint

    def __str__(self) -> str:
        return f"{_endpoint(self.client)} - {_endpoint(self.server)}"

    def arrow(self, direction: Direction) -> str:
        """``client > server`` for a request, ``client < server`` for a reply."""
        return f"{_endpoint(self.client)} {direction.arrow} {_endpoint(self.server)}"


class DissectedPacket(NamedTuple):
    flow: Flow
    direction: Direction
    packet: ScapyPacket  # Gearman (or a subclass), GearmanText, or Raw; .time is set


@dataclass(frozen=True)
class StreamError:
    flow: Flow
    direction: Direction
    offset: int  # byte offset in that direction's stream
    message: str
    time: float | None = None


@dataclass
class Dissection:
    packets: list[DissectedPacket] = field(default_factory=list)
    errors: list[StreamError] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)


@dataclass
class _HalfStream:
    """The segments one side of a connection sent."""

    isn: int | None = None  # sequence number of the first payload byte, from the SYN
    segments: list[tuple[int, int, float, bytes]] = field(default_factory=list)
    # (seq, capture index, time, payload)


@dataclass
class _Connection:
    first_index: int
    syn_from: Endpoint | None = None
    halves: dict[Endpoint, _HalfStream] = field(default_factory=dict)  # keyed by sender


def dissect_pcap(path: str | os.PathLike[str],
                 ports: Iterable[int] | None = None) -> list[DissectedPacket]:
    """Every Gearman packet and admin line in a capture, as (flow, direction, packet)."""
    return dissect_capture(path, ports).packets


def dissect_capture(source: str | os.PathLike[str] | Iterable[ScapyPacket],
                    ports: Iterable[int] | None = None) -> Dissection:
    """Reassemble and decode every TCP connection of a pcap (or of captured packets).

    ``ports``: only connections with one end on one of these ports; ``None``
    takes every TCP connection (captures are expected to be filtered already).
    """
    wanted = set(ports) if ports is not None else None
    connections = _collect(source, wanted)
    result = Dissection()
    order: list[tuple[float, int, int, DissectedPacket]] = []
    for conn_index, (ends, conn) in enumerate(
            sorted(connections.items(), key=lambda item: item[1].first_index)):
        flow = _orient(ends, conn)
        result.flows.append(flow)
        for sender, direction in ((flow.client, Direction.TO_SERVER),
                                  (flow.server, Direction.TO_CLIENT)):
            half = conn.halves.get(sender)
            if half is None or not half.segments:
                continue
            for seq_no, item in enumerate(_decode(flow, direction, half, result.errors)):
                order.append((float(item.packet.time), conn_index, seq_no, item))
    order.sort(key=lambda entry: entry[:3])
    result.packets = [entry[3] for entry in order]
    return result


def _collect(source: str | os.PathLike[str] | Iterable[ScapyPacket],
             wanted: set[int] | None) -> dict[frozenset[Endpoint], _Connection]:
    connections: dict[frozenset[Endpoint], _Connection] = {}
    packets: Iterable[ScapyPacket]
    reader = None
    if isinstance(source, (str, os.PathLike)):
        reader = packets = PcapReader(os.fspath(source))
    else:
        packets = source
    try:
        for index, pkt in enumerate(packets):
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            tcp = pkt.getlayer(TCP)
            if ip is None or tcp is None:
                continue
            src, dst = (str(ip.src), int(tcp.sport)), (str(ip.dst), int(tcp.dport))
            if wanted is not None and src[1] not in wanted and dst[1] not in wanted:
                continue
            conn = connections.setdefault(frozenset((src, dst)), _Connection(index))
            half = conn.halves.setdefault(src, _HalfStream())
            flags = int(tcp.flags)
            if flags & 0x02:  # SYN (and SYN+ACK): the next byte is the first of the stream
                half.isn = (int(tcp.seq) + 1) % _SEQ_MOD
                if not flags & 0x10:
                    conn.syn_from = src
            # The segment's own bytes, whatever layer scapy dissected them into.
            payload = bytes(tcp.original[tcp.dataofs * 4:]) if tcp.original else bytes(tcp.payload)
            if payload:
                half.segments.append((int(tcp.seq), index, float(pkt.time), payload))
    finally:
        if reader is not None:
            reader.close()
    return connections


def _orient(ends: frozenset[Endpoint], conn: _Connection) -> Flow:
    a, b = sorted(ends) if len(ends) == 2 else (next(iter(ends)),) * 2
    if conn.syn_from is not None:
        client = conn.syn_from
    elif (a[1] in bound_ports()) != (b[1] in bound_ports()):
        client = b if a[1] in bound_ports() else a
    else:
        client = a if a[1] > b[1] else b
    server = b if client == a else a
    return Flow(client, server)


def _reassemble(half: _HalfStream) -> tuple[bytes, list[int], list[float], str | None]:
    """The stream's bytes, with (end offset, arrival time) marks, and a hole if any.

    The sequence space is cut at every segment edge; each piece takes the
    bytes and the time of the first segment captured that covers it, so a
    retransmission neither duplicates bytes nor changes when they arrived.
    """
    base = half.isn if half.isn is not None else half.segments[0][0]
    segments = []
    for seq, index, time, chunk in half.segments:
        rel = (seq - base) % _SEQ_MOD
        if rel < _SEQ_HALF:  # else: before the stream's start (handshake-era retransmission)
            segments.append((rel, index, time, chunk))
    edges = sorted({edge for rel, _i, _t, chunk in segments for edge in (rel, rel + len(chunk))})
    where = {edge: i for i, edge in enumerate(edges)}
    arrival: list[float | None] = [None] * max(0, len(edges) - 1)
    pieces: list[bytes] = [b""] * len(arrival)
    for rel, _index, time, chunk in sorted(segments, key=lambda seg: seg[1]):
        for i in range(where[rel], where[rel + len(chunk)]):
            if arrival[i] is None:
                arrival[i] = time
                pieces[i] = chunk[edges[i] - rel:edges[i + 1] - rel]
    data = bytearray()
    ends: list[int] = []
    times: list[float] = []
    hole = None
    if edges and edges[0] > 0:
        hole = (0, edges[0])
    else:
        for i, arrived in enumerate(arrival):
            if arrived is None:
                hole = (edges[i], edges[i + 1] - edges[i])
                break
            data += pieces[i]
            ends.append(len(data))
            times.append(arrived)
    if hole is None:
        return bytes(data), ends, times, None
    return (bytes(data), ends, times,
            f"{hole[1]} byte(s) missing from the capture at stream offset {hole[0]}; "
            f"the rest of this direction is not decoded")


def _decode(flow: Flow, direction: Direction, half: _HalfStream,
            errors: list[StreamError]) -> list[DissectedPacket]:
    data, ends, times, gap = _reassemble(half)
    if not data:
        if gap is not None:
            errors.append(StreamError(flow, direction, 0, gap))
        return []

    # TCP delivers in order: bytes up to an offset are readable once every
    # segment before them has arrived too, so the time is a running maximum.
    readable = list(itertools.accumulate(times, max))

    def time_at(end: int) -> float:
        return readable[min(bisect.bisect_left(ends, end), len(readable) - 1)]

    out: list[DissectedPacket] = []

    def emit(start: int, end: int) -> None:
        pkt = Gearman(data[start:end])
        pkt.time = time_at(end)
        out.append(DissectedPacket(flow, direction, pkt))

    decoder = Decoder(max_payload=_MAX_PAYLOAD)
    decoder.feed(data)
    decoder.feed_eof()
    while True:
        start = decoder.offset
        try:
            event = decoder.next_event()
        except MissingArgumentsError:
            emit(start, decoder.offset)  # dissects as a raw-body Gearman
            continue
        except ProtocolError as exc:
            errors.append(StreamError(flow, direction, start, str(exc),
                                      time_at(min(start + 1, len(data)))))
            if start < len(data):
                emit(start, len(data))
            break
        if event is None:
            break
        emit(start, decoder.offset)
    if gap is not None:
        errors.append(StreamError(flow, direction, len(data), gap,
                                  times[-1] if times else None))
    return out


def _endpoint(end: Endpoint) -> str:
    host, port = end
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["Direction", "DissectedPacket", "Dissection", "Flow", "StreamError",
           "dissect_capture", "dissect_pcap"]
