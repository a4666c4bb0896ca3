"""A pcap per failing case, rebuilt from the case's transcript so Wireshark can dissect it.

Strategy: the transcript already holds every byte each actor sent and received
(``raw_hex``) with its time. Each actor becomes one synthetic TCP connection
on 127.0.0.1: client port 40000+n, server port 4730 (the IANA Gearman port, so
Wireshark's and gearcheck's scapy dissectors bind to it), a three-way
handshake before its first bytes, PSH/ACK segments whose sequence and
acknowledgement numbers advance by exactly the bytes carried (so TCP
reassembly works across segments), and FIN/ACK exchanges after its last
event. Payloads larger than one segment are split. Frame times are the run's
start plus the transcript offsets. Notes carry no bytes and are left out; the
JSON report keeps them. Where the engine kept only the start of a huge
payload (``raw_truncated_from``), the rest is zero bytes of the right length,
so the Gearman framing stays intact for the packets after it.

The frames are packed with ``struct`` (Ethernet, IPv4 with its header
checksum, TCP with its pseudo-header checksum) and written as classic
little-endian pcap records (microsecond stamps, snaplen 65535, link type 1),
the same bytes scapy's ``wrpcap`` writes for the same frames (the tests
compare the two) at a fraction of the cost: building thousands of scapy
objects per failing case was most of a report's writing time.
"""

from __future__ import annotations

import array
import struct
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from ..results import CaseResult, RunReport, TranscriptEntry, Verdict

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
_ETHER = bytes(12) + b"\x08\x00"  # zero MACs, EtherType IPv4
_IP_ADDR = bytes(int(part) for part in LOOPBACK.split("."))
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_TCP_FLAGS = {"S": 0x02, "SA": 0x12, "A": 0x10, "PA": 0x18, "FA": 0x11}
_IP_ID, _TTL, _PROTO_TCP, _WINDOW = 1, 64, 6, 65535
_BIG_ENDIAN_HOST = sys.byteorder == "big"


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


@dataclass
class _Flow:
    client_port: int
    client_seq: int  # next sequence number the client will use
    server_seq: int  # next sequence number the server will use
    last_t: float = 0.0


def tcp_frame(sport: int, dport: int, seq: int, ack: int, flags: str,
              payload: bytes = b"") -> bytes:
    """Ethernet + IPv4 + TCP (both checksums filled) carrying ``payload`` on loopback."""
    header = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                       _TCP_FLAGS[flags], _WINDOW, 0, 0)
    segment_length = len(header) + len(payload)
    pseudo = _IP_ADDR + _IP_ADDR + struct.pack("!BBH", 0, _PROTO_TCP, segment_length)
    checksum = internet_checksum(pseudo + header + payload)
    header = header[:16] + struct.pack("!H", checksum) + header[18:]
    ip = _IP.pack(0x45, 0, 20 + segment_length, _IP_ID, 0, _TTL, _PROTO_TCP, 0,
                  _IP_ADDR, _IP_ADDR)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return _ETHER + ip + header + payload


def _frame(flow: _Flow, *, from_client: bool, flags: str, payload: bytes = b"",
           seq: int | None = None, ack: int | None = None) -> bytes:
    sport, dport = ((flow.client_port, GEARMAN_PORT) if from_client
                    else (GEARMAN_PORT, flow.client_port))
    if seq is None:
        seq = flow.client_seq if from_client else flow.server_seq
    if ack is None:
        ack = flow.server_seq if from_client else flow.client_seq
    return tcp_frame(sport, dport, seq, ack, flags, payload)


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


def transcript_frames(transcript: list[TranscriptEntry], base_time: float = 0.0) -> list[Frame]:
    """Ethernet frames carrying the transcript's bytes, one TCP connection per actor."""
    flows: dict[str, _Flow] = {}
    frames: list[Frame] = []

    def stamp(data: bytes, t: float) -> None:
        frames.append(Frame(base_time + t, data))

    for entry in transcript:
        if entry.direction not in ("send", "recv") or not entry.raw_hex:
            continue
        data = _entry_bytes(entry)
        flow = flows.get(entry.actor)
        if flow is None:
            index = len(flows)
            flow = _Flow(FIRST_CLIENT_PORT + index, 1_000_000 * (index + 1), 500_000_000 + index)
            flows[entry.actor] = flow
            t0 = max(entry.t - 0.000003, 0.0)
            stamp(_frame(flow, from_client=True, flags="S", ack=0), t0)
            flow.client_seq += 1
            stamp(_frame(flow, from_client=False, flags="SA"), t0 + 0.000001)
            flow.server_seq += 1
            stamp(_frame(flow, from_client=True, flags="A"), t0 + 0.000002)
        from_client = entry.direction == "send"
        for start in range(0, len(data), SEGMENT_BYTES):
            chunk = data[start:start + SEGMENT_BYTES]
            stamp(_frame(flow, from_client=from_client, flags="PA", payload=chunk), entry.t)
            if from_client:
                flow.client_seq += len(chunk)
            else:
                flow.server_seq += len(chunk)
        flow.last_t = entry.t
    for flow in flows.values():
        t = flow.last_t + 0.000001
        stamp(_frame(flow, from_client=True, flags="FA"), t)
        flow.client_seq += 1
        stamp(_frame(flow, from_client=False, flags="FA"), t + 0.000001)
        flow.server_seq += 1
        stamp(_frame(flow, from_client=True, flags="A"), t + 0.000002)
    return frames


def pcap_bytes(frames: list[Frame]) -> bytes:
    """A classic pcap file holding ``frames`` (microsecond time stamps)."""
    out = [_FILE_HEADER]
    for frame in frames:
        seconds = int(frame.time)
        micros = round((frame.time - seconds) * 1_000_000)
        out.append(_RECORD.pack(seconds, micros, len(frame.data), len(frame.data)))
        out.append(frame.data)
    return b"".join(out)


def write_case_pcap(result: CaseResult, path: Path | str, report: RunReport | None = None
                    ) -> Path | None:
    """Write the case's transcript as a pcap; None when the transcript carries no bytes."""
    frames = transcript_frames(result.transcript, _base_time(report))
    if not frames:
        return None
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
