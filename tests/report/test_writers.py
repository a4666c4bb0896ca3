"""Each report writer on a synthetic run holding every verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from gearcheck.report.json_report import ReportFormatError, load_report, write_json
from gearcheck.report.junit import write_junit
from gearcheck.report.summary_md import MAX_LISTED, render_summary
from gearcheck.report.writers import write_all
from gearcheck.results import RunReport, Verdict

from .conftest import every_verdict_report, make_case


def test_every_verdict_is_in_the_synthetic_run(report: RunReport) -> None:
    assert {r.verdict for r in report.results} == set(Verdict)


# --- report.json -----------------------------------------------------------------------------

def test_json_round_trips_through_the_schema(report: RunReport, tmp_path: Path) -> None:
    path = write_json(report, tmp_path / "report.json")
    loaded = load_report(path)
    assert loaded.to_dict() == report.to_dict()
    data = json.loads(path.read_text())
    assert data["counts"]["FAIL"] == 1 and data["schema_version"].startswith("1.")


def test_json_turns_bytes_into_hex(tmp_path: Path) -> None:
    report = every_verdict_report()
    report.results[0].actual = {"data": b"\x00\xff"}
    data = json.loads(write_json(report, tmp_path / "r.json").read_text())
    assert data["results"][0]["actual"] == {"data": "00ff"}


def test_writer_refuses_a_report_that_breaks_the_schema(tmp_path: Path) -> None:
    report = every_verdict_report()
    report.results[2].transcript[1].direction = "sideways"
    with pytest.raises(ReportFormatError, match=r"\['results'\]\[2\]\['transcript'\]\[1\]"):
        write_json(report, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read report"),
    ("{not json", r"r\.json:1:2: not JSON"),
    ('{"schema_version": "2.0", "server": {"address": "x"}, "results": [], "counts": {}}',
     "schema_version '2.0' is not compatible"),
    ('{"schema_version": "1.0", "server": {}, "results": [], "counts": {}}',
     r"\$\['server'\]: 'address' is a required property"),
    ('{"schema_version": "1.0", "server": {"address": "x"}, "counts": {},'
     ' "results": [{"case_id": "A", "title": "", "area": "", "level": "MUST",'
     ' "verdict": "MAYBE"}]}', r"\$\['results'\]\[0\]\['verdict'\]"),
])
def test_load_report_names_the_problem(tmp_path: Path, content: str | None, message: str
                                       ) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReportFormatError, match=message):
        load_report(path)


# --- junit.xml -------------------------------------------------------------------------------

EXPECTED_CHILD = {Verdict.FAIL: "failure", Verdict.XPASS: "failure", Verdict.ERROR: "error",
                  Verdict.UNSUPPORTED: "skipped"}


def test_junit_structure_and_counts(report: RunReport, tmp_path: Path) -> None:
    root = ET.parse(write_junit(report, tmp_path / "junit.xml")).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert sorted(s.get("name") for s in suites) == [
        "conformance.admin", "conformance.echo", "conformance.submit"]
    totals: dict[str, int] = defaultdict(int)
    by_id = {r.case_id: r for r in report.results}
    for suite in suites:
        cases = suite.findall("testcase")
        assert set(suite.keys()) >= {"name", "tests", "failures", "errors", "skipped", "time"}
        counted = {"tests": len(cases),
                   "failures": sum(1 for c in cases if c.find("failure") is not None),
                   "errors": sum(1 for c in cases if c.find("error") is not None),
                   "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
        for key, value in counted.items():
            assert int(suite.get(key, "-1")) == value, (suite.get("name"), key)
            totals[key] += value
        props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
        assert props["server"] == "127.0.0.1:4730"
        for case in cases:
            # strict (Ant/Jenkins) schema: a testcase holds no <properties>
            assert case.find("properties") is None
            assert set(case.keys()) <= {"name", "classname", "time"}
            result = by_id[case.get("name", "").split()[0]]
            assert case.get("classname") == f"conformance.{result.area}"
            children = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
            expected = EXPECTED_CHILD.get(result.verdict)
            assert children == ([expected] if expected else []), result.case_id
            assert props[f"{result.case_id}.level"] == result.level
            assert props[f"{result.case_id}.verdict"] == result.verdict.value
            assert props[f"{result.case_id}.source"] == result.source
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value
    assert totals == {"tests": 7, "failures": 2, "errors": 1, "skipped": 1}


def test_junit_failure_text_has_expected_and_actual(report: RunReport, tmp_path: Path) -> None:
    root = ET.parse(write_junit(report, tmp_path / "junit.xml")).getroot()
    failure = next(c for c in root.iter("testcase")
                   if c.get("name", "").startswith("GM-SUBMIT-001")).find("failure")
    assert failure is not None and failure.get("type") == "FAIL"
    assert "expected: " in (failure.text or "") and "JOB_CREATED" in (failure.text or "")
    assert "actual:   " in (failure.text or "") and '"ERROR"' in (failure.text or "")


# --- report.html -----------------------------------------------------------------------------

def test_html_is_self_contained_with_cases_and_filters(report: RunReport, tmp_path: Path
                                                       ) -> None:
    paths = write_all(report, tmp_path)
    html = paths.html.read_text()
    for r in report.results:
        assert f'id="{r.case_id}"' in html
        assert f'data-verdict="{r.verdict.value}"' in html
    for v in Verdict:
        assert f'name="verdict" value="{v.value}"' in html
    for level in ("MUST", "SHOULD", "OBSERVED"):
        assert f'name="level" value="{level}"' in html
    assert "<script>" in html and "<style>" in html
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    # server text is escaped, not executed
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # transcript rows, expected against actual, and the capture link of the failing case
    assert "JOB_ASSIGN" in html and "<h4>expected</h4>" in html
    assert "<td>connected local=127.0.0.1:5</td>" in html  # notes read as text, not JSON
    assert 'href="pcap/GM-SUBMIT-001.pcap"' in html
    # the 40 kB payload is cut for reading, but report.json keeps it
    assert html.count("x" * 300) == 0 and "(40000 chars)" in html


# --- summary.md ------------------------------------------------------------------------------

def test_summary_is_short_and_names_the_problems(report: RunReport) -> None:
    text = render_summary(report)
    assert text.startswith("## gearcheck conformance: synthetic 1.1.20+ds — FAILED")
    for cid in ("GM-SUBMIT-001", "GM-ADMIN-001", "GM-ADMIN-003"):
        assert f"`{cid}`" in text
    assert "GM-ECHO-001" not in text  # passes are counted, not listed
    assert "| MUST | 1 | 0 | 1 | 1 | 0 | 1 | 1 |" in text


def test_summary_stays_bounded_when_everything_fails() -> None:
    report = every_verdict_report()
    report.results = [make_case(f"GM-X-{i:03d}", Verdict.FAIL, message="m" * 500)
                      for i in range(400)]
    text = render_summary(report)
    assert f"…and {400 - MAX_LISTED} more." in text
    assert len(text) < 12_000 and len(text.splitlines()) < MAX_LISTED + 20


# --- pcap ------------------------------------------------------------------------------------

def _streams(frames: list) -> dict[tuple[int, int], bytes]:  # type: ignore[type-arg]
    segments: dict[tuple[int, int], dict[int, bytes]] = defaultdict(dict)
    for f in frames:
        tcp = f[TCP]
        if bytes(tcp.payload):
            segments[(tcp.sport, tcp.dport)][tcp.seq] = bytes(tcp.payload)
    out = {}
    for key, by_seq in segments.items():
        first = min(by_seq)
        data = b""
        for seq in sorted(by_seq):
            assert seq == first + len(data), "sequence numbers leave a gap"
            data += by_seq[seq]
        out[key] = data
    return out


def test_pcap_gives_the_transcript_bytes_back(report: RunReport, tmp_path: Path) -> None:
    paths = write_all(report, tmp_path)
    assert set(paths.pcaps) == {"GM-SUBMIT-001", "GM-ADMIN-001", "GM-ADMIN-002", "GM-ADMIN-003"}
    case = next(r for r in report.results if r.case_id == "GM-SUBMIT-001")
    frames = rdpcap(str(paths.pcaps["GM-SUBMIT-001"]))
    streams = _streams(list(frames))
    actors = list(dict.fromkeys(e.actor for e in case.transcript if e.raw_hex))
    for index, actor in enumerate(actors):
        port = 40000 + index
        sent = b"".join(bytes.fromhex(e.raw_hex) for e in case.transcript
                        if e.actor == actor and e.direction == "send")
        received = b"".join(bytes.fromhex(e.raw_hex) for e in case.transcript
                            if e.actor == actor and e.direction == "recv")
        assert streams[(port, 4730)] == sent
        assert streams.get((4730, port), b"") == received
    # a handshake opens and FINs close each connection, and ACKs follow the bytes
    flags = [str(f[TCP].flags) for f in frames]
    assert flags[:3] == ["S", "SA", "A"] and flags.count("S") == len(actors)
    assert flags.count("FA") == 2 * len(actors)
    for f in frames:
        assert f[TCP].dport == 4730 or f[TCP].sport == 4730
        assert f.time >= 1735787045  # the run's start, 2025-01-02T03:04:05Z
    big = [f for f in frames if len(bytes(f[TCP].payload)) > 0]
    assert max(len(bytes(f[TCP].payload)) for f in big) <= 16384  # 40 kB split into segments


def test_no_pcap_for_passing_cases_or_empty_transcripts(report: RunReport, tmp_path: Path
                                                        ) -> None:
    report.results[2].transcript = []  # the FAIL case, with nothing on the wire
    paths = write_all(report, tmp_path)
    assert "GM-SUBMIT-001" not in paths.pcaps and "GM-ECHO-001" not in paths.pcaps
    assert sorted(p.name for p in (tmp_path / "pcap").iterdir()) == [
        "GM-ADMIN-001.pcap", "GM-ADMIN-002.pcap", "GM-ADMIN-003.pcap"]


def test_pcap_pads_a_truncated_transcript_entry_to_its_real_length(tmp_path: Path) -> None:
    from gearcheck.report.pcap import write_case_pcap
    from gearcheck.results import TranscriptEntry

    head = bytes.fromhex("0052455100000010") + (100_000).to_bytes(4, "big")
    case = make_case("GM-BIG-001", Verdict.FAIL, transcript=[
        TranscriptEntry(0.0, "client", "send", {"type": "ECHO_REQ", "raw_truncated_from":
                                                 100_012}, (head + b"a" * 500).hex()),
        TranscriptEntry(0.1, "client", "send", {"type": "ECHO_REQ"},
                        bytes.fromhex("005245510000001000000002").hex() + "6869")])
    path = write_case_pcap(case, tmp_path / "big.pcap")
    assert path is not None
    stream = _streams(list(rdpcap(str(path))))[(40000, 4730)]
    assert len(stream) == 100_012 + 14
    assert stream.startswith(head + b"a" * 500) and stream.endswith(b"\0REQ\0\0\0\x10\0\0\0\x02hi")


def test_pcap_bytes_are_what_scapy_writes_for_the_same_frames(report: RunReport,
                                                              tmp_path: Path) -> None:
    """The struct-packed capture equals scapy's wrpcap of the same Ether/IP/TCP frames."""
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    from gearcheck.report.pcap import _base_time, transcript_frames, write_case_pcap

    case = next(r for r in report.results if r.case_id == "GM-SUBMIT-001")
    ours = write_case_pcap(case, tmp_path / "ours.pcap", report)
    assert ours is not None
    rebuilt = []
    for frame in transcript_frames(case.transcript, _base_time(report)):
        tcp = Ether(frame.data)[TCP]
        pkt = Ether(src="00:00:00:00:00:00", dst="00:00:00:00:00:00") / IP(
            src="127.0.0.1", dst="127.0.0.1") / TCP(
            sport=tcp.sport, dport=tcp.dport, seq=tcp.seq, ack=tcp.ack, flags=tcp.flags,
            window=65535)
        if tcp.payload:
            pkt = pkt / Raw(load=bytes(tcp.payload))
        pkt.time = frame.time
        rebuilt.append(pkt)
    wrpcap(str(tmp_path / "scapy.pcap"), rebuilt)
    assert ours.read_bytes() == (tmp_path / "scapy.pcap").read_bytes()


