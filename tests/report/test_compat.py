"""The compatibility table: servers and libraries down, areas and features across, each cell
linking to its evidence; built from matrix and interop reports as those commands write them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gearcheck.report.compat import CompatError, build_compat, summary_markdown, write_compat
from gearcheck.report.matrix_page import MatrixColumn, write_matrix
from gearcheck.results import Verdict

from .test_matrix import columns


def _interop(folder: Path) -> Path:
    """interop.json as gearcheck.interop.matrix_report writes it, plus one library report."""
    folder.mkdir(parents=True)
    cells = [
        {"scenario": "IOP-PRI-001", "client": "php", "worker": "php", "server": "gearmand",
         "case_id": "IOP-PRI-001/php->php@gearmand", "verdict": "PASS", "message": ""},
        {"scenario": "IOP-PRI-001", "client": "abraxas", "worker": "php", "server": "gearmand",
         "case_id": "IOP-PRI-001/abraxas->php@gearmand", "verdict": "FAIL",
         "message": "order low, normal, high"},
        {"scenario": "IOP-EXC-001", "client": "php", "worker": "abraxas",
         "server": "refserver", "case_id": "IOP-EXC-001/php->abraxas@refserver",
         "verdict": "UNSUPPORTED", "message": "no WORK_EXCEPTION"},
    ]
    (folder / "interop.json").write_text(json.dumps({"schema": "gearcheck-interop/1",
                                                     "cells": cells}))
    lib = folder / "libraries" / "php"
    lib.mkdir(parents=True)
    (lib / "report.json").write_text(json.dumps({"results": [
        {"case_id": "GM-LIB-001", "area": "submit", "verdict": "PASS", "message": ""},
        {"case_id": "GM-LIB-002", "area": "submit", "verdict": "XFAIL", "message": "known"}]}))
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> tuple[Path, Path]:
    matrix = tmp_path / "matrix"
    cols: list[MatrixColumn] = columns()
    cols[0].name = "gearmand-1.1.20"  # the registry's name; interop says "gearmand"
    cols[0].report_href = "gearmand-1.1.20/report.html"
    write_matrix(cols, matrix)
    for col in cols:  # the per-server pages the matrix run would have written
        if col.report_href:
            (matrix / col.report_href).parent.mkdir(parents=True, exist_ok=True)
            (matrix / col.report_href).write_text("<html></html>")
    interop = _interop(tmp_path / "interop")
    (interop / "index.html").write_text("<html></html>")
    (interop / "libraries" / "php" / "report.html").write_text("<html></html>")
    return matrix, interop


def test_rows_are_implementations_and_columns_areas_then_features(
        reports: tuple[Path, Path], tmp_path: Path) -> None:
    matrix, interop = reports
    data = build_compat(tmp_path / "compat", matrix, interop)
    names = [(r["kind"], r["name"]) for r in data["rows"]]
    # servers in the matrix's order (then those only interop saw), libraries by name
    assert names == [("server", "gearmand-1.1.20"), ("server", "perl"), ("server", "broken"),
                     ("server", "refserver"), ("library", "abraxas"), ("library", "php")]
    groups = [c["group"] for c in data["columns"]]
    assert groups == sorted(groups, key=["area", "feature"].index)
    keys = [c["key"] for c in data["columns"]]
    assert "feature:IOP-PRI-001" in keys and "area:submit" in keys
    pri = next(c for c in data["columns"] if c["key"] == "feature:IOP-PRI-001")
    assert pri["label"] == "priorities"  # from the shipped scenario file's name


def test_cells_count_verdicts_and_link_to_the_worst_case(reports: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    matrix, interop = reports
    data = build_compat(tmp_path / "compat", matrix, interop)
    rows = {(r["kind"], r["name"]): r for r in data["rows"]}
    # gearmand: interop runs through it count under the registry name
    gearmand = rows[("server", "gearmand-1.1.20")]
    pri = gearmand["cells"]["feature:IOP-PRI-001"]
    assert (pri["passed"], pri["failed"], pri["text"], pri["status"]) == (1, 1, "1/2", "partial")
    assert pri["href"] == "../interop/index.html#c-IOP-PRI-001-abraxas--php-gearmand"
    # a conformance area cell links into that server's own report, at the worst case
    areas = {k: v for k, v in gearmand["cells"].items() if k.startswith("area:")}
    assert areas and all(c["href"].startswith("../matrix/gearmand-1.1.20/report.html#")
                         for c in areas.values())
    worst = min(areas.values(), key=lambda c: c["status"] == "pass")
    assert worst["worst"] != "PASS"
    # a library: its interop runs as client or worker, and its as-server report's areas
    php = rows[("library", "php")]
    assert php["cells"]["feature:IOP-PRI-001"]["text"] == "1/2"
    assert php["cells"]["feature:IOP-EXC-001"]["status"] == "na"
    submit = php["cells"]["area:submit"]
    assert (submit["text"], submit["status"]) == ("1/2", "partial")  # XFAIL counts as failed
    assert submit["href"] == "../interop/libraries/php/report.html#GM-LIB-002"
    assert php["interop"]["unsupported"] == 1
    # a server that did not run is a row with its error, no cells
    assert rows[("server", "broken")]["notes"] == ["did not run: TargetError: exited with code 1"]
    assert rows[("server", "broken")]["cells"] == {}


def test_the_page_links_every_cell_and_the_summary_has_a_line_each(
        reports: tuple[Path, Path], tmp_path: Path) -> None:
    matrix, interop = reports
    out = write_compat(tmp_path / "compat", matrix, interop)
    page = out.html.read_text()
    data = json.loads(out.json.read_text())
    linked = sum(1 for r in data["rows"] for c in r["cells"].values() if c["href"])
    assert page.count("<a href=") == linked > 0
    for row in data["rows"]:
        for cell in row["cells"].values():
            target = cell["href"].split("#")[0]
            assert (out.html.parent / target).resolve().exists(), cell["href"]
    summary = out.markdown.read_text()
    assert summary == summary_markdown(data)
    assert len([line for line in summary.splitlines() if line.startswith("| ")]) == 1 + len(
        data["rows"])
    assert "| php | library | - |" in summary


def test_nothing_to_combine_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CompatError, match="no reports to combine"):
        build_compat(tmp_path, tmp_path / "m", tmp_path / "i")
    out = subprocess.run([sys.executable, "-m", "gearcheck", "compat", "--matrix",
                          str(tmp_path / "m"), "--interop", str(tmp_path / "i"), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 2 and "no reports to combine" in out.stderr
    assert "Traceback" not in out.stderr


def test_only_the_matrix_is_enough(reports: tuple[Path, Path], tmp_path: Path) -> None:
    matrix, _ = reports
    data = build_compat(tmp_path / "compat", matrix, None)
    assert {r["kind"] for r in data["rows"]} == {"server"}
    assert Verdict.PASS.value == "PASS"
