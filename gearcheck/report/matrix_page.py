"""The server matrix page: every server's run of the suite, side by side.

Strategy: a ``MatrixColumn`` per server (its report, or why there is none;
gearcheck.runs.server_matrix runs them). ``build_matrix`` makes a row per case
id (the union over servers, grouped by area) and a column per server, each cell
the verdict linking to ``<name>/report.html#<case id>``; a cell for a case a
server did not run is empty, never a pass. Below, each server's capability
profile side by side. matrix.json holds the same data for machines; index.html
renders it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..results import RunReport, Verdict
from .html_report import environment
from .summary_md import LEVEL_ORDER

MATRIX_SCHEMA = "gearcheck-matrix/1"

@dataclass
class MatrixColumn:
    """One server's outcome: a report (and where its HTML is), or why there is none."""

    name: str
    title: str = ""
    notes: str = ""
    report: RunReport | None = None
    report_href: str | None = None  # relative to the matrix's index.html
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def _capability_cells(capabilities: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Normalise a profile to ``{name: {"supported": bool, "evidence": str}}``."""
    cells: dict[str, dict[str, Any]] = {}
    for name, value in capabilities.items():
        if isinstance(value, dict) and "supported" in value:
            cells[name] = {"supported": bool(value["supported"]),
                           "evidence": str(value.get("evidence", ""))}
        elif isinstance(value, bool):
            cells[name] = {"supported": value, "evidence": ""}
        elif isinstance(value, dict):  # a nested group, e.g. {"packets": {...}}
            for sub, inner in _capability_cells(value).items():
                cells[f"{name}:{sub}"] = inner
    return cells


def build_matrix(columns: Iterable[MatrixColumn], generated_at: str | None = None
                 ) -> dict[str, Any]:
    columns = list(columns)
    servers = []
    cases: dict[str, dict[str, Any]] = {}
    for col in columns:
        report = col.report
        info: dict[str, Any] = {"name": col.name, "title": col.title, "notes": col.notes,
                                "error": col.error, "warnings": col.warnings,
                                "report": col.report_href, "address": None, "version": None,
                                "echo_rtt_us": None, "baseline": None, "counts": {},
                                "capabilities": {}}
        if report is not None:
            info.update(address=report.server.address, version=report.server.version,
                        echo_rtt_us=report.server.echo_rtt_us, baseline=report.baseline,
                        counts={k: v for k, v in report.counts().items() if v},
                        capabilities=_capability_cells(report.server.capabilities))
            for r in report.results:
                row = cases.setdefault(r.case_id, {"case_id": r.case_id, "title": r.title,
                                                   "area": r.area, "level": r.level,
                                                   "cells": {}})
                href = f"{col.report_href}#{r.case_id}" if col.report_href else None
                row["cells"][col.name] = {"verdict": r.verdict.value, "href": href,
                                          "message": r.message}
        servers.append(info)
    rows = sorted(cases.values(), key=lambda c: (c["area"], c["case_id"]))
    return {"schema": MATRIX_SCHEMA,
            "generated_at": generated_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "servers": servers, "cases": rows}


def render_matrix_html(data: dict[str, Any]) -> str:
    areas: dict[str, list[dict[str, Any]]] = {}
    for row in data["cases"]:
        areas.setdefault(row["area"] or "?", []).append(row)
    seen = {cell["verdict"] for row in data["cases"] for cell in row["cells"].values()}
    seen |= {v for s in data["servers"] for v in s["counts"]}
    verdicts = [v.value for v in Verdict if v.value in seen]
    levels = sorted({row["level"] for row in data["cases"]},
                    key=lambda lv: (LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else 99, lv))
    capability_names = sorted({c for s in data["servers"] for c in s["capabilities"]})
    servers = [dict(s, capability_cells=s["capabilities"]) for s in data["servers"]]
    return environment().get_template("matrix.html").render(
        servers=servers, cases=data["cases"], areas=list(areas.items()), verdicts=verdicts,
        levels=levels, capability_names=capability_names, generated_at=data["generated_at"])


@dataclass
class MatrixPaths:
    html: Path
    json: Path


def write_matrix(columns: Iterable[MatrixColumn], outdir: Path | str) -> MatrixPaths:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    data = build_matrix(columns)
    json_path = outdir / "matrix.json"
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path = outdir / "index.html"
    html_path.write_text(render_matrix_html(data), encoding="utf-8")
    return MatrixPaths(html_path, json_path)