# --- pcap from a 1.1 transcript: real endpoints and times --------------------------------

def _real_transcript(us: str, them: str, *, accepted: bool = False) -> list:  # type: ignore[type-arg]
    from gearcheck.protocol import Packet, encode
    from gearcheck.results import NOTE_ACCEPTED, NOTE_CLOSED, NOTE_CONNECTED, TranscriptEntry

    req = encode(Packet.build("ECHO_REQ", b"abc")).hex()
    res = encode(Packet.build("ECHO_RES", b"abc")).hex()
    t0 = 1_750_000_000.25
    opened = NOTE_ACCEPTED if accepted else NOTE_CONNECTED

    def entry(dt: float, direction: str, summary: dict, raw: str = "") -> TranscriptEntry:  # type: ignore[type-arg]
        on_note = direction == "note"  # as the engine writes them: endpoints on the notes
        return TranscriptEntry(dt, "client", direction, summary, raw, wall=t0 + dt,
                               local=us if on_note else None, peer=them if on_note else None)

    return [entry(0.0, "note", {"note": opened}), entry(0.001, "send", {"type": "ECHO_REQ"}, req),
            # a later write comes first in the transcript, but the reply was read before it
            entry(0.003, "send", {"type": "ECHO_REQ"}, req),
            entry(0.002, "recv", {"type": "ECHO_RES"}, res),
            entry(0.004, "recv", {"note": "closed by the server"}),
            entry(0.005, "note", {"note": NOTE_CLOSED})]


