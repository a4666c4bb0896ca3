"""``make bench``: the same load profiles against the reference server and gearmand.

Strategy: for each profile, start the reference server, run the profile
(``runner.run_load``), stop it; then the same with a fresh C gearmand; one
after the other in one process, so both see the same machine and the same
generator. On a machine with two or more cores the server is pinned to the
first and the swarm to the others (``os.sched_setaffinity``), so neither takes
the other's core and a multi-threaded server is not favoured; the table says
what share of a core each side got. It gives jobs/s and latency for each, and
the ratio reference/gearmand (above 1 for throughput means the reference
server did more; above 1 for latency means it was slower). Capacity profiles
(``mode: capacity``) get their own table: the highest rate each server held
at the same target, side by side. Results also go to
reports/bench/<run>/bench.json and bench.md.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..targets import ProcessTarget, open_target
from .cpu import pin
from .runner import EXIT_HARNESS, run_load

SERVERS = ("refserver", "gearmand")  # registry names: each server at its own defaults


def _figures(summary: dict[str, Any] | None) -> dict[str, Any]:
    if not summary:
        return {}
    res = summary["latency"]["result"]["all"]
    cre = summary["latency"]["created"]["all"]
    cpu = summary.get("cpu", {})
    capacity = summary.get("capacity")
    return {"jobs_per_s": summary["throughput"]["jobs_per_s"],
            "server_share": cpu.get("server_share"),
            "generator_share": cpu.get("busiest_generator_share"),
            "generator_warning": cpu.get("warning"),
            "capacity": None if capacity is None else {
                "slo": capacity["slo_label"], "rate": capacity["capacity_rate"],
                "throughput": capacity["capacity_throughput"],
                "steps": len(capacity["steps"]), "stop_reason": capacity["stop_reason"]},
            "submitted_per_s": summary["throughput"]["submitted_per_s"],
            "result_p50_us": res.get("p50_us"), "result_p99_us": res.get("p99_us"),
            "created_p50_us": cre.get("p50_us"), "created_p99_us": cre.get("p99_us"),
            "lost": summary["invariants"]["lost"],
            "duplicated": summary["invariants"]["duplicated"], "passed": summary["passed"]}


def run_bench(profiles: list[Path], out_root: Path, duration: float | None,
              run_name: str | None = None) -> int:
    console = Console(stderr=True, width=140)
    run_dir = out_root / (run_name or time.strftime("%Y%m%d-%H%M%S"))
    rows: list[dict[str, Any]] = []
    worst = 0
    cores = sorted(os.sched_getaffinity(0))
    server_cpus, swarm_cpus = ({cores[0]}, set(cores[1:])) if len(cores) >= 2 else (None, None)
    if server_cpus:
        console.print(f"servers pinned to CPU {cores[0]}, the swarm to {cores[1:]}")
    else:
        console.print("one core: server and swarm share it (no pinning possible)")
    for profile in profiles:
        row: dict[str, Any] = {"profile": profile.stem}
        for label in SERVERS:
            console.print(f"[bold]bench[/bold] {profile.stem} on {label}")
            with open_target(label, log_dir=run_dir / "servers") as target:
                if server_cpus and isinstance(target, ProcessTarget) and target.pid:
                    pin(target.pid, server_cpus)
                result = run_load(profile, server=str(target.address), out_root=run_dir,
                                  run_name=f"{profile.stem}-{label}", duration=duration,
                                  cpus=swarm_cpus)
            row[label] = _figures(result.summary)
            row[f"{label}_exit"] = result.exit_code
            if result.exit_code == EXIT_HARNESS:
                worst = EXIT_HARNESS
        rows.append(row)
    (run_dir / "bench.json").write_text(json.dumps(rows, indent=2))
    load_rows = [r for r in rows if not _capacity_row(r)]
    capacity_rows = [r for r in rows if _capacity_row(r)]
    console.print(_table(load_rows))
    markdown = _markdown(load_rows)
    if capacity_rows:
        console.print(_capacity_table(capacity_rows))
        markdown += "\n" + _capacity_markdown(capacity_rows)
    (run_dir / "bench.md").write_text(markdown)
    console.print(f"bench reports: {run_dir}")
    return worst


def _ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
        and b else "-"


def _ms(us: Any) -> str:
    return f"{us / 1000:.2f}" if isinstance(us, (int, float)) else "-"


def _cells(row: dict[str, Any]) -> list[str]:
    r, g = row.get("refserver", {}), row.get("gearmand", {})
    return [row["profile"],
            f"{r.get('jobs_per_s', 0):.0f}", f"{g.get('jobs_per_s', 0):.0f}",
            _ratio(r.get("jobs_per_s"), g.get("jobs_per_s")),
            _ms(r.get("result_p99_us") or r.get("created_p99_us")),
            _ms(g.get("result_p99_us") or g.get("created_p99_us")),
            _ratio(r.get("result_p99_us") or r.get("created_p99_us"),
                   g.get("result_p99_us") or g.get("created_p99_us")),
            f"{r.get('lost', '-')}/{g.get('lost', '-')}",
            f"{_verdict(r)}/{_verdict(g)}",
            _share(r.get("server_share"), g.get("server_share")),
            _share(r.get("generator_share"), g.get("generator_share"))]


def _verdict(figures: dict[str, Any]) -> str:
    if "passed" not in figures:
        return "no run"
    return "pass" if figures["passed"] else "FAIL"


HEADERS = ["profile", "ref jobs/s", "gd jobs/s", "jobs/s ref/gd", "ref p99 ms", "gd p99 ms",
           "p99 ref/gd", "lost ref/gd", "thresholds ref/gd", "CPU share server ref/gd",
           "CPU share swarm ref/gd"]
CAPACITY_HEADERS = ["profile", "target", "ref capacity jobs/s", "gd capacity jobs/s",
                    "ref/gd", "ref steps (stop)", "gd steps (stop)"]


def _capacity_row(row: dict[str, Any]) -> bool:
    return any(row.get(s, {}).get("capacity") for s in SERVERS)


def _share(a: Any, b: Any) -> str:
    def one(x: Any) -> str:
        return f"{x:.0%}" if isinstance(x, (int, float)) else "-"
    return f"{one(a)}/{one(b)}"


def _capacity_cells(row: dict[str, Any]) -> list[str]:
    r = row.get("refserver", {}).get("capacity") or {}
    g = row.get("gearmand", {}).get("capacity") or {}

    def rate(c: dict[str, Any]) -> str:
        return f"{c['rate']:,.0f}" if c.get("rate") else "none held"
    return [row["profile"], r.get("slo") or g.get("slo") or "-", rate(r), rate(g),
            _ratio(r.get("rate"), g.get("rate")),
            f"{r.get('steps', '-')} ({r.get('stop_reason', '-')})",
            f"{g.get('steps', '-')} ({g.get('stop_reason', '-')})"]


def _capacity_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="capacity at the same latency target: the highest offered rate held")
    for h in CAPACITY_HEADERS:
        table.add_column(h, justify="left" if h in ("profile", "target") else "right")
    for row in rows:
        table.add_row(*_capacity_cells(row))
    return table


def _capacity_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(CAPACITY_HEADERS) + " |", "|" + "---|" * len(CAPACITY_HEADERS)]
    lines += ["| " + " | ".join(_capacity_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="reference server (ref) vs gearmand (gd); p99: result, or JOB_CREATED "
                        "for bg-only profiles")
    for h in HEADERS:
        table.add_column(h, justify="left" if h == "profile" else "right", no_wrap=True)
    for row in rows:
        table.add_row(*_cells(row))
    return table


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
