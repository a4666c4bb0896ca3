"""The matrix as files: reports/interop/interop.json and index.html.

Strategy: interop.json is the whole result (every cell as the shared
``CaseResult`` dict plus its client, worker, server and scenario), so other
tools read it without this package. index.html is self-contained: per
server, per scenario, a client x worker grid of verdicts, each cell linking
to its details (message, baseline reason, both programs' events and stderr).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..results import Verdict
from .matrix import MatrixResult
from .registry import LIBRARY_VERSIONS

SCHEMA = "gearcheck-interop/1"
COLOURS = {"PASS": "#2e7d32", "NON-STRICT": "#7cb342", "FAIL": "#c62828", "UNSUPPORTED": "#9e9e9e",
           "ERROR": "#6a1b9a", "XFAIL": "#ef6c00", "XPASS": "#d81b60"}
SHORT = {"PASS": "ok", "NON-STRICT": "~ok", "FAIL": "FAIL", "UNSUPPORTED": "n/a",
         "ERROR": "ERR", "XFAIL": "xfail", "XPASS": "XPASS"}


def to_dict(m: MatrixResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "started_at": m.started_at, "duration_s": m.duration_s,
        "baseline": m.baseline, "servers": m.servers, "libraries": m.libraries,
        "library_versions": {name: LIBRARY_VERSIONS.get(name, "") for name in m.libraries},
        "counts": m.counts(),
        "cells": [{"scenario": c.scenario.id, "client": c.client.name, "worker": c.worker.name,
                   "server": c.server, **r.to_dict()} for c, r in m.cells],
    }


def write_json(m: MatrixResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(m), indent=1, default=str), encoding="utf-8")
    return path


def _anchor(case_id: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() else "-" for ch in case_id)


def write_html(m: MatrixResult, path: Path) -> Path:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>gearcheck interop matrix"
        "</title><style>body{font:14px system-ui,sans-serif;margin:1.5em}"
        "table{border-collapse:collapse;margin:.4em 0 1.2em}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:center}th{background:#f3f3f3}"
        "a.v{color:#fff;display:block;text-decoration:none;font-weight:600}"
        "pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:30em;font-size:12px}"
        "details{margin:.3em 0}</style></head><body>",
        "<h1>gearcheck interop matrix</h1>",
        f"<p>Started {e(m.started_at)}, {m.duration_s:.0f} s. Baseline: {e(str(m.baseline))}. "
        "Counts: " + ", ".join(f"{k} {v}" for k, v in m.counts().items() if v) + "</p>",
        "<p>Rows are client libraries, columns worker libraries. ok = PASS, ~ok = NON-STRICT "
        "(a tolerated alternative), n/a = UNSUPPORTED (the library lacks the feature), xfail = "
        "a known library bug from fixtures/baselines/interop.yaml.</p>",
    ]
    by_server: dict[str, dict[str, list[Any]]] = {}
    for cell, r in m.cells:
        by_server.setdefault(cell.server, {}).setdefault(cell.scenario.id, []).append((cell, r))
    for server, scenarios in by_server.items():
        info = m.servers.get(server, {})
        where = str(info.get("address", info.get("error", "")))
        parts.append(f"<h2>Server: {e(server)} <small>{e(where)}</small></h2>")
        for sid, items in scenarios.items():
            title = items[0][0].scenario.title
            clients = sorted({c.client.name for c, _ in items})
            workers = sorted({c.worker.name for c, _ in items})
            grid = {(c.client.name, c.worker.name): r for c, r in items}
            parts.append(f"<h3>{e(sid)}: {e(title)}</h3><table><tr><th>client \\ worker</th>"
                         + "".join(f"<th>{e(w)}</th>" for w in workers) + "</tr>")
            for cname in clients:
                row = [f"<tr><th>{e(cname)}</th>"]
                for wname in workers:
                    shown = grid.get((cname, wname))
                    if shown is None:
                        row.append("<td></td>")
                        continue
                    v = shown.verdict.value
                    row.append(f"<td style='background:{COLOURS[v]}'><a class='v' "
                               f"href='#{_anchor(shown.case_id)}' title='{e(shown.message)}'>"
                               f"{SHORT[v]}</a></td>")
                parts.append("".join(row) + "</tr>")
            parts.append("</table>")
    parts.append("<h2>Cell details</h2>")
    for _cell, r in m.cells:
        v = r.verdict.value
        evidence = json.dumps(r.evidence, indent=1, default=str)
        if len(evidence) > 60000:
            evidence = evidence[:60000] + "\n... (cut; the whole evidence is in interop.json)"
        open_attr = " open" if r.verdict in (Verdict.FAIL, Verdict.XPASS, Verdict.ERROR) else ""
        parts.append(
            f"<details id='{_anchor(r.case_id)}'{open_attr}><summary><b style='color:"
            f"{COLOURS[v]}'>{v}</b> {e(r.case_id)} ({r.duration_s:.2f} s): {e(r.message)}"
            f"</summary><pre>{e(evidence)}</pre></details>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_all(m: MatrixResult, outdir: Path) -> dict[str, Path]:
    return {"json": write_json(m, outdir / "interop.json"),
            "html": write_html(m, outdir / "index.html")}
