"""The matrix: rendering from reports, and the orchestration against real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearcheck import paths
from gearcheck.report.matrix_page import MatrixColumn, build_matrix, write_matrix
from gearcheck.results import RunReport, ServerInfo, Verdict
from gearcheck.runs import SuiteSettings
from gearcheck.runs.server_matrix import run_matrix
from gearcheck.targets.registry import parse_registry

from .conftest import every_verdict_report, make_case


def perl_like_report() -> RunReport:
    report = every_verdict_report()
    report.server = ServerInfo(
        address="127.0.0.1:5000", name="perl", version="v1.130.1",
        capabilities={"packet:SUBMIT_JOB_LOW": {"supported": False,
                                                "evidence": "ERROR server_error"},
                      "packet:ECHO_REQ": {"supported": True, "evidence": "ECHO_RES"}})
    report.results = [make_case("GM-ECHO-001", Verdict.PASS),
                      make_case("GM-SUBMIT-002", Verdict.UNSUPPORTED, area="submit",
                                message="no SUBMIT_JOB_LOW"),
                      make_case("GM-SUBMIT-001", Verdict.PASS, area="submit")]
    return report


def columns() -> list[MatrixColumn]:
    return [MatrixColumn("gearmand", "C gearmand", report=every_verdict_report(),
                         report_href="gearmand/report.html"),
            MatrixColumn("perl", "Perl server", notes="partial", report=perl_like_report(),
                         report_href="perl/report.html"),
            MatrixColumn("broken", "does not start", error="TargetError: exited with code 1")]


def test_matrix_json_has_a_row_per_case_and_a_cell_per_server() -> None:
    data = build_matrix(columns(), generated_at="2025-01-01T00:00:00+00:00")
    assert [s["name"] for s in data["servers"]] == ["gearmand", "perl", "broken"]
    ids = [c["case_id"] for c in data["cases"]]
    assert sorted(ids) == sorted(r.case_id for r in every_verdict_report().results)
    rows = {c["case_id"]: c for c in data["cases"]}
    low = rows["GM-SUBMIT-002"]["cells"]
    assert low["perl"] == {"verdict": "UNSUPPORTED", "href": "perl/report.html#GM-SUBMIT-002",
                           "message": "no SUBMIT_JOB_LOW"}
    assert low["gearmand"]["verdict"] == "UNSUPPORTED"
    assert "perl" not in rows["GM-ADMIN-001"]["cells"]  # not run there: no cell, not a pass
    assert "broken" not in low
    perl = data["servers"][1]
    assert perl["capabilities"]["packet:SUBMIT_JOB_LOW"] == {
        "supported": False, "evidence": "ERROR server_error"}
    assert perl["counts"] == {"PASS": 2, "UNSUPPORTED": 1}
    assert data["servers"][2]["error"].startswith("TargetError")
    # the synthetic profile's nested form is flattened too
    assert data["servers"][0]["capabilities"]["packets:SUBMIT_JOB_LOW"]["supported"] is False


def test_matrix_html_links_cells_to_evidence(tmp_path: Path) -> None:
    paths = write_matrix(columns(), tmp_path)
    html = paths.html.read_text()
    data = json.loads(paths.json.read_text())
    assert len(data["cases"]) == 7
    assert '<a href="perl/report.html#GM-SUBMIT-002">UNSUPPORTED</a>' in html
    assert 'class="cell v-UNSUPPORTED"' in html and 'class="cell v-FAIL"' in html
    assert 'title="not run against this server">—</td>' in html
    assert "TargetError: exited with code 1" in html
    assert "<code>packet:SUBMIT_JOB_LOW</code>" in html and 'class="cap-no"' in html
    assert 'name="differ"' in html and "<script src" not in html and "<link" not in html


@pytest.mark.slow
def test_run_matrix_starts_each_server_applies_baselines_and_survives_failures(
        tmp_path: Path) -> None:
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "perl.yaml").write_text(
        "known_failures:\n  - {id: GM-ECHO-001, reason: pretend it was broken}\n")
    registry = tmp_path / "servers.yaml"
    registry.write_text("""\
servers:
  - name: perl
    target: gearcheck.targets.perl_server.PerlServerTarget
    baseline: baselines/perl.yaml
  - name: gear
    target: gearcheck.targets.gear_server.GearServerTarget
    baseline: baselines/missing.yaml
  - name: broken
    target: gearcheck.targets.gearmand.GearmandTarget
    args: {extra_args: [--no-such-option]}
""")
    specs = parse_registry(registry.read_text(), registry)
    messages: list[str] = []
    settings = SuiteSettings(cases=[paths.SUITE_DIR], case_ids=["GM-ECHO-001"], quiet=True,
                             registry=registry)
    cols, written = run_matrix(specs, settings, tmp_path / "out", progress=messages.append)
    perl, gear, broken = cols
    assert perl.report is not None and perl.report.results[0].verdict is Verdict.XPASS
    assert gear.report is not None and gear.report.results[0].verdict is Verdict.UNSUPPORTED
    assert any("missing.yaml" in w for w in gear.warnings)
    assert broken.report is None and broken.error and "gearmand" in broken.error
    for name in ("perl", "gear"):
        assert (tmp_path / "out" / name / "report.html").is_file()
        assert (tmp_path / "out" / name / "junit.xml").is_file()
    data = json.loads(written.json.read_text())
    cells = data["cases"][0]["cells"]
    assert cells["perl"]["href"] == "perl/report.html#GM-ECHO-001"
    assert cells["gear"]["verdict"] == "UNSUPPORTED"
    assert any(m.startswith("broken: cannot run: ") and "--no-such-option" in m
               for m in messages)
