"""Flaky baseline entries: a timing-dependent server defect is expected, never an XPASS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gearcheck.report.baseline import BaselineError, apply_baseline, judge, parse_baseline
from gearcheck.report.gate import evaluate
from gearcheck.results import Verdict

from .conftest import every_verdict_report, make_case

V = Verdict
TEXT = """known_failures:
  - id: GM-A-001
    reason: a race in the server shows now and then
    flaky: true
  - id: GM-A-002
    reason: a steady failure
"""


def test_flaky_entry_keeps_a_pass_and_expects_a_fail() -> None:
    assert judge(V.PASS, V.FAIL, flaky=True) is V.PASS
    assert judge(V.FAIL, V.FAIL, flaky=True) is V.XFAIL
    assert judge(V.PASS, V.FAIL) is V.XPASS
    assert judge(V.ERROR, V.FAIL, flaky=True) is V.ERROR


@pytest.mark.parametrize("flaky_verdict,expected", [(V.PASS, V.PASS), (V.FAIL, V.XFAIL)])
def test_gate_passes_whichever_way_a_flaky_case_went(
        flaky_verdict: Verdict, expected: Verdict) -> None:
    baseline = parse_baseline(TEXT, Path("b.yaml"))
    assert baseline.entries["GM-A-001"].flaky and not baseline.entries["GM-A-002"].flaky
    report = every_verdict_report()
    report.results = [make_case("GM-A-001", flaky_verdict), make_case("GM-A-002", V.PASS)]
    applied = apply_baseline(report, baseline)
    first, second = applied.report.results
    assert first.verdict is expected
    assert first.evidence["baseline"]["flaky"] is True
    assert first.evidence["baseline"]["verdict_before"] == flaky_verdict.value
    assert second.verdict is V.XPASS  # a steady entry that passes must still go
    report.results = report.results[:1]
    assert evaluate(apply_baseline(report, baseline).report).exit_code == 0


def test_flaky_must_be_a_boolean() -> None:
    bad = TEXT.replace("flaky: true", "flaky: sometimes")
    with pytest.raises(BaselineError, match=r"b.yaml:4: GM-A-001: 'flaky' is true or false"):
        parse_baseline(bad, Path("b.yaml"))


SMALL_SUITE = Path(__file__).parent / "scenarios" / "small.yaml"
REAL_BASELINE = """known_failures:
  - id: GM-ECHO-901
    reason: passes today, listed as flaky
    flaky: true
  - id: GM-SUBMIT-901
    reason: passes today, listed as a steady failure
  - id: GM-ECHO-902
    reason: fails today, listed as flaky
    flaky: true
"""


def test_pytest_report_json_and_gate_agree_on_flaky_entries(gearmand: Any,
                                                            tmp_path: Path) -> None:
    """One judgement: pytest's outcome, report.json and the gate say the same of every case."""
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(REAL_BASELINE)
    report_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(SMALL_SUITE), "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp_path), "--server", str(gearmand.address),
         "--baseline", str(baseline), "--report-dir", str(report_dir), "-rA"],
        capture_output=True, text=True, timeout=120)
    outcomes = {case: outcome for outcome, case in re.findall(
        r"^(PASSED|FAILED|XFAIL|XPASS|ERROR|SKIPPED) \S+::(\S+)", proc.stdout, re.MULTILINE)}
    report = json.loads((report_dir / "report.json").read_text())
    verdicts = {r["case_id"]: r["verdict"] for r in report["results"]}
    assert verdicts == {"GM-ECHO-901": "PASS", "GM-SUBMIT-901": "XPASS",
                        "GM-ECHO-902": "XFAIL", "GM-SUBMIT-902": "PASS"}
    assert outcomes == {"GM-ECHO-901": "PASSED", "GM-SUBMIT-901": "FAILED",
                        "GM-ECHO-902": "XFAIL", "GM-SUBMIT-902": "PASSED"}, proc.stdout
    gate = subprocess.run([sys.executable, "-m", "gearcheck", "gate",
                           str(report_dir / "report.json"), "--baseline", str(baseline)],
                          capture_output=True, text=True, timeout=60)
    assert gate.returncode == 1  # the steady entry's XPASS, and nothing else
    assert "XPASS        GM-SUBMIT-901" in gate.stdout
    assert "GM-ECHO-901" not in gate.stdout and "NEW FAILURE" not in gate.stdout
