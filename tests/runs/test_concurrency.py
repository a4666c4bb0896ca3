"""Cases run side by side give the verdicts of a serial run, faster; exclusive ones run alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gearcheck.engine.loader import Scenario
from gearcheck.results import CaseResult, Verdict
from gearcheck.runs import SuiteSettings, run_suite
from gearcheck.runs.concurrent import CaseScheduler, order_for_concurrency


def _verdicts(server: str, jobs: int, out: Path) -> tuple[dict[str, str], float]:
    outcome = run_suite(SuiteSettings(server=server, jobs=jobs, report_dir=out, quiet=True))
    assert outcome.report is not None, outcome.problem
    return ({r.case_id: r.verdict.value for r in outcome.report.results},
            outcome.report.duration_s)


@pytest.mark.slow
def test_the_whole_suite_gives_the_same_verdicts_serially_and_side_by_side(
        tmp_path: Path) -> None:
    serial, serial_s = _verdicts("refserver", 1, tmp_path / "serial")
    concurrent, concurrent_s = _verdicts("refserver", 16, tmp_path / "concurrent")
    assert len(serial) >= 330
    assert concurrent == serial
    assert concurrent_s < serial_s  # 16 at once; the cases themselves take the same time


def _case(case_id: str, exclusive: str = "") -> Scenario:
    return Scenario(id=case_id, title="t", level="MUST", source="s", steps=[],
                    exclusive=exclusive)


def test_exclusive_cases_go_last_and_run_with_nothing_beside_them() -> None:
    cases = [_case("GM-A-001"), _case("GM-A-002", "reads every worker"), _case("GM-A-003")]
    ordered = order_for_concurrency(cases)
    assert [c.id for c in ordered] == ["GM-A-001", "GM-A-003", "GM-A-002"]
    running: set[str] = set()
    beside: dict[str, set[str]] = {}
    lock = threading.Lock()

    def execute(case: Scenario) -> CaseResult:
        with lock:
            beside[case.id] = set(running)
            running.add(case.id)
        time.sleep(0.2)
        with lock:
            running.discard(case.id)
        return CaseResult(case.id, case.title, "a", "MUST", Verdict.PASS)

    scheduler = CaseScheduler(execute, jobs=4)
    scheduler.start(ordered)
    started = time.monotonic()
    results = [scheduler.result(c) for c in ordered]
    scheduler.close()
    assert [r.case_id for r in results] == ["GM-A-001", "GM-A-003", "GM-A-002"]
    assert beside["GM-A-002"] == set()  # ran alone
    assert "GM-A-001" in beside["GM-A-003"] or "GM-A-003" in beside["GM-A-001"]  # side by side
    assert time.monotonic() - started < 0.55
