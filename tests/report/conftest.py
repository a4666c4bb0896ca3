"""A synthetic run with every verdict, for the report, gate and matrix tests.

The transcripts carry real Gearman bytes made by the codec (plus an admin
line), so the pcap and HTML tests see what an engine run would record.
"""

from __future__ import annotations

import pytest

from gearcheck.protocol import Packet, encode
from gearcheck.results import (
    CaseResult,
    FailureKind,
    RunReport,
    ServerInfo,
    TranscriptEntry,
    Verdict,
)


def packet_entry(t: float, actor: str, direction: str, ptype: str, *args: object
                 ) -> TranscriptEntry:
    pkt = Packet.build(ptype, *args)
    return TranscriptEntry(t, actor, direction,
                           {"type": ptype, "args": {k: v.decode("latin-1")
                                                    for k, v in pkt.named_args().items()}},
                           encode(pkt).hex())


def job_transcript() -> list[TranscriptEntry]:
    return [
        TranscriptEntry(0.0, "client", "note", {"note": "connected", "local": "127.0.0.1:5"}),
        packet_entry(0.001, "client", "send", "SUBMIT_JOB", "fn-1", "u-1", b"x" * 40000),
        packet_entry(0.002, "client", "recv", "JOB_CREATED", "H:host:1"),
        packet_entry(0.003, "worker", "send", "CAN_DO", "fn-1"),
        packet_entry(0.004, "worker", "send", "GRAB_JOB"),
        packet_entry(0.005, "worker", "recv", "JOB_ASSIGN", "H:host:1", "fn-1", b"x" * 40000),
        packet_entry(0.006, "worker", "send", "WORK_COMPLETE", "H:host:1", "done"),
        packet_entry(0.007, "client", "recv", "WORK_COMPLETE", "H:host:1", "done"),
        TranscriptEntry(0.008, "admin", "send", {"line": "status"}, b"status\n".hex()),
        TranscriptEntry(0.009, "admin", "recv", {"line": "fn-1\t0\t0\t1"},
                        b"fn-1\t0\t0\t1\n.\n".hex()),
        TranscriptEntry(0.010, "client", "note", {"note": "closed by the case"}),
    ]


def make_case(case_id: str, verdict: Verdict, *, area: str = "echo", level: str = "MUST",
              **kw: object) -> CaseResult:
    defaults: dict[str, object] = dict(
        title=f"title of {case_id}", source="PROTOCOL §ECHO", tags=["smoke"],
        file=f"conformance/{area}/x.yaml", line=3, duration_s=0.0123,
        transcript=job_transcript())
    defaults.update(kw)
    return CaseResult(case_id=case_id, area=area, level=level, verdict=verdict,
                      **defaults)  # type: ignore[arg-type]


def every_verdict_report() -> RunReport:
    results = [
        make_case("GM-ECHO-001", Verdict.PASS),
        make_case("GM-ECHO-002", Verdict.NON_STRICT, level="SHOULD",
                  message="tolerated alternative matched"),
        make_case("GM-SUBMIT-001", Verdict.FAIL, area="submit",
                  message="JOB_CREATED expected, got ERROR <script>alert(1)</script>",
                  failure_kind=FailureKind.MISMATCH, failing_step=2,
                  expected={"type": "JOB_CREATED", "args": {"handle": "<capture h>"}},
                  actual={"type": "ERROR", "args": {"code": "x", "text": "y"}}),
        make_case("GM-SUBMIT-002", Verdict.UNSUPPORTED, area="submit",
                  message="server does not answer SUBMIT_JOB_LOW",
                  evidence={"probe": {"SUBMIT_JOB_LOW": "no reply"}}, transcript=[]),
        make_case("GM-ADMIN-001", Verdict.ERROR, area="admin", level="OBSERVED",
                  message="could not connect to 127.0.0.1:1"),
        make_case("GM-ADMIN-002", Verdict.XFAIL, area="admin",
                  message="known gearmand bug", failure_kind=FailureKind.TIMEOUT,
                  evidence={"baseline": {"reason": "gearmand bug #1",
                                         "verdict_before": "FAIL"}}),
        make_case("GM-ADMIN-003", Verdict.XPASS, area="admin",
                  evidence={"baseline": {"reason": "was broken", "verdict_before": "PASS"}}),
    ]
    return RunReport(
        server=ServerInfo(address="127.0.0.1:4730", name="synthetic", version="1.1.20+ds",
                          capabilities={"packets": {"ECHO_REQ": True, "SUBMIT_JOB_LOW": False}},
                          echo_rtt_us=80.5),
        results=results, started_at="2025-01-02T03:04:05+00:00",
        finished_at="2025-01-02T03:04:06+00:00", duration_s=1.25, tool_version="0.1.0")


@pytest.fixture
def report() -> RunReport:
    return every_verdict_report()


# scenarios/ holds YAML suites these tests run through the engine on purpose
collect_ignore_glob = ["scenarios/*"]
