"""Verdicts a misbehaving server earns: LATE, TIMEOUT, PROTOCOL, CLOSED (hostile test servers)."""

from __future__ import annotations

from gearcheck.engine.timing import Timing
from gearcheck.results import FailureKind, Verdict

from .conftest import summary
from .hostile import HostileServer

ECHO = """actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: hostile}}
  - expect: {on: client, packet: ECHO_RES, args: {data: hostile}}
"""
# deadline 0.3 s (+ a tiny RTT share), grace 4 x deadline: wide margins on a busy machine
FAST = Timing(rtt_s=0.0001, default_timeout_s=0.3, grace_factor=4.0)


def test_late_answer_is_fail_late(run_yaml) -> None:  # type: ignore[no-untyped-def]
    with HostileServer("late", delay=0.7) as server:
        result = run_yaml(ECHO, server.address, timing=FAST)
    assert result.verdict is Verdict.FAIL, summary(result)
    assert result.failure_kind is FailureKind.LATE
    assert result.evidence["late_by_s"] > 0


def test_no_answer_is_fail_timeout(run_yaml) -> None:  # type: ignore[no-untyped-def]
    with HostileServer("silent") as server:
        result = run_yaml(ECHO, server.address,
                          timing=Timing(rtt_s=0.0001, default_timeout_s=0.2, grace_factor=1.0))
    assert result.verdict is Verdict.FAIL and result.failure_kind is FailureKind.TIMEOUT
    assert result.actual == "nothing"


def test_garbage_is_fail_protocol(run_yaml) -> None:  # type: ignore[no-untyped-def]
    with HostileServer("garbage") as server:
        result = run_yaml(ECHO, server.address, timing=FAST)
    assert result.verdict is Verdict.FAIL and result.failure_kind is FailureKind.PROTOCOL
    assert result.actual["garbage_hex"].startswith("00424144")
    assert any("garbage" in e.summary for e in result.transcript)


def test_close_is_fail_closed(run_yaml) -> None:  # type: ignore[no-untyped-def]
    with HostileServer("close") as server:
        result = run_yaml(ECHO, server.address, timing=FAST)
    assert result.verdict is Verdict.FAIL and result.failure_kind is FailureKind.CLOSED
    assert any(e.summary.get("note") == "closed by the server" for e in result.transcript)


def test_close_expected_passes_and_alternative_grades(run_yaml) -> None:  # type: ignore[no-untyped-def]
    body = """actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: x}}
  - alternatives:
      - verdict: PASS
        steps: [{expect: {on: client, packet: ECHO_RES}}]
      - verdict: NON-STRICT
        reason: closes instead
        steps: [{expect_close: {on: client}}]
"""
    with HostileServer("close") as server:
        result = run_yaml(body, server.address, timing=FAST)
    assert result.verdict is Verdict.NON_STRICT, summary(result)
