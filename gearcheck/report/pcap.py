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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from .model import CaseResult, RunReport, TranscriptEntry, Verdict

GEARMAN_PORT = 4730
FIRST_CLIENT_PORT = 40000
LOOPBACK = "127.0.0.1"
SEGMENT_BYTES = 16384
MAX_PADDED_BYTES = 1 << 26  # the largest payload a scenario can send
_MAC = "00:00:00:00:00:00"

PCAP_VERDICTS = frozenset({Verdict.FAIL, Verdict.XFAIL, Verdict.XPASS, Verdict.ERROR})


@dataclass
class _Flow:
    client_port: int
    client_seq: int  # next sequence number the client will use
    server_seq: int  # next sequence number the server will use
    last_t: float = 0.0


def _frame(flow: _Flow, *, from_client: bool, flags: str, payload: bytes = b"",
           seq: int | None = None, ack: int | None = None) -> Packet:
    sport, dport = ((flow.client_port, GEARMAN_PORT) if from_client
                    else (GEARMAN_PORT, flow.client_port))
    tcp = TCP(sport=sport, dport=dport, flags=flags, window=65535,
              seq=(flow.client_seq if from_client else flow.server_seq) if seq is None else seq,
              ack=(flow.server_seq if from_client else flow.client_seq) if ack is None else ack)
    pkt = Ether(src=_MAC, dst=_MAC) / IP(src=LOOPBACK, dst=LOOPBACK) / tcp
    if payload:
        pkt = pkt / Raw(load=payload)
    return pkt


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


def transcript_frames(transcript: list[TranscriptEntry], base_time: float = 0.0) -> list[Packet]:
    """Ethernet frames carrying the transcript's bytes, one TCP connection per actor."""
    flows: dict[str, _Flow] = {}
    frames: list[Packet] = []

    def stamp(pkt: Packet, t: float) -> None:
        pkt.time = base_time + t
        frames.append(pkt)

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


def write_case_pcap(result: CaseResult, path: Path | str, report: RunReport | None = None
                    ) -> Path | None:
    """Write the case's transcript as a pcap; None when the transcript carries no bytes."""
    frames = transcript_frames(result.transcript, _base_time(report))
    if not frames:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrpcap(str(path), frames)
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
