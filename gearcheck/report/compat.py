"""One compatibility table: every implementation down, protocol areas and features across.

Strategy: the page is built from the reports the matrix and interop runs
already wrote, never by running anything:

* ``matrix.json`` (``gearcheck matrix``): one row per server; one column per
  protocol area of the conformance suite (framing, submit, unique, TLS ...),
  each cell the server's cases in that area.
* ``interop.json`` (``gearcheck interop``): one row per client library, one
  column per interop scenario (priorities, WORK_STATUS, binary payloads ...),
  each cell the library's runs as client or as worker, across every partner
  library and server; servers get these columns too (the runs through them).
* ``libraries/<name>/report.json`` (the harness as the server): the library
  rows' protocol-area cells.

A cell counts verdicts: passed (PASS, NON-STRICT), failed (FAIL, XFAIL, XPASS:
an expected failure is still a defect), errors (the run could not judge) and
not applicable (UNSUPPORTED); it shows ``passed/judged`` and links to the
evidence of its worst case (the case in the server's report.html, the cell in
interop's index.html). A blank cell means no data, never a pass. The same
data goes to compat.json, and ``summary_markdown`` is the short table the
README carries (implementation, kind, version, pass rates, date).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import paths
from ..targets.registry import RegistryError, find, load_registry
from ..yaml_positions import load_documents

COMPAT_SCHEMA = "gearcheck-compat/1"
PASSED = ("PASS", "NON-STRICT")
FAILED = ("FAIL", "XFAIL", "XPASS")
AREA_LABELS = {
    "frame": "framing", "echo": "echo", "submit": "submit & priority", "bg": "background",
    "uniq": "unique ids", "worker": "worker lifecycle", "grab": "grab variants",
    "status": "status", "work": "work results", "opt": "options", "sched": "epoch & sched",
    "reduce": "reduce", "admin": "admin text", "err": "errors", "fault": "faults",
    "multi": "multi-server", "mut": "mutation probes", "tls": "TLS",
}
WORST = ("ERROR", "XPASS", "FAIL", "XFAIL", "NON-STRICT", "UNSUPPORTED", "PASS")


class CompatError(ValueError):
    """An input report cannot be read; the message names the file."""


@dataclass
class Cell:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    unsupported: int = 0
    href: str | None = None
    worst: str = "PASS"
    note: str = ""

    def add(self, verdict: str, href: str | None, note: str) -> None:
        if verdict in PASSED:
            self.passed += 1
        elif verdict in FAILED:
            self.failed += 1
        elif verdict == "UNSUPPORTED":
            self.unsupported += 1
        else:
            self.errors += 1
        if self.href is None or WORST.index(verdict) < WORST.index(self.worst):
            self.worst, self.href, self.note = verdict, href, note

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def status(self) -> str:
        if self.judged == 0:
            return "error" if self.errors else "na"
        if self.failed == 0 and self.errors == 0:
            return "pass"
        return "partial" if self.passed * 2 >= self.judged else "fail"

    def text(self) -> str:
        if self.judged == 0:
            return "error" if self.errors else "n/a"
        return f"{self.passed}/{self.judged}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "errors": self.errors,
                "unsupported": self.unsupported, "status": self.status, "text": self.text(),
                "href": self.href, "worst": self.worst, "note": self.note}


@dataclass
class Row:
    name: str
    kind: str                      # "server" or "library"
    title: str = ""
    version: str = ""
    notes: list[str] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)

    def cell(self, column: str) -> Cell:
        return self.cells.setdefault(column, Cell())

    def total(self, prefix: str) -> Cell:
        out = Cell()
        for key, cell in self.cells.items():
            if key.startswith(prefix):
                out.passed += cell.passed
                out.failed += cell.failed
                out.errors += cell.errors
                out.unsupported += cell.unsupported
        return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CompatError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CompatError(f"{path}: expected a JSON object")
    return data


def _rel(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target, page_dir)).as_posix()


def _anchor(case_id: str) -> str:  # the interop page's cell anchors (interop.matrix_report)
    return "c-" + "".join(ch if ch.isalnum() else "-" for ch in case_id)


def _feature_labels() -> dict[str, tuple[str, str]]:
    """Interop scenario id -> (short label, title), from the shipped scenario files."""
    labels: dict[str, tuple[str, str]] = {}
    folder = paths.INTEROP_DIR / "scenarios"
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = load_documents(path.read_text(encoding="utf-8"))[0]
        except Exception:  # a broken scenario is the interop loader's to report
            continue
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            stem = path.stem.split("-", 2)[-1] if path.stem.count("-") >= 2 else path.stem
            labels[doc["id"]] = (stem.replace("-", " "), str(doc.get("title", "")))
    return labels


def _pinned_versions() -> dict[str, str]:
    """Registered name -> the version its target class reports (the pinned build's)."""
    versions: dict[str, str] = {}
    try:
        specs = load_registry()
    except RegistryError:
        return versions
    for spec in specs:
        try:
            version = getattr(spec.target_class(), "version", None)
            if callable(version):
                versions[spec.name] = str(version())
        except Exception:  # not installed here, or no way to ask: leave it to the report
            continue
    return versions


def _server_names() -> Any:
    """Interop names servers by alias (gearmand); the matrix by name (gearmand-1.1.20)."""
    try:
        specs = load_registry()
    except RegistryError:
        specs = []

    def canonical(name: str) -> str:
        try:
            return find(specs, name).name
        except RegistryError:
            return name
    return canonical


class CompatTable:
    def __init__(self, page_dir: Path) -> None:
        self.page_dir = page_dir
        self.rows: dict[str, Row] = {}
        self.columns: dict[str, dict[str, str]] = {}
        self.sources: list[str] = []

    def row(self, name: str, kind: str) -> Row:
        return self.rows.setdefault(f"{kind}:{name}", Row(name, kind))

    def column(self, key: str, group: str, label: str, title: str = "") -> str:
        self.columns.setdefault(key, {"key": key, "group": group, "label": label,
                                      "title": title})
        return key

    # -- inputs ------------------------------------------------------------------
    def add_matrix(self, matrix_dir: Path) -> None:
        data = _read_json(matrix_dir / "matrix.json")
        self.sources.append(str(matrix_dir / "matrix.json"))
        pinned = _pinned_versions()
        for server in data.get("servers", []):
            row = self.row(server["name"], "server")
            row.title = server.get("title") or ""
            reported = str(server.get("version") or "")
            # a server that reports no version, or words instead of one: the version we pinned
            row.version = reported if any(ch.isdigit() for ch in reported) else \
                pinned.get(server["name"], reported)
            if server.get("error"):
                row.notes.append(f"did not run: {server['error']}")
            row.notes += [str(w) for w in server.get("warnings") or []
                          if "crashed" in str(w)]
        for case in data.get("cases", []):
            area = case.get("area") or "?"
            key = self.column(f"area:{area}", "area", AREA_LABELS.get(area, area))
            for name, cell in case.get("cells", {}).items():
                href = cell.get("href")
                target = _rel(matrix_dir / href, self.page_dir) if href else None
                self.row(name, "server").cell(key).add(
                    cell["verdict"], target, f"{case['case_id']}: {cell.get('message') or ''}")

    def add_interop(self, interop_dir: Path) -> None:
        data = _read_json(interop_dir / "interop.json")
        canonical = _server_names()
        self.sources.append(str(interop_dir / "interop.json"))
        labels = _feature_labels()
        page = _rel(interop_dir / "index.html", self.page_dir)
        for library, version in (data.get("library_versions") or {}).items():
            self.row(str(library), "library").version = str(version)
        for cell in data.get("cells", []):
            sid = cell.get("scenario", "?")
            label, title = labels.get(sid, (sid, ""))
            key = self.column(f"feature:{sid}", "feature", label, f"{sid}: {title}")
            verdict = cell.get("verdict", "ERROR")
            href = f"{page}#{_anchor(str(cell.get('case_id', '')))}"
            note = (f"{sid} {cell.get('client')} -> {cell.get('worker')} via "
                    f"{cell.get('server')}: {cell.get('message') or ''}")
            libraries = {cell.get("client"), cell.get("worker")}
            for library in sorted(x for x in libraries if x):
                self.row(str(library), "library").cell(key).add(verdict, href, note)
            if cell.get("server"):
                server = canonical(str(cell["server"]))
                self.row(server, "server").cell(key).add(verdict, href, note)
        libraries_dir = interop_dir / "libraries"
        for report_path in sorted(libraries_dir.glob("*/report.json")):
            self._add_library_report(report_path)

    def _add_library_report(self, report_path: Path) -> None:
        data = _read_json(report_path)
        self.sources.append(str(report_path))
        row = self.row(report_path.parent.name, "library")
        page = _rel(report_path.parent / "report.html", self.page_dir)
        for result in data.get("results", []):
            area = result.get("area") or "?"
            key = self.column(f"area:{area}", "area", AREA_LABELS.get(area, area))
            row.cell(key).add(result.get("verdict", "ERROR"), f"{page}#{result.get('case_id')}",
                              f"{result.get('case_id')}: {result.get('message') or ''}")

    # -- output ------------------------------------------------------------------
    def to_dict(self, generated_at: str | None = None) -> dict[str, Any]:
        order = {"area": 0, "feature": 1}
        area_order = list(AREA_LABELS)
        columns = sorted(self.columns.values(), key=lambda c: (
            order.get(c["group"], 9),
            area_order.index(c["key"][5:]) if c["key"][5:] in area_order else 99, c["key"]))
        # servers in the matrix's (the registry's) order, then libraries by name
        rows = [r for r in self.rows.values() if r.kind == "server"] + sorted(
            (r for r in self.rows.values() if r.kind != "server"), key=lambda r: r.name)
        return {
            "schema": COMPAT_SCHEMA,
            "generated_at": generated_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": self.sources,
            "columns": columns,
            "rows": [{"name": r.name, "kind": r.kind, "title": r.title, "version": r.version,
                      "notes": r.notes,
                      "conformance": r.total("area:").to_dict(),
                      "interop": r.total("feature:").to_dict(),
                      "cells": {k: c.to_dict() for k, c in r.cells.items()}} for r in rows],
        }


def build_compat(page_dir: Path, matrix_dir: Path | None = None,
                 interop_dir: Path | None = None) -> dict[str, Any]:
    """The table from whichever reports exist; ``CompatError`` when there are none."""
    table = CompatTable(page_dir)
    if matrix_dir is not None and (matrix_dir / "matrix.json").exists():
        table.add_matrix(matrix_dir)
    if interop_dir is not None and (interop_dir / "interop.json").exists():
        table.add_interop(interop_dir)
    if not table.sources:
        wanted = [str(d / name) for d, name in ((matrix_dir, "matrix.json"),
                                                (interop_dir, "interop.json")) if d]
        raise CompatError(f"no reports to combine: none of {', '.join(wanted)} exists "
                          "(run make matrix and make interop first)")
    return table.to_dict()


_CSS = """body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;text-align:center}
th{background:#f3f3f3;font-weight:600}th.name{text-align:left}td.name{text-align:left}
thead th{position:sticky;top:0}th.g-feature{background:#eef3fb}
td a{display:block;text-decoration:none;color:inherit;font-weight:600}
.pass{background:#c8e6c9}.partial{background:#fff3c4}.fail{background:#ffcdd2}
.error{background:#e1bee7}.na{background:#eeeeee;color:#777}.kind{color:#666;font-size:12px}
small{color:#666}"""


def render_html(data: dict[str, Any]) -> str:
    from html import escape as e

    columns = data["columns"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Gearman compatibility "
             f"table</title><style>{_CSS}</style></head><body>",
             "<h1>Gearman compatibility table</h1>",
             f"<p>Generated {e(data['generated_at'])} from {len(data['sources'])} report(s). "
             "Each cell is <b>passed/judged</b> for that implementation in that protocol area "
             "(conformance cases; for a library, the harness playing the server) or feature "
             "(interop scenarios, as client or worker, across partners and servers). Green: "
             "all passed; yellow: at least half; red: fewer; grey n/a: the implementation "
             "lacks the capability (UNSUPPORTED); purple: the run could not judge. A click "
             "opens the evidence of the cell's worst case. Known failures (baselined) count "
             "as failed.</p>",
             "<table><thead><tr><th class='name'>implementation</th><th>conformance</th>"
             "<th>interop</th>"]
    for col in columns:
        parts.append(f"<th class='g-{e(col['group'])}' title='{e(col['title'] or col['key'])}'>"
                     f"{e(col['label'])}</th>")
    parts.append("</tr></thead><tbody>")
    for row in data["rows"]:
        name = f"{e(row['name'])}<br><span class='kind'>{e(row['kind'])}" + (
            f" {e(row['version'])}" if row["version"] else "") + "</span>"
        if row["notes"]:
            name += "<br><small>" + "<br>".join(e(n) for n in row["notes"][:3]) + "</small>"
        cells = [f"<tr><td class='name' title='{e(row['title'])}'>{name}</td>"]
        for total in (row["conformance"], row["interop"]):
            blank = total["passed"] + total["failed"] + total["errors"] + total["unsupported"]
            cells.append(f"<td class='{total['status']}'>{e(total['text'])}</td>" if blank
                         else "<td></td>")
        for col in columns:
            cell = row["cells"].get(col["key"])
            if cell is None:
                cells.append("<td></td>")
                continue
            tip = e(f"{cell['passed']} passed, {cell['failed']} failed, {cell['errors']} "
                    f"errors, {cell['unsupported']} n/a; worst: {cell['note']}"[:400])
            link = (f"<a href='{e(cell['href'])}'>{e(cell['text'])}</a>" if cell["href"]
                    else e(cell["text"]))
            cells.append(f"<td class='{cell['status']}' title='{tip}'>{link}</td>")
        parts.append("".join(cells) + "</tr>")
    parts.append("</tbody></table><h2>Sources</h2><ul>")
    parts += [f"<li>{e(s)}</li>" for s in data["sources"]]
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def summary_markdown(data: dict[str, Any]) -> str:
    """The short table for the README: one line per implementation."""
    lines = [f"Compatibility summary ({data['generated_at'][:10]}; passed/judged, "
             "n/a = capability absent):", "",
             "| implementation | kind | version | conformance | interop |",
             "|---|---|---|---:|---:|"]
    for row in data["rows"]:
        lines.append(f"| {row['name']} | {row['kind']} | {row['version'] or '-'} | "
                     f"{_summary_cell(row['conformance'])} | {_summary_cell(row['interop'])} |")
    return "\n".join(lines) + "\n"


def _summary_cell(total: dict[str, Any]) -> str:
    if total["passed"] + total["failed"] + total["errors"] + total["unsupported"] == 0:
        return "-"
    extra = f" ({total['unsupported']} n/a)" if total["unsupported"] else ""
    return f"{total['text']}{extra}"


@dataclass
class CompatPaths:
    html: Path
    json: Path
    markdown: Path


def write_compat(out_dir: Path, matrix_dir: Path | None, interop_dir: Path | None
                 ) -> CompatPaths:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = build_compat(out_dir, matrix_dir, interop_dir)
    json_path = out_dir / "compat.json"
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path = out_dir / "index.html"
    html_path.write_text(render_html(data), encoding="utf-8")
    md_path = out_dir / "summary.md"
    md_path.write_text(summary_markdown(data), encoding="utf-8")
    return CompatPaths(html_path, json_path, md_path)
