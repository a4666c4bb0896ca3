# ruff: noqa: E501  (scenario YAML inside strings reads best on one line per step)
"""Every step kind and matcher against the real gearmand 1.1.20, and the verdicts it can give."""

from __future__ import annotations

import pytest

from gearcheck.engine.probe import probe_server
from gearcheck.results import FailureKind, Verdict
from gearcheck.targets import free_port

from .conftest import summary


@pytest.fixture(scope="module")
def profile(gearmand_address):  # type: ignore[no-untyped-def]
    return probe_server(gearmand_address, "tprobe")


def test_probe_profile_of_gearmand(profile) -> None:  # type: ignore[no-untyped-def]
    assert profile.version and profile.version.startswith("1.1.20")
    assert profile.rtt_s > 0
    assert profile.supports("packet:SUBMIT_JOB_EPOCH")
    assert profile.supports("admin:prioritystatus")
    assert profile.supports("behaviour:coalescing")
    assert not profile.supports("packet:SUBMIT_JOB_SCHED")
    assert "INVALID_COMMAND" in profile.evidence("packet:SUBMIT_JOB_SCHED")
    assert not profile.supports("admin:gladiator")


def test_send_expect_capture_and_reuse(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client, worker]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: client, packet: SUBMIT_JOB, args: {function: "${fn}", unique: "${uniq}", data: {hex: "00ff"}}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {regex: "H:.+", capture: h, len: {min: 3, max: 63}}}}
  - send: {on: worker, packet: GRAB_JOB_UNIQ}
  - expect: {on: worker, packet: [JOB_ASSIGN, JOB_ASSIGN_UNIQ], args: {handle: "${h}", unique: "${uniq}", data: {hex: "00 ff"}}}
  - send: {on: worker, packet: WORK_COMPLETE, args: ["${h}", {fill: "ab", size: 5}]}
  - expect: {on: client, packet: WORK_COMPLETE, args: {handle: "${h}", data: {equals: "ababa", one_of: [ababa, x]}}}
""", gearmand_address)
    assert result.verdict is Verdict.PASS, summary(result)
    directions = {e.direction for e in result.transcript}
    assert directions == {"send", "recv", "note"}
    recv = [e for e in result.transcript if e.direction == "recv"]
    assert recv[0].summary["type"] == "JOB_CREATED" and recv[0].raw_hex.startswith("00524553")


def test_expect_all_silence_close_sleep_repeat_connect(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [a, b, worker]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: worker, packet: PRE_SLEEP}
  - expect_silence: {on: worker, for: 0.05}
  - send: {on: a, packet: SUBMIT_JOB, args: {function: "${fn}", unique: "${uniq}", data: ""}}
  - expect_all:
      - {on: worker, packet: NOOP}
      - {on: a, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - send: {on: b, packet: SUBMIT_JOB, args: {function: "${fn}", unique: "${uniq}", data: ""}}
  - expect: {on: b, packet: JOB_CREATED, args: {handle: "${h}"}}
  - send: {on: worker, packet: GRAB_JOB}
  - expect: {on: worker, packet: JOB_ASSIGN, args: {handle: {capture: job}}}
  - repeat:
      times: 3
      as: k
      steps:
        - send: {on: worker, packet: WORK_DATA, args: {handle: "${job}", data: "d${k}"}}
  - send: {on: worker, packet: WORK_COMPLETE, args: {handle: "${job}", data: ""}}
  - expect_all:
      - {on: b, packet: WORK_COMPLETE, args: {handle: "${h}"}}
      - {on: a, packet: WORK_DATA, args: {data: d0}}
      - {on: b, packet: WORK_DATA, args: {data: d0}}
      - {on: a, packet: WORK_DATA, args: {data: d1}}
      - {on: b, packet: WORK_DATA, args: {data: d1}}
      - {on: a, packet: WORK_DATA, args: {data: d2}}
      - {on: b, packet: WORK_DATA, args: {data: d2}}
      - {on: a, packet: WORK_COMPLETE, args: {handle: "${h}"}}
  - sleep: 0.01
  - close: a
  - connect: a
  - send: {on: a, raw: "00524551 00000000 00000000"}
  - expect_close: {on: a}
""", gearmand_address)
    assert result.verdict is Verdict.PASS, summary(result)


