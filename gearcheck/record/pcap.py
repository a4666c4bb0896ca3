"""A tcpdump capture as a trace: the same records the proxy writes.

Strategy: ``protocol.capture.dissect_capture`` reassembles every TCP
connection in the file (sequence order, retransmissions dropped, holes
reported) and frames each direction with the codec into scapy ``Gearman``
packets carrying the time they became readable. Here each framed packet's
bytes go, in capture order, into the same ``TraceRecorder`` the proxy uses
(one connection per TCP flow, numbered in the order the flows appear), so a
trace from a capture and one from the proxy have the same records and can be
compared line for line but for the times. A connection opens at its first
packet and closes at its last (a capture says nothing about the proxy's
socket events); a stream error (a hole, bytes that do not frame) becomes an
``error`` record at the offset where it happened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..protocol.capture import Flow, dissect_capture
from .trace import Record, TraceRecorder, TraceWriter, header


def _endpoint(end: tuple[str, int]) -> str:
    host, port = end
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pcap_to_trace(pcap: str | os.PathLike[str], out: str | os.PathLike[str],
                  ports: Iterable[int] | None = None, *,
                  keep_payloads: bool = True) -> tuple[int, int, int]:
    """Write the trace of every Gearman connection in ``pcap`` to ``out``.

    Returns (connections, packets, stream errors).
    """
    ports = list(ports) if ports is not None else None
    dissection = dissect_capture(pcap, ports)
    times = [float(item.packet.time) for item in dissection.packets]
    start = min(times) if times else 0.0
    writer = TraceWriter(out, header("pcap", start, pcap=os.fspath(pcap),
                                     ports=ports, payloads=keep_payloads))
    records: list[tuple[float, int, Record]] = []

    def sink(record: Record) -> None:
        records.append((float(record["t"]), len(records), record))

    recorder = TraceRecorder(sink, start, keep_payloads=keep_payloads)
    conns: dict[Flow, int] = {}
    last: dict[int, float] = {}
    for item in dissection.packets:
        when = float(item.packet.time)
        conn = conns.get(item.flow)
        if conn is None:
            conn = conns[item.flow] = recorder.open(when, _endpoint(item.flow.client),
                                                    _endpoint(item.flow.server))
        last[conn] = when
        recorder.data(conn, item.direction, when, bytes(item.packet))
    framed = {(r["conn"], r["dir"]) for _t, _i, r in records if "error" in r}
    for err in dissection.errors:
        conn = conns.get(err.flow)
        if conn is None or (conn, err.direction.value) in framed:
            continue  # bytes that do not frame: the recorder's own decoder said so already
        when = err.time if err.time is not None else last.get(conn, start)
        sink({"t": round(when - start, 6), "conn": conn, "dir": err.direction.value,
              "error": err.message, "offset": err.offset})
    for conn, when in last.items():
        recorder.close(conn, when)
    records.sort(key=lambda item: (item[0], item[1]))
    try:
        for _t, _i, record in records:
            writer.write(record)
    finally:
        writer.close()
    return len(conns), recorder.packets, len(dissection.errors)