def test_pcap_uses_the_recorded_endpoints_and_times(tmp_path: Path) -> None:
    from gearcheck.report.pcap import write_case_pcap

    case = make_case("GM-REAL-001", Verdict.FAIL,
                     transcript=_real_transcript("127.0.0.1:51234", "127.0.0.2:4791"))
    path = write_case_pcap(case, tmp_path / "real.pcap")
    assert path is not None
    frames = list(rdpcap(str(path)))
    rows = [(f["IP"].src, f[TCP].sport, f["IP"].dst, f[TCP].dport, str(f[TCP].flags),
             len(bytes(f[TCP].payload)), round(float(f.time) - 1_750_000_000.25, 6))
            for f in frames]
    us, them = ("127.0.0.1", 51234), ("127.0.0.2", 4791)
    assert rows == [
        (*us, *them, "S", 0, 0.0), (*them, *us, "SA", 0, 0.000001), (*us, *them, "A", 0, 0.000002),
        (*us, *them, "PA", 15, 0.001), (*them, *us, "PA", 15, 0.002), (*us, *them, "PA", 15, 0.003),
        (*them, *us, "FA", 0, 0.004), (*us, *them, "A", 0, 0.004001),
        (*us, *them, "FA", 0, 0.005), (*them, *us, "A", 0, 0.005001)]
    # sequence numbers follow the bytes both ways, acknowledgements what was read before
    sent = [f for f in frames if f[TCP].sport == 51234 and bytes(f[TCP].payload)]
    assert sent[1][TCP].seq == sent[0][TCP].seq + 15
    reply = next(f for f in frames if f[TCP].sport == 4791 and bytes(f[TCP].payload))
    assert sent[1][TCP].ack == reply[TCP].seq + 15
    for f in frames:  # both checksums as scapy computes them
        rebuilt = f.copy()
        del rebuilt["IP"].chksum, rebuilt[TCP].chksum
        again = rebuilt.__class__(bytes(rebuilt))
        assert (again["IP"].chksum, again[TCP].chksum) == (f["IP"].chksum, f[TCP].chksum)


