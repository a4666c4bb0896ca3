"""Flaky baseline entries: a timing-dependent server defect is expected, never an XPASS."""

from __future__ import annotations

from pathlib import Path

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
