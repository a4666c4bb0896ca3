"""A pcap per failing case, from the bytes its connections really carried.

Strategy: the transcript holds exactly the bytes each connection wrote and
read (``raw_hex``), the wall-clock time of each write and read, and each
connection's real endpoints (``local``, ``peer`` on the notes that open and
close it; an actor's entries in between belong to the connection it opened
last), all recorded from the sockets as the case ran (engine.actors,
wire.Connection). Each connection becomes one TCP stream between those
endpoints (IPv4 or IPv6): a three-way handshake from the side that opened it
(us, or the peer for an ``accepted`` connection) at the time of its opening
note, PSH/ACK segments at the times the bytes were written or read, whose
sequence and acknowledgement numbers advance by exactly the bytes carried (so
TCP reassembly works across segments), a FIN/ACK from us when the case closed
it and from the peer when its end of the stream was read, and FINs for any
side still open after the last entry. Payloads larger than one segment are
split. Notes carry no bytes; the JSON report keeps them. Where the engine kept
only the start of a huge payload (``raw_truncated_from``), the rest is zero
bytes of the right length, so the Gearman framing stays intact for the packets
after it.

What it cannot know: link-layer addresses (zero MACs), TCP options and window
sizes, the kernel's own segmentation and ACK timing, and the initial sequence
numbers (made up per connection): the segments are one per write or per event
read, and the handshake's and FINs' frames are a microsecond apart. A
transcript from a report written before schema 1.1 has no endpoints or wall
times: each actor then becomes one connection from 127.0.0.1:40000+n to
127.0.0.1:4730, at the run's start plus the transcript offsets.

The frames are packed with ``struct`` (Ethernet, IPv4 with its header
checksum or IPv6, TCP with its pseudo-header checksum) and written as classic
little-endian pcap records (microsecond stamps, snaplen 65535, link type 1),
the same bytes scapy's ``wrpcap`` writes for the same frames (the tests
compare the two) at a fraction of the cost: building thousands of scapy
objects per failing case was most of a report's writing time.
"""

from __future__ import annotations

import array
import ipaddress
import struct
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from ..results import NOTE_ACCEPTED, NOTE_CLOSED, CaseResult, RunReport, TranscriptEntry, Verdict

GEARMAN_PORT = 4730
FIRST_CLIENT_PORT = 40000
LOOPBACK = "127.0.0.1"
SEGMENT_BYTES = 16384
MAX_PADDED_BYTES = 1 << 26  # the largest payload a scenario can send
_MAC = "00:00:00:00:00:00"

PCAP_VERDICTS = frozenset({Verdict.FAIL, Verdict.XFAIL, Verdict.XPASS, Verdict.ERROR})

