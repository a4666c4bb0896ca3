"""The recording proxy passes every byte unchanged, for real client and worker libraries.

Each library's application (its worker and client drivers, tests/record/apps.py)
runs through the proxy to gearmand while tcpdump captures both legs. The
capture, not the proxy's own trace, is the witness: every connection's byte
stream from the application to the proxy must equal the stream from the proxy
to gearmand, and the other way round, byte for byte. Then the trace itself:
``gearcheck record --pcap`` of the gearmand leg must give the same records as
the proxy wrote (only the times differ), and the trace must hold every packet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gearcheck.cli import main as gearcheck_main
from gearcheck.protocol.capture import Direction, dissect_capture
from gearcheck.record.trace import read_trace

from .apps import Recording

LIBRARIES = ["php-gearman", "gearman", "gearmanode", "abraxas", "node-gearman"]

Streams = dict[tuple[str, int], dict[Direction, bytes]]


def _streams(pcap: Path, port: int) -> Streams:
    """Each connection with an end on ``port``: its bytes per direction, keyed by its client."""
    dissection = dissect_capture(pcap, [port])
    assert not dissection.errors, [e.message for e in dissection.errors]
    out: defaultdict[tuple[str, int], dict[Direction, bytes]] = defaultdict(
        lambda: {Direction.TO_SERVER: b"", Direction.TO_CLIENT: b""})
    for item in dissection.packets:
        if item.flow.server[1] == port:
            out[item.flow.client][item.direction] += bytes(item.packet)
    return dict(out)


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


@pytest.fixture(scope="module", params=LIBRARIES)
def recording(request: pytest.FixtureRequest,
              app_recording: Callable[[str], Recording]) -> Recording:
    return app_recording(request.param)


def test_the_application_works_through_the_proxy(recording: Recording) -> None:
    events = recording.client.events
    fg = [j for j in recording.jobs if not j["background"]]
    ends = [e for e in events if e["event"] in ("complete", "fail", "exception")]
    assert len(ends) == len(fg), recording.client.evidence()
    assert not [e for e in events if e["event"] in ("error", "timeout")], \
        recording.client.evidence()
    # The worker ran every job, foreground and background.
    assert len(recording.worker.of("job")) == len(recording.jobs), recording.worker.evidence()


def test_every_byte_passes_unchanged_both_ways(recording: Recording) -> None:
    app_leg = _streams(recording.pcap, recording.proxy_port)
    server_leg = _streams(recording.pcap, recording.server_port)
    opens = [r for r in read_trace(recording.trace).records if r.get("event") == "open"]
    assert len(opens) == len(app_leg) >= 2  # the worker's connection and the client's
    compared = 0
    for r in opens:
        app_side, proxy_side = _endpoint(r["client"]), _endpoint(r["via"])
        assert app_side in app_leg and proxy_side in server_leg, (r, list(app_leg))
        for direction in Direction:
            sent, passed = app_leg[app_side][direction], server_leg[proxy_side][direction]
            if direction is Direction.TO_CLIENT:
                sent, passed = passed, sent  # from gearmand through the proxy to the app
            assert sent == passed, (r["conn"], direction, len(sent), len(passed))
            compared += len(sent)
    # Large payloads were in the traffic, split over many segments.
    assert compared > 100_000


def _content(records: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Per connection (named by ``key`` of its open record) and direction: the records
    without their time or number."""
    names: dict[int, str] = {}
    out: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("event") == "open":
            names[r["conn"]] = r[key]
        elif "event" not in r:
            body = {k: v for k, v in r.items() if k not in ("t", "conn")}
            out[f"{names[r['conn']]} {r['dir']}"].append(body)
    return dict(out)


def test_a_capture_gives_the_same_trace_as_the_proxy(recording: Recording,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "from-pcap"
    code = gearcheck_main(["record", "--pcap", str(recording.pcap), "--port",
                           str(recording.server_port), "--out", str(out)])
    assert code == 0
    from_pcap = _content(read_trace(out / "trace.jsonl").records, "client")
    from_proxy = _content(read_trace(recording.trace).records, "via")
    assert from_pcap == from_proxy


def test_the_trace_holds_every_packet_decoded(recording: Recording) -> None:
    trace = read_trace(recording.trace)
    dissected = dissect_capture(recording.pcap, [recording.server_port]).packets
    packets = [r for r in trace.records if "type" in r or "line" in r]
    assert len(packets) == len(dissected)
    assert not [r for r in trace.records if "error" in r or "raw" in r]
    submitted = [r for r in packets if r.get("type", "").startswith("SUBMIT_JOB")]
    assert len(submitted) == len(recording.jobs)
    # Arguments are the bytes on the wire, as the scapy layer's fields read them from the
    # capture (not the order's payloads: node-gearman appends a NUL to background ones).
    on_wire = [(p.packet.function, p.packet.unique, p.packet.data) for p in dissected
               if p.packet.name.split()[-1].startswith("SUBMIT_JOB")]
    in_trace = [(_bytes(r["args"]["function"]), _bytes(r["args"]["unique"]),
                 _bytes(r["args"]["data"])) for r in submitted]
    assert sorted(in_trace) == sorted(on_wire)
    assert {d for _f, _u, d in in_trace} >= {j["payload"] for j in recording.jobs
                                             if not j["background"]}


def _bytes(value: Any) -> bytes:
    from gearcheck.record.trace import decode_bytes

    data = decode_bytes(value)
    assert data is not None
    return data
