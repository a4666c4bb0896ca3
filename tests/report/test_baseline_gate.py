"""Baseline loading and applying, and the gate's exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gearcheck.cli import main as cli_main
from gearcheck.report.baseline import (
    BaselineError,
    apply_baseline,
    judge,
    load_baseline,
    parse_baseline,
)
from gearcheck.report.gate import evaluate
from gearcheck.report.json_report import write_json
from gearcheck.results import RunReport, Verdict

from .conftest import every_verdict_report, make_case

V = Verdict


def clean_report() -> RunReport:
    """PASS, NON-STRICT, FAIL and UNSUPPORTED cases: no ERROR, no baseline yet."""
    report = every_verdict_report()
    report.results = [
        make_case("GM-A-001", V.PASS),
        make_case("GM-A-002", V.NON_STRICT, level="SHOULD"),
        make_case("GM-A-003", V.FAIL, message="JOB_CREATED expected"),
        make_case("GM-A-004", V.UNSUPPORTED, transcript=[]),
        make_case("GM-A-005", V.FAIL, level="OBSERVED", message="gearmand-only behaviour"),
    ]
    return report


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def gate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli_main(["gate", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- loading ---------------------------------------------------------------------------------

def test_load_a_baseline(tmp_path: Path) -> None:
    path = write(tmp_path, "b.yaml", """\
server: gearmand 1.1.20
known_failures:
  - id: GM-A-003
    reason: >
      gearmand answers
      differently
  - id: GM-A-004
    reason: no low priority
    verdict: unsupported
""")
    baseline = load_baseline(path)
    assert baseline.server == "gearmand 1.1.20"
    assert list(baseline.entries) == ["GM-A-003", "GM-A-004"]
    first = baseline.entries["GM-A-003"]
    assert (first.reason, first.verdict, first.line) == ("gearmand answers differently", V.FAIL, 3)
    assert baseline.entries["GM-A-004"].verdict is V.UNSUPPORTED
    assert baseline.entries["GM-A-004"].where == f"{path}:7"


def test_an_empty_baseline_is_valid(tmp_path: Path) -> None:
    assert load_baseline(write(tmp_path, "e.yaml", "")).entries == {}
    assert load_baseline(write(tmp_path, "f.yaml", "known_failures: []\n")).entries == {}


@pytest.mark.parametrize(("text", "message"), [
    ("known_failures:\n  - id: GM-A-1\n    reason: x\n    reson: y\n",
     r"b\.yaml:4: unknown key 'reson'"),
    ("known_failures:\n  - id: GM-A-1\n", r"b\.yaml:2: GM-A-1: 'reason' is required"),
    ("known_failures:\n  - id: GM-A-1\n    reason: ''\n", r"b\.yaml:3: GM-A-1: 'reason'"),
    ("known_failures:\n  - id: GM-A-1\n    reason: a\n  - id: GM-A-1\n    reason: b\n",
     r"b\.yaml:4: GM-A-1 is listed twice \(first at line 2\)"),
    ("known_failures:\n  - id: GM-A-1\n    reason: a\n    verdict: PASS\n",
     r"b\.yaml:4: GM-A-1: 'verdict' must be one of \['FAIL', 'NON-STRICT', 'UNSUPPORTED'\]"),
    ("known_failures:\n  - id: 'has space'\n    reason: a\n", r"b\.yaml:2: 'id' must be"),
    ("known_failures:\n  - GM-A-1\n", r"b\.yaml:2: each known failure is a mapping"),
    ("known_failures: GM-A-1\n", r"b\.yaml:1: 'known_failures' must be a list"),
    ("servers: x\n", r"b\.yaml:1: unknown key 'servers'"),
    ("- id: GM-A-1\n", r"b\.yaml:1: a baseline is a mapping"),
    ("known_failures:\n  - id: [unclosed\n", r"b\.yaml:3: not valid YAML"),
])
def test_baseline_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        load_baseline(write(tmp_path, "b.yaml", text))


def test_missing_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"nope\.yaml: cannot read baseline"):
        load_baseline(tmp_path / "nope.yaml")


# --- applying --------------------------------------------------------------------------------

@pytest.mark.parametrize(("actual", "expected", "result"), [
    (V.FAIL, V.FAIL, V.XFAIL), (V.PASS, V.FAIL, V.XPASS), (V.NON_STRICT, V.FAIL, V.XPASS),
    (V.UNSUPPORTED, V.FAIL, V.UNSUPPORTED), (V.ERROR, V.FAIL, V.ERROR),
    (V.NON_STRICT, V.NON_STRICT, V.NON_STRICT), (V.PASS, V.NON_STRICT, V.XPASS),
    (V.FAIL, V.NON_STRICT, V.FAIL), (V.UNSUPPORTED, V.UNSUPPORTED, V.UNSUPPORTED),
    (V.PASS, V.UNSUPPORTED, V.XPASS), (V.FAIL, V.UNSUPPORTED, V.FAIL),
])
def test_judge(actual: Verdict, expected: Verdict, result: Verdict) -> None:
    assert judge(actual, expected) is result


def test_apply_marks_listed_cases_and_finds_stale_entries() -> None:
    baseline = parse_baseline("""\