# pcap file header: magic, version 2.4, thiszone, sigfigs, snaplen, link type (Ethernet)
PCAP_MAGIC, SNAPLEN, LINKTYPE_ETHERNET = 0xA1B2C3D4, 65535, 1
_FILE_HEADER = struct.pack("<IHHIIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
_RECORD = struct.Struct("<IIII")  # seconds, microseconds, captured length, wire length
_ETHER_V4 = bytes(12) + b"\x08\x00"  # zero MACs, EtherType IPv4
_ETHER_V6 = bytes(12) + b"\x86\xdd"  # zero MACs, EtherType IPv6
_IP = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_TCP_FLAGS = {"S": 0x02, "SA": 0x12, "A": 0x10, "PA": 0x18, "FA": 0x11}
_IP_ID, _TTL, _PROTO_TCP, _WINDOW = 1, 64, 6, 65535
_BIG_ENDIAN_HOST = sys.byteorder == "big"
_HANDSHAKE_LEAD_S = 0.000003  # the handshake's frames precede the first entry by this much


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's complement sum of 16-bit words, as a network-order integer."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))  # host-order words: the sum is byte-swapped alike
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    total = ~total & 0xFFFF
    return total if _BIG_ENDIAN_HOST else ((total >> 8) | (total << 8)) & 0xFFFF


class Frame(NamedTuple):
    time: float  # seconds since the epoch
    data: bytes  # the Ethernet frame


class Endpoint(NamedTuple):
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint | None:
        """``host:port`` or ``[v6]:port`` with a numeric host, as the transcript writes it."""
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            return None
        try:
            return cls(ipaddress.ip_address(host.strip("[]")), int(port))
        except ValueError:
            return None


@dataclass
class _Flow:
    us: Endpoint
    them: Endpoint
    our_seq: int  # next sequence number we will use
    their_seq: int  # next sequence number the peer will use
    we_opened: bool = True
    our_fin: bool = False
    their_fin: bool = False
    last_t: float = 0.0


def tcp_frame(src: Endpoint, dst: Endpoint, seq: int, ack: int, flags: str,
              payload: bytes = b"") -> bytes:
    """Ethernet + IPv4/IPv6 + TCP (checksums filled) carrying ``payload`` from src to dst."""
    header = _TCP.pack(src.port, dst.port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                       _TCP_FLAGS[flags], _WINDOW, 0, 0)
    segment_length = len(header) + len(payload)
    if src.ip.version == 4 and dst.ip.version == 4:
        pseudo = (src.ip.packed + dst.ip.packed
                  + struct.pack("!BBH", 0, _PROTO_TCP, segment_length))
    else:
        src, dst = _as_v6(src), _as_v6(dst)
        pseudo = (src.ip.packed + dst.ip.packed
                  + struct.pack("!IxxxB", segment_length, _PROTO_TCP))
    checksum = internet_checksum(pseudo + header + payload)
    header = header[:16] + struct.pack("!H", checksum) + header[18:]
    if src.ip.version == 4:
        ip = _IP.pack(0x45, 0, 20 + segment_length, _IP_ID, 0, _TTL, _PROTO_TCP, 0,
                      src.ip.packed, dst.ip.packed)
        ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
        return _ETHER_V4 + ip + header + payload
    ip6 = _IP6.pack(6 << 28, segment_length, _PROTO_TCP, _TTL, src.ip.packed, dst.ip.packed)
    return _ETHER_V6 + ip6 + header + payload


def _as_v6(end: Endpoint) -> Endpoint:
    if end.ip.version == 6:
        return end
    return Endpoint(ipaddress.IPv6Address(f"::ffff:{end.ip}"), end.port)


def _frame(flow: _Flow, *, ours: bool, flags: str, payload: bytes = b"",
           seq: int | None = None, ack: int | None = None) -> bytes:
    src, dst = (flow.us, flow.them) if ours else (flow.them, flow.us)
    if seq is None:
        seq = flow.our_seq if ours else flow.their_seq
    if ack is None:
        ack = flow.their_seq if ours else flow.our_seq
    return tcp_frame(src, dst, seq, ack, flags, payload)


def _base_time(report: RunReport | None) -> float:
    if report and report.started_at:
        try:
            return datetime.fromisoformat(report.started_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return 0.0


def _entry_bytes(entry: TranscriptEntry) -> bytes:
    """The entry's bytes; a transcript cut short (``raw_truncated_from``) is zero-padded
    to its real length so the framing, and every packet after it, still dissects."""
    data = bytes.fromhex(entry.raw_hex)
    full = entry.summary.get("raw_truncated_from")
    if isinstance(full, int) and len(data) < full <= MAX_PADDED_BYTES:
        data += bytes(full - len(data))
    return data


def _connection_of(entry: TranscriptEntry) -> tuple[Endpoint, Endpoint] | None:
    """The entry's real (us, them) endpoints, when the transcript recorded them."""
    if entry.local is None or entry.peer is None:
        return None
    us, them = Endpoint.parse(entry.local), Endpoint.parse(entry.peer)
    return (us, them) if us is not None and them is not None else None


def transcript_frames(transcript: list[TranscriptEntry], base_time: float = 0.0) -> list[Frame]:
    """Ethernet frames carrying the transcript's bytes, one TCP connection per connection."""
    flows: dict[tuple[str, Endpoint | None, Endpoint | None], _Flow] = {}
    frames: list[Frame] = []
    synthetic = 0

    def stamp(data: bytes, t: float) -> None:
        frames.append(Frame(t, data))

    def segments(flow: _Flow, ours: bool, data: bytes, t: float) -> None:
        for start in range(0, len(data), SEGMENT_BYTES):
            chunk = data[start:start + SEGMENT_BYTES]
            stamp(_frame(flow, ours=ours, flags="PA", payload=chunk), t)
            if ours:
                flow.our_seq += len(chunk)
            else:
                flow.their_seq += len(chunk)

    def fin(flow: _Flow, ours: bool, t: float) -> None:
        stamp(_frame(flow, ours=ours, flags="FA"), t)
        if ours:
            flow.our_seq += 1
            flow.our_fin = True
        else:
            flow.their_seq += 1
            flow.their_fin = True
        stamp(_frame(flow, ours=not ours, flags="A"), t + 0.000001)

    def time_of(entry: TranscriptEntry) -> float:
        return entry.wall if entry.wall is not None else base_time + entry.t

    # In time order: events decoded from one earlier read come after later writes in the
    # transcript, but were on the wire first (and the writes' ACKs acknowledge them).
    current: dict[str, tuple[str, Endpoint | None, Endpoint | None]] = {}
    for entry in sorted(transcript, key=time_of):
        if entry.direction not in ("send", "recv", "note"):
            continue
        real = _connection_of(entry)
        if real is not None:  # a note that names its connection
            key: tuple[str, Endpoint | None, Endpoint | None] = (entry.actor, *real)
            current[entry.actor] = key
        elif entry.actor in current:  # a write or read on the actor's connection
            key = current[entry.actor]
        elif entry.direction == "note" or not entry.raw_hex:
            continue  # an old transcript's notes say nothing about its synthetic flows
        else:
            key = (entry.actor, None, None)
        t = time_of(entry)
        flow = flows.get(key)
        if flow is None:
            index = len(flows)
            if key[1] is not None and key[2] is not None:
                real = (key[1], key[2])
            else:
                real = (Endpoint(ipaddress.IPv4Address(LOOPBACK), FIRST_CLIENT_PORT + synthetic),
                        Endpoint(ipaddress.IPv4Address(LOOPBACK), GEARMAN_PORT))
                synthetic += 1
            flow = _Flow(real[0], real[1], 1_000_000 * (index + 1), 500_000_000 + index,
                         we_opened=entry.summary.get("note") != NOTE_ACCEPTED)
            flows[key] = flow
            # a connection's opening note is when it was opened; without one (an old
            # transcript) the handshake just precedes the first bytes
            t0 = t if entry.direction == "note" else max(t - _HANDSHAKE_LEAD_S, 0.0)
            opener = flow.we_opened
            stamp(_frame(flow, ours=opener, flags="S", ack=0), t0)
            if opener:
                flow.our_seq += 1
            else:
                flow.their_seq += 1
            stamp(_frame(flow, ours=not opener, flags="SA"), t0 + 0.000001)
            if opener:
                flow.their_seq += 1
            else:
                flow.our_seq += 1
            stamp(_frame(flow, ours=opener, flags="A"), t0 + 0.000002)
        flow.last_t = t
        if entry.direction == "note":
            if entry.summary.get("note") == NOTE_CLOSED and not flow.our_fin:
                fin(flow, True, t)
        elif entry.raw_hex:
            segments(flow, entry.direction == "send", _entry_bytes(entry), t)
        elif entry.direction == "recv" and "garbage" not in entry.summary \
                and not flow.their_fin:
            fin(flow, False, t)  # a read with no bytes: the peer closed its side
    for flow in flows.values():
        t = flow.last_t + 0.000001
        if not flow.our_fin:
            fin(flow, True, t)
        if not flow.their_fin:
            fin(flow, False, t + 0.000002)
    frames.sort(key=lambda f: f.time)
    return frames


def pcap_bytes(frames: list[Frame]) -> bytes:
    """A classic pcap file holding ``frames`` (microsecond time stamps)."""
    out = [_FILE_HEADER]
    for frame in frames:
        seconds = int(frame.time)
        micros = round((frame.time - seconds) * 1_000_000)
        if micros == 1_000_000:
            seconds, micros = seconds + 1, 0
        out.append(_RECORD.pack(seconds, micros, len(frame.data), len(frame.data)))
        out.append(frame.data)
    return b"".join(out)


def write_case_pcap(result: CaseResult, path: Path | str, report: RunReport | None = None
                    ) -> Path | None:
    """Write the case's transcript as a pcap; None when the transcript carries no bytes."""
    if not any(entry.raw_hex for entry in result.transcript):
        return None
    frames = transcript_frames(result.transcript, _base_time(report))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pcap_bytes(frames))
    return path


def pcap_name(case_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)
    return f"{safe}.pcap"


def write_failure_pcaps(report: RunReport, directory: Path | str) -> dict[str, Path]:
    """One pcap per case that did not pass (FAIL, XFAIL, XPASS, ERROR), keyed by case id."""
    directory = Path(directory)
    written: dict[str, Path] = {}
    for result in report.results:
        if result.verdict in PCAP_VERDICTS:
            path = write_case_pcap(result, directory / pcap_name(result.case_id), report)
            if path is not None:
                written[result.case_id] = path
    return written
