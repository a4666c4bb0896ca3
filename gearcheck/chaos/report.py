"""chaos.json and index.html for a chaos run, with a timeline plot per cell.

Strategy: the JSON is the interface (per cell: server, back end, nemesis,
seed, the checker's counts, the verdict and the gate's outcome with the
baseline's reason, the first failures, where the history and reproducer
are); the HTML page is one table of the same cells plus, per cell, a PNG
drawn from its history alone: acknowledged submissions and executions
accumulating over time (the gap between the two lines is what the server
holds), each fault shaded over the span it lasted and labelled, and a red
mark for every failure. Everything is written by this module; no other
report writer is touched.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .history import Event

FAULT_COLOURS = {"kill": "tab:red", "stop": "tab:orange", "pause": "tab:purple",
                 "db-kill": "tab:brown", "db-restart": "tab:pink", "db-pause": "tab:olive",
                 "worker-kill": "tab:cyan", "client-gone": "tab:gray"}
TABLE_COUNTS = ("submitted", "acknowledged", "recovered", "lost", "duplicated", "unexpected",
                "altered", "wrong_client", "priority", "early", "unknown", "refused")


def plot_timeline(events: list[Event], failures: list[dict[str, Any]], title: str,
                  out: Path) -> None:
    acks = sorted(e["t"] for e in events if e["type"] == "ack")
    runs = sorted(e["t"] for e in events if e["type"] == "grab")
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=90)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.17)
    try:
        ax.step(acks, range(1, len(acks) + 1), where="post", label="acknowledged (JOB_CREATED)",
                color="tab:blue")
        ax.step(runs, range(1, len(runs) + 1), where="post", label="executions started",
                color="tab:green", linestyle="--")
        starts: dict[str, float] = {}
        labelled: set[str] = set()
        for e in events:
            if e["type"] != "nemesis":
                continue
            name = str(e["name"])
            if e["phase"] == "start":
                starts[name] = float(e["t"])
            elif name in starts:
                begin = starts.pop(name)
                ax.axvspan(begin, max(float(e["t"]), begin + 0.05), alpha=0.25,
                           color=FAULT_COLOURS.get(name, "tab:gray"),
                           label=name if name not in labelled else None)
                labelled.add(name)
        marks = [float(f["t"]) for f in failures if f.get("t") is not None]
        if marks:
            ax.plot(marks, [0] * len(marks), "|", color="red", markersize=14,
                    label=f"failures ({len(failures)})")
        for e in events:
            if e["type"] == "phase" and e.get("name") == "drain":
                ax.axvline(float(e["t"]), color="black", linewidth=0.8, linestyle=":")
                ax.text(float(e["t"]), 0, " drain", fontsize=7, va="bottom")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time since the run started (s)")
        ax.set_ylabel("jobs")
        ax.legend(fontsize=7, loc="upper left", ncol=2)
        ax.grid(alpha=0.3)
        fig.savefig(out)
    finally:
        plt.close(fig)


def write_json(out_dir: Path, run: dict[str, Any], cells: list[dict[str, Any]],
               soak: list[dict[str, Any]] | None = None) -> Path:
    path = out_dir / "chaos.json"
    path.write_text(json.dumps({"run": run, "cells": cells, "soak": soak or []}, indent=1)
                    + "\n")
    return path


_STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0}
td.l{text-align:left}
.PASS{background:#dff0d8}.XFAIL{background:#fcf8e3}.FAIL,.XPASS{background:#f2dede}
.ERROR{background:#e0c0ff}.SKIPPED{background:#eee}
.cell{margin:1.5em 0;border-top:1px solid #ddd;padding-top:.5em}
.failures{font-size:12px;font-family:monospace;white-space:pre-wrap}
"""


def write_html(out_dir: Path, run: dict[str, Any], cells: list[dict[str, Any]],
               soak: list[dict[str, Any]] | None = None) -> Path:
    e = html.escape
    rows = []
    for c in cells:
        counts = c.get("counts") or {}
        rows.append(
            f"<tr><td class=l><a href='#{e(c['name'])}'>{e(c['server'])}</a></td>"
            f"<td class=l>{e(c.get('backend') or 'memory')}</td><td class=l>{e(c['nemesis'])}</td>"
            + "".join(f"<td>{counts.get(k, '')}</td>" for k in TABLE_COUNTS)
            + f"<td class='{e(c['gate'])}'>{e(c['gate'])}</td>"
            f"<td class=l>{e('; '.join(c.get('baseline') or []))}</td></tr>")
    head = "".join(f"<th>{e(k.replace('_', ' '))}</th>" for k in TABLE_COUNTS)
    sections = []
    for c in cells:
        plot = f"<img src='{e(c['plot'])}' alt='timeline'>" if c.get("plot") else ""
        failures = "\n".join(f"{f['kind']}: {f['detail']}" for f in c.get("failures") or [])
        notes = "".join(f"<li>{e(n)}</li>" for n in c.get("notes") or [])
        repro = c.get("reproducer") or {}
        repro_html = (f"<p>reproducer: <code>{e(repro.get('command', ''))}</code> "
                      f"({e(repro.get('summary', ''))})</p>" if repro else "")
        sections.append(
            f"<div class=cell id='{e(c['name'])}'><h3>{e(c['name'])} "
            f"<span class='{e(c['gate'])}'>{e(c['gate'])}</span></h3>"
            f"<p>seed {c.get('seed')}, {c.get('seconds')} s, {c.get('faults_acted', 0)} fault(s); "
            f"history: <a href='{e(c.get('history') or '')}'>{e(c.get('history') or '')}</a></p>"
            f"{plot}<ul>{notes}</ul>{repro_html}<div class=failures>{e(failures)}</div></div>")
    soak_rows = "".join(
        f"<tr><td class=l>{e(s['server'])}</td><td class=l>{e(s.get('backend') or 'memory')}</td>"
        f"<td>{s['cycles']}</td><td>{s['jobs_per_cycle']}</td>"
        f"<td>{_mib(s.get('rss_start'))}</td><td>{_mib(s.get('rss_baseline'))}</td>"
        f"<td>{_mib(s.get('rss_end'))}</td><td>{e(str(s.get('returned')))}</td>"
        f"<td>{s.get('stuck', '')}</td><td class='{e(s['verdict'])}'>{e(s['verdict'])}</td></tr>"
        for s in soak or [])
    soak_html = ("<h2>Soak: fill and drain</h2><table><tr><th>server</th><th>back end</th>"
                 "<th>cycles</th><th>jobs/cycle</th><th>RSS start MiB</th>"
                 "<th>RSS after 1st drain MiB</th><th>RSS after last drain MiB</th>"
                 "<th>back to baseline</th><th>stuck</th><th>verdict</th></tr>"
                 f"{soak_rows}</table>" if soak else "")
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>gearcheck chaos</title>"
            f"<style>{_STYLE}</style></head><body><h1>gearcheck chaos</h1>"
            f"<p>{e(run.get('summary', ''))}</p>"
            f"<table><tr><th>server</th><th>back end</th><th>nemesis</th>{head}<th>gate</th>"
            f"<th>baseline reason</th></tr>{''.join(rows)}</table>{soak_html}"
            f"{''.join(sections)}</body></html>")
    path = out_dir / "index.html"
    path.write_text(page)
    return path


def _mib(value: Any) -> str:
    return f"{value / (1 << 20):.1f}" if isinstance(value, (int, float)) else ""
