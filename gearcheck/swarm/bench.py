"""``make bench``: the same load profiles against the reference server and gearmand.

Strategy: for each profile, start the reference server, run the profile
(``runner.run_load``), stop it; then the same with a fresh C gearmand; one
after the other in one process, so both see the same machine and the same
generator. The table gives jobs/s and latency for each, and the ratio
reference/gearmand (above 1 for throughput means the reference server did
more; above 1 for latency means it was slower). Results also go to
reports/bench/<run>/bench.json and bench.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..targets import open_target
from .runner import EXIT_HARNESS, run_load

SERVERS = ("refserver", "gearmand")  # registered names (fixtures/servers.yaml)


def _figures(summary: dict[str, Any] | None) -> dict[str, Any]:
    if not summary:
        return {}
    res = summary["latency"]["result"]["all"]
    cre = summary["latency"]["created"]["all"]
    return {"jobs_per_s": summary["throughput"]["jobs_per_s"],
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
    for profile in profiles:
        row: dict[str, Any] = {"profile": profile.stem}
        for label in SERVERS:
            console.print(f"[bold]bench[/bold] {profile.stem} on {label}")
            with open_target(label, log_dir=run_dir / "servers") as target:
                result = run_load(profile, server=str(target.address), out_root=run_dir,
                                  run_name=f"{profile.stem}-{label}", duration=duration)
            row[label] = _figures(result.summary)
            row[f"{label}_exit"] = result.exit_code
            if result.exit_code == EXIT_HARNESS:
                worst = EXIT_HARNESS
        rows.append(row)
    (run_dir / "bench.json").write_text(json.dumps(rows, indent=2))
    table = _table(rows)
    console.print(table)
    (run_dir / "bench.md").write_text(_markdown(rows))
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
            f"{_verdict(r)}/{_verdict(g)}"]


def _verdict(figures: dict[str, Any]) -> str:
    if "passed" not in figures:
        return "no run"
    return "pass" if figures["passed"] else "FAIL"


HEADERS = ["profile", "ref jobs/s", "gd jobs/s", "jobs/s ref/gd", "ref p99 ms", "gd p99 ms",
           "p99 ref/gd", "lost ref/gd", "thresholds ref/gd"]


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