def test_pcap_of_an_accepted_connection_starts_with_the_peer_s_syn(tmp_path: Path) -> None:
    from gearcheck.report.pcap import write_case_pcap

    case = make_case("GM-REAL-002", Verdict.FAIL,
                     transcript=_real_transcript("127.0.0.1:4730", "127.0.0.1:40999",
                                                 accepted=True))
    path = write_case_pcap(case, tmp_path / "accepted.pcap")
    assert path is not None
    first = rdpcap(str(path))[0]
    assert (str(first[TCP].flags), first[TCP].sport, first[TCP].dport) == ("S", 40999, 4730)


def test_pcap_over_ipv6_has_valid_checksums(tmp_path: Path) -> None:
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    from gearcheck.report.pcap import write_case_pcap

    case = make_case("GM-REAL-003", Verdict.FAIL,
                     transcript=_real_transcript("[::1]:50000", "[::1]:4791"))
    path = write_case_pcap(case, tmp_path / "v6.pcap")
    assert path is not None
    frames = list(rdpcap(str(path)))
    assert len(frames) == 10 and all(IPv6 in f for f in frames)
    for f in frames:
        rebuilt = Ether(bytes(f))
        del rebuilt[TCP].chksum
        assert Ether(bytes(rebuilt))[TCP].chksum == f[TCP].chksum
    assert {(f[IPv6].src, f[TCP].dport) for f in frames if f[TCP].sport == 50000} == {
        ("::1", 4791)}


def test_pcap_gives_each_connection_of_an_actor_its_own_stream(tmp_path: Path) -> None:
    """An actor that reconnects: its entries go to the connection it opened last."""
    from gearcheck.report.pcap import write_case_pcap

    first = _real_transcript("127.0.0.1:50001", "127.0.0.1:4791")
    second = _real_transcript("127.0.0.1:50002", "127.0.0.1:4791")
    for e in second:
        e.wall = (e.wall or 0) + 1.0
    case = make_case("GM-REAL-004", Verdict.FAIL, transcript=first + second)
    path = write_case_pcap(case, tmp_path / "two.pcap")
    assert path is not None
    streams = _streams(list(rdpcap(str(path))))
    assert set(streams) == {(50001, 4791), (4791, 50001), (50002, 4791), (4791, 50002)}
    assert streams[(50001, 4791)] == streams[(50002, 4791)] and len(streams[(50001, 4791)]) == 30