known_failures:
  - {id: GM-A-003, reason: known}
  - {id: GM-A-001, reason: was broken}
  - {id: GM-GONE-001, reason: case removed}
""", "b.yaml")
    report = clean_report()
    applied = apply_baseline(report, baseline)
    verdicts = {r.case_id: r.verdict for r in applied.report.results}
    assert verdicts == {"GM-A-001": V.XPASS, "GM-A-002": V.NON_STRICT, "GM-A-003": V.XFAIL,
                        "GM-A-004": V.UNSUPPORTED, "GM-A-005": V.FAIL}
    assert [e.case_id for e in applied.stale] == ["GM-GONE-001"]
    assert applied.report.baseline == "b.yaml"
    evidence = applied.report.results[2].evidence["baseline"]
    assert evidence == {"reason": "known", "expected": "FAIL", "verdict_before": "FAIL",
                        "file": "b.yaml", "line": 2}
    assert report.results[2].verdict is V.FAIL  # the original is untouched
    # applying another baseline starts again from what the run produced
    again = apply_baseline(applied.report, parse_baseline("known_failures: []", "c.yaml"))
    assert [r.verdict for r in again.report.results] == [r.verdict for r in report.results]
    assert all("baseline" not in r.evidence for r in again.report.results)


# --- the gate --------------------------------------------------------------------------------

def test_gate_evaluate_levels() -> None:
    report = clean_report()
    full = evaluate(report)
    assert full.exit_code == 1 and [r.case_id for r in full.new_failures] == [
        "GM-A-003", "GM-A-005"]
    must_only = evaluate(report, levels=("MUST",))
    assert [r.case_id for r in must_only.new_failures] == ["GM-A-003"]
    assert [r.case_id for r in must_only.ungated_failures] == ["GM-A-005"]


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    return write_json(clean_report(), tmp_path / "report.json")


BASELINE_OK = """\
known_failures:
  - id: GM-A-003
    reason: gearmand sends ERROR here
  - id: GM-A-005
    reason: OBSERVED gearmand behaviour
