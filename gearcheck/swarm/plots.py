"""PNG plots of a run, drawn from summary.json (matplotlib, Agg backend).

Strategy: three figures, each one question, each readable on its own (title
with profile, server and duration; labelled axes with units; a legend that
says what each line measures):
  throughput.png  jobs per second over time: submitted, JOB_CREATED received,
                  final results received, executed by the workers. Lines that
                  coincide (a healthy run) stay visible through distinct styles.
  latency.png     per-second p50/p90/p99 (log scale, milliseconds): colour is
                  the percentile, line style the measurement (submit->result,
                  submit->JOB_CREATED, intended send->result).
  queue.png       what the server held (admin ``status``): jobs queued and
                  running, and capable workers (``status`` counts a worker once
                  per function it can do) on a second axis.
Stage boundaries of the profile are shaded so a spike is easy to find, and the
drain (after the last stage) is marked. Only the summary is read, so plots
can be redrawn from an old run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

TIME_LABEL = "time since the load started (s)"
_THROUGHPUT = (("submitted", "submitted (sent by clients)", "-", 3.0),
               ("created", "JOB_CREATED received", "--", 2.0),
               ("results", "final results received (fg)", "-.", 2.0),
               ("executed", "executed by workers", ":", 2.5))
_METRICS = (("result", "submit → result", "-"), ("created", "submit → JOB_CREATED", "--"),
            ("result_intended", "intended send → result", ":"))
_PERCENTILE_COLOURS = {"p50": "tab:blue", "p90": "tab:orange", "p99": "tab:red"}


def draw_all(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [_throughput(summary, out_dir / "throughput.png"),
             _latency(summary, out_dir / "latency.png"),
             _queue(summary, out_dir / "queue.png")]
    if summary.get("capacity", {}).get("steps"):
        paths.append(_capacity(summary, out_dir / "capacity.png"))
    return paths


def _capacity(summary: dict[str, Any], path: Path) -> Path:
    """The knee: each step's latency percentile against the throughput it achieved."""
    capacity = summary["capacity"]
    steps = sorted(capacity["steps"], key=lambda s: s["offered_rate"])
    fig, ax = plt.subplots(figsize=(8, 5))
    for held, colour, label in ((True, "tab:green", "held"), (False, "tab:red", "broke")):
        xs = [s["achieved_rate"] for s in steps if s["held"] is held and s["latency_us"]]
        ys = [s["latency_us"] / 1000 for s in steps if s["held"] is held and s["latency_us"]]
        ax.scatter(xs, ys, color=colour, label=f"step {label} the target", zorder=3)
    line = [(s["achieved_rate"], s["latency_us"] / 1000) for s in steps if s["latency_us"]]
    if line:
        ax.plot(*zip(*line, strict=True), color="grey", linewidth=1, zorder=2)
    slo = capacity["slo_label"]
    limit_ms = float(slo.rsplit("<", 1)[1].split()[0])
    ax.axhline(limit_ms, color="tab:red", linestyle="--", label=f"target: {slo}")
    if capacity["capacity_throughput"]:
        ax.axvline(capacity["capacity_throughput"], color="tab:green", linestyle=":",
                   label=f"capacity: {capacity['capacity_rate']:,.0f} jobs/s offered")
    ax.set_yscale("log")
    ax.set_xlabel("throughput achieved in the step (jobs/s)")
    ax.set_ylabel(f"{slo.split()[0]} {slo.split()[1]} (ms, log scale)")
    profile = summary["profile"]
    ax.set_title(f"latency against throughput, step by step\n{profile['name']} against "
                 f"{summary['server']}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _title(summary: dict[str, Any], what: str) -> str:
    profile = summary["profile"]
    return (f"{what}\n{profile['name']} against {summary['server']}, "
            f"{profile.get('duration_s', 0):g} s of load")


def _stages(ax: Axes, summary: dict[str, Any]) -> None:
    """Shade every other stage and mark where the drain begins."""
    start = 0.0
    for i, stage in enumerate(summary["profile"].get("stages", [])):
        end = start + float(stage["duration"])
        if i % 2:
            ax.axvspan(start, end, color="0.93", zorder=0)
        ax.text((start + end) / 2, 0.99, f"{stage['kind']}\n{stage['users']} users",
                transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7,
                color="0.35", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7})
        start = end
    if start:
        ax.axvline(start, color="0.5", linestyle="--", linewidth=1)
        ax.text(start, 0.5, " drain", transform=ax.get_xaxis_transform(), va="top",
                fontsize=7, color="0.35")


def _finish(fig: Any, ax: Axes, path: Path) -> Path:
    ax.grid(alpha=0.3, which="both")
    ax.set_xlabel(TIME_LABEL)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _throughput(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["over_time"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    t = [r["t"] for r in rows]
    for kind, label, style, width in _THROUGHPUT:
        values = [r.get(kind, 0) for r in rows]
        if any(values):
            ax.plot(t, values, style, linewidth=width, label=f"{label}: "
                    f"{sum(values):,} jobs")
    _stages(ax, summary)
    ax.set_ylabel("jobs per second")
    ax.margins(y=0.2)  # headroom for the stage labels
    ax.set_ylim(bottom=0)
    ax.set_title(_title(summary, "Throughput"), fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _finish(fig, ax, path)


def _latency(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["over_time"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    drawn = False
    for metric, label, style in _METRICS:
        for p, colour in _PERCENTILE_COLOURS.items():
            key = f"{metric}_{p}_us"
            pts = [(r["t"], r[key] / 1000) for r in rows if key in r]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], style, color=colour,
                        linewidth=1.8, label=f"{label}, {p}")
                drawn = True
    _stages(ax, summary)
    if drawn:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no latency recorded", transform=ax.transAxes, ha="center")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title(_title(summary, "Latency percentiles, per second of the run"), fontsize=10)
    return _finish(fig, ax, path)


def _queue(summary: dict[str, Any], path: Path) -> Path:
    rows = summary["server_status"]["samples"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    t = [r["t"] for r in rows]
    ax.plot(t, [r["queued"] for r in rows], "-", linewidth=2, color="tab:blue",
            label="jobs queued (waiting for a worker)")
    ax.plot(t, [r["running"] for r in rows], "--", linewidth=2, color="tab:orange",
            label="jobs running (held by a worker)")
    ax.set_ylabel("jobs on the server")
    ax.margins(y=0.2)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(t, [r["workers"] for r in rows], ":", linewidth=2, color="tab:green",
             label="capable workers, summed over\nthe profile's functions (right axis)")
    ax2.set_ylabel("capable workers (sum over functions)")
    ax2.margins(y=0.2)
    ax2.set_ylim(bottom=0)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    _stages(ax, summary)
    ax.set_title(_title(summary, "Server status (admin 'status', polled)"), fontsize=10)
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", bbox_to_anchor=(1.08, 1.0),
              fontsize=8, frameon=False)
    return _finish(fig, ax, path)