def test_admin_matchers_and_wait_until(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client, worker, admin]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn:w}"}}
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn:q}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - wait_until:
      on: admin
      command: status
      within: 2
      reply:
        filter: {regex: "${fn}\\\\..*"}
        count: 2
        rows_any_order: [["${fn:q}", 1, 0, 0], ["${fn:w}", 0, 0, 1]]
        contains: [["${fn:w}", "..."]]
        excludes: [["${fn:q}", 0, "..."]]
  - admin: {on: admin, command: show jobs, reply: {contains: [["${h}", {capture: retries}, "..."]]}}
  - admin: {on: admin, command: version, reply: {line: {regex: "OK 1\\\\.1\\\\..*"}}}
  - admin: {on: admin, command: "prioritystatus", eol: "\\r\\n", reply: {filter: "${fn:q}", rows: [["${fn:q}", 0, 1, 0, 0]]}}
  - send: {on: admin, line: "getpid"}
  - expect: {on: admin, line: {regex: "OK [0-9]+"}}
""", gearmand_address)
    assert result.verdict is Verdict.PASS, summary(result)


def test_admin_mismatch_is_fail_with_expected_and_actual(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [admin]
steps:
  - admin: {on: admin, command: version, reply: {line: "OK 0.0.0"}}
""", gearmand_address)
    assert result.verdict is Verdict.FAIL
    assert result.failure_kind is FailureKind.MISMATCH
    assert result.actual[0].startswith("OK 1.1.20")
    assert result.failing_step == 0 and result.evidence["step_line"] == 7


def test_packet_mismatch_fails_fast(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: abc}}
  - expect: {on: client, packet: ECHO_RES, args: {data: {regex: "x.*"}}}
""", gearmand_address)
    assert result.verdict is Verdict.FAIL and result.failure_kind is FailureKind.MISMATCH
    assert result.actual["args"]["data"] == "abc"
    assert result.duration_s < 1.5


def test_unexpected_packet_during_silence(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: noisy}}
  - expect_silence: {on: client, for: 0.2}
""", gearmand_address)
    assert result.verdict is Verdict.FAIL and result.failure_kind is FailureKind.UNEXPECTED


def test_alternatives_strict_and_non_strict(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    body = """actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: "%s"}}
  - alternatives:
      - verdict: PASS
        steps: [{expect: {on: client, packet: ECHO_RES, args: {data: strict}}}]
      - verdict: NON-STRICT
        reason: tolerated payload
        steps: [{expect: {on: client, packet: ECHO_RES, args: {data: tolerated}}}]
  - send: {on: client, packet: ECHO_REQ, args: {data: after}}
  - expect: {on: client, packet: ECHO_RES, args: {data: after}}
"""
    assert run_yaml(body % "strict", gearmand_address).verdict is Verdict.PASS
    tolerated = run_yaml(body % "tolerated", gearmand_address)
    assert tolerated.verdict is Verdict.NON_STRICT, summary(tolerated)
    assert "tolerated payload" in tolerated.message
    neither = run_yaml(body % "neither", gearmand_address)
    assert neither.verdict is Verdict.FAIL
    assert len(neither.expected) == 2 and neither.expected[1]["verdict"] == "NON-STRICT"


def test_unsupported_uses_probe_evidence(run_yaml, gearmand_address, profile) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""requires: [packet:SUBMIT_JOB_SCHED, packet:ECHO_REQ]
actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: x}}
""", gearmand_address, profile=profile)
    assert result.verdict is Verdict.UNSUPPORTED
    assert list(result.evidence["missing_capabilities"]) == ["packet:SUBMIT_JOB_SCHED"]
    assert result.transcript == []


def test_error_when_server_unreachable(run_yaml) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: ECHO_REQ, args: {data: x}}
""", f"127.0.0.1:{free_port()}")
    assert result.verdict is Verdict.ERROR
    assert "cannot open connection 'client'" in result.message


def test_error_on_undefined_variable(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml("""actors: [client]
steps:
  - send: {on: client, packet: GET_STATUS, args: {handle: "${never_captured}"}}
""", gearmand_address)
    assert result.verdict is Verdict.ERROR
    assert "${never_captured}" in result.message and result.evidence["step_line"] == 7