"""


def test_gate_exit_0_when_every_failure_is_expected(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = gate(capsys, str(report_file), "--baseline",
                     str(write(tmp_path, "b.yaml", BASELINE_OK)))
    assert code == 0, out
    assert "exit 0: 5 gated cases, 0 new failures, 0 XPASS, 0 errors, 2 expected failures, " \
           "1 unsupported, 0 stale" in out


def test_gate_exit_1_on_a_new_failure(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = gate(capsys, str(report_file))
    assert code == 1
    assert "NEW FAILURE  GM-A-003 [MUST] JOB_CREATED expected (conformance/echo/x.yaml:3)" in out
    # only MUST gated, with GM-A-003 expected: the OBSERVED failure no longer counts
    only = write(tmp_path, "m.yaml", "known_failures:\n  - {id: GM-A-003, reason: r}\n")
    code, out = gate(capsys, str(report_file), "--baseline", str(only), "--levels", "MUST")
    assert code == 0, out
    assert "not gated    GM-A-005 [OBSERVED] FAIL" in out


def test_gate_exit_1_on_xpass(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = write(tmp_path, "b.yaml", BASELINE_OK + "  - id: GM-A-001\n    reason: old bug\n")
    code, out = gate(capsys, str(report_file), "--baseline", str(baseline))
    assert code == 1
    assert (f"XPASS        GM-A-001 [MUST] expected FAIL but it now gives PASS: remove it "
            f"from the baseline ({baseline}:6)") in out


def test_gate_flags_stale_entries_and_fails_on_them_when_strict(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = write(tmp_path, "b.yaml",
                     BASELINE_OK + "  - id: GM-OLD-042\n    reason: case was renamed\n")
    code, out = gate(capsys, str(report_file), "--baseline", str(baseline))
    assert code == 0
    assert f"STALE        baseline entry GM-OLD-042 ({baseline}:6) matches no case" in out
    code, out = gate(capsys, str(report_file), "--baseline", str(baseline), "--strict-baseline")
    assert code == 1 and "stale baseline entries" in out


def test_gate_strict_unsupported(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = write(tmp_path, "b.yaml", BASELINE_OK)
    code, out = gate(capsys, str(report_file), "--baseline", str(baseline),
                     "--strict-unsupported")
    assert code == 1 and "NEW FAILURE  GM-A-004" in out
    listed = write(tmp_path, "u.yaml", BASELINE_OK + "  - {id: GM-A-004, reason: no LOW, "
                   "verdict: UNSUPPORTED}\n")
    code, out = gate(capsys, str(report_file), "--baseline", str(listed), "--strict-unsupported")
    assert code == 0, out


def test_gate_exit_2_when_the_run_could_not_judge(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = clean_report()
    report.results[2].verdict = V.ERROR
    report.results[2].message = "could not connect to 127.0.0.1:9"
    report.results[4].verdict = V.PASS
    path = write_json(report, tmp_path / "r.json")
    code, out = gate(capsys, str(path))
    assert code == 2
    assert "ERROR        GM-A-003 [MUST] could not connect to 127.0.0.1:9" in out
    # a definite failure elsewhere outranks the error
    report.results[4].verdict = V.FAIL
    code, _ = gate(capsys, str(write_json(report, tmp_path / "r2.json")))
    assert code == 1


@pytest.mark.parametrize("content", [
    None, "{", '{"schema_version": "9.0", "server": {"address": "x"}, "results": [],'
    ' "counts": {}}', '{"schema_version": "1.0", "server": {"address": "x"}, "results": [],'
    ' "counts": {}}'])
def test_gate_exit_2_on_unusable_reports(
        tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    code, out = gate(capsys, str(path))
    assert code == 2
    assert "report.json" in out or "no case" in out


def test_gate_exit_2_on_a_broken_baseline(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = write(tmp_path, "b.yaml", "known_failures:\n  - id: GM-A-003\n")
    code, out = gate(capsys, str(report_file), "--baseline", str(baseline))
    assert code == 2 and f"{baseline}:2: GM-A-003: 'reason' is required" in out


def test_gate_writes_the_gated_report_and_summary(
        tmp_path: Path, report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = write(tmp_path, "step-summary.md", "earlier step\n")
    code, _ = gate(capsys, str(report_file), "--baseline",
                   str(write(tmp_path, "b.yaml", BASELINE_OK)),
                   "--write", str(tmp_path / "gated"), "--summary", str(summary))
    assert code == 0
    data = json.loads((tmp_path / "gated" / "report.json").read_text())
    assert data["counts"]["XFAIL"] == 2 and data["baseline"].endswith("b.yaml")
    text = summary.read_text()
    assert text.startswith("earlier step\n## gearcheck conformance") and "Gate: exit 0" in text


def test_gate_command_exit_code_through_the_console_script(report_file: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "gearcheck", "gate", str(report_file)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "NEW FAILURE  GM-A-003" in proc.stdout
