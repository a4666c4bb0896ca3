"""Wall time of the whole conformance suite against gearmand (not a test: a benchmark).

One C gearmand is started on a free loopback port for the whole measurement
and stopped at the end. The suite (``conformance/``) then runs against it
once per worker count (default 1 and 2 pytest-xdist workers), each run in a
fresh ``gearcheck conformance`` process, as a user would run it against a
gearmand of theirs (``--server HOST:PORT --target gearmand``): its baseline
applied, and the extra servers that multi-server, restart and durability cases
need started by the harness. The clock covers the whole process (collection,
capability probe, cases, reports). Each run's report.json gives the case count
and the verdicts.

Prints case count, wall time and seconds per case per run, and writes
``reports/bench/conformance-walltime-<time>.json`` (each run's reports next to it,
in ``conformance-walltime-<time>/n<workers>/``). Usage:

    .venv/bin/python bench/conformance_walltime.py [--workers 1 2] [--suite conformance]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gearcheck import paths
from gearcheck.targets import GearmandTarget

ROOT = Path(__file__).resolve().parents[1]
TARGET_NAME = "gearmand"  # its registry entry: baseline, and the extra servers started from it


def run_suite(address: str, workers: int, suite: Path, report_dir: Path,
              timeout_s: float) -> dict[str, object]:
    argv = [sys.executable, "-m", "gearcheck", "conformance", str(suite), "--server", address,
            "--target", TARGET_NAME, "--report-dir", str(report_dir), "-n", str(workers)]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    wall = time.monotonic() - started
    report_path = report_dir / "report.json"
    if not report_path.exists():
        raise SystemExit(f"workers={workers}: pytest exited {proc.returncode} without a "
                         f"report\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    cases = len(report["results"])
    return {"workers": workers, "cases": cases, "wall_s": round(wall, 2),
            "s_per_case": round(wall / cases, 4) if cases else None,
            "counts": {k: v for k, v in report["counts"].items() if v},
            "exit": proc.returncode, "report": str(report_path)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="xdist worker counts to measure (default: 1 2)")
    parser.add_argument("--suite", type=Path, default=paths.SUITE_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one suite run may take (default 900)")
    args = parser.parse_args()
    console = Console(stderr=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    runs = []
    with tempfile.TemporaryDirectory(prefix="gearcheck-bench-") as tmp, \
            GearmandTarget(log_dir=Path(tmp) / "gearmand", verbose="ERROR") as gearmand, \
            Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                     console=console) as progress:
        for workers in args.workers:
            task = progress.add_task(f"suite with {workers} xdist worker(s) against "
                                     f"gearmand at {gearmand.address}", total=1)
            runs.append(run_suite(str(gearmand.address), workers, args.suite,
                                  args.out / f"conformance-walltime-{stamp}" / f"n{workers}",
                                  args.timeout))
            progress.update(task, completed=1)
        version = GearmandTarget.version()
    for run in runs:
        print(f"workers={run['workers']}: {run['cases']} cases in {run['wall_s']:.1f} s "
              f"= {run['s_per_case']:.3f} s/case  {run['counts']}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"conformance-walltime-{stamp}.json"
    out.write_text(json.dumps({
        "benchmark": "conformance suite wall time", "server": f"gearmand {version}",
        "suite": str(args.suite), "machine": {"cpus": os.cpu_count(),
                                              "python": platform.python_version()},
        "at": stamp, "runs": runs,
    }, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
