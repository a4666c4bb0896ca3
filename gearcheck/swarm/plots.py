"""PNG plots of a run, drawn from summary.json (matplotlib, Agg backend).

Strategy: three figures, each one question: how many jobs per second
(throughput.png), how long they took per second (latency.png: p50/p90/p99 of
submit->result and submit->JOB_CREATED, log scale, microseconds), and what the
server held (queue.png: queued, running and worker counts from ``status``).
Only the summary is read, so plots can be redrawn from an old run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def draw_all(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_throughput(summary, out_dir / "throughput.png"),
            _latency(summary, out_dir / "latency.png"),
            _queue(summary, out_dir / "queue.png")]


def _title(summary: dict[str, Any], what: str) -> str:
    return f"{summary['profile']['name']} @ {summary['server']}: {what}"


def _throughput(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["over_time"]
    fig, ax = plt.subplots(figsize=(9, 4))
    t = [r["t"] for r in rows]
    for kind in ("submitted", "created", "results", "executed"):
        values = [r.get(kind, 0) for r in rows]
        if any(values):
            ax.plot(t, values, label=kind)
    ax.set_xlabel("seconds")
    ax.set_ylabel("per second")
    ax.set_title(_title(summary, "throughput"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _latency(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["over_time"]
    fig, ax = plt.subplots(figsize=(9, 4))
    drawn = False
    for metric, style in (("result", "-"), ("created", "--"), ("result_intended", ":")):
        for p in ("p50", "p90", "p99"):
            key = f"{metric}_{p}_us"
            pts = [(r["t"], r[key]) for r in rows if key in r]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=f"{metric} {p}")
                drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    ax.set_xlabel("seconds")
    ax.set_ylabel("microseconds")
    ax.set_title(_title(summary, "latency percentiles per second"))
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _queue(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["server_status"]["samples"]
    fig, ax = plt.subplots(figsize=(9, 4))
    t = [r["t"] for r in rows]
    ax.plot(t, [r["queued"] for r in rows], label="queued")
    ax.plot(t, [r["running"] for r in rows], label="running")
    ax.set_xlabel("seconds")
    ax.set_ylabel("jobs")
    ax2 = ax.twinx()
    ax2.plot(t, [r["workers"] for r in rows], "g:", label="workers (right)")
    ax2.set_ylabel("workers")
    ax.set_title(_title(summary, "server status (admin 'status')"))
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
