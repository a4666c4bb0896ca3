"""The harness plays the server against real libraries and judges what they send."""

from __future__ import annotations

import json

import pytest

from gearcheck.interop import baselines
from gearcheck.interop.fake_server import load_scripts, play
from gearcheck.interop.fake_server.suite import library_report, write_report
from gearcheck.interop.registry import LIBRARIES
from gearcheck.results import FailureKind, Verdict

SCRIPTS = {s.id: s for s in load_scripts()}


@pytest.mark.parametrize("name", ["php-gearman", "gearman", "gearmanode", "gear"])
@pytest.mark.parametrize("case", ["LIB-CLIENT-001", "LIB-CLIENT-004", "LIB-WORKER-001"])
def test_libraries_pass_the_basic_exchanges(name: str, case: str) -> None:
    result = play(SCRIPTS[case], LIBRARIES[name])
    assert result.verdict is Verdict.PASS, result.message
    sent = [e for e in result.transcript if e.direction == "recv"]
    assert sent, "what the library sent is in the transcript"
    assert all(e.summary.get("magic", "REQ") == "REQ" for e in sent)


def test_mreinstein_status_denominator_bug_is_caught() -> None:
    result = play(SCRIPTS["LIB-CLIENT-008"], LIBRARIES["gearman"])
    assert result.verdict is Verdict.FAIL
    # STATUS_RES ... 2 40 is read with a one-byte denominator: ASCII "4" = 52
    assert "2/52" in result.message, result.message


def test_node_gearman_background_payload_gets_a_trailing_nul() -> None:
    result = play(SCRIPTS["LIB-CLIENT-003"], LIBRARIES["node-gearman"])
    assert result.verdict is Verdict.FAIL
    assert result.failure_kind is FailureKind.MISMATCH
    assert "bg payload\\x00" in result.message


def test_abraxas_worker_follows_exception_with_fail() -> None:
    result = play(SCRIPTS["LIB-WORKER-006"], LIBRARIES["abraxas"])
    assert result.verdict is Verdict.FAIL
    assert "WORK_FAIL" in result.message


def test_gear_worker_drops_the_connection_on_an_unsolicited_error() -> None:
    result = play(SCRIPTS["LIB-WORKER-004"], LIBRARIES["gear"])
    assert result.verdict is Verdict.FAIL
    assert "closed the connection" in result.message, result.message
    # gear's handleError pops a pending task that is not there
    assert "pop from empty list" in json.dumps(result.evidence), result.evidence
    base = baselines.load()
    baselines.apply(result, base.as_server, {"library": "gear", "case": "LIB-WORKER-004"})
    assert result.verdict is Verdict.XFAIL


def test_each_library_gets_a_report_in_the_shared_formats(tmp_path) -> None:
    scripts = [SCRIPTS[i] for i in ("LIB-CLIENT-001", "LIB-CLIENT-010", "LIB-WORKER-001")]
    report = library_report(LIBRARIES["php-gearman"], scripts)
    paths = write_report(report, tmp_path / "php-gearman")
    assert (tmp_path / "php-gearman" / "report.json") in paths
    data = json.loads((tmp_path / "php-gearman" / "report.json").read_text())
    assert data["server"]["address"] == "library:php-gearman"
    assert [r["case_id"] for r in data["results"]] == [s.id for s in scripts]
    assert data["counts"]["PASS"] == 3, [r["message"] for r in data["results"]]
