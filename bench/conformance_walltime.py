"""Wall time of the whole conformance suite against gearmand, near and far (a benchmark).

One C gearmand is started on a free loopback port for the whole measurement
and stopped at the end. The suite then runs against it in a fresh
``gearcheck conformance`` process per configuration, as a user would run it
against a gearmand of theirs (``--server HOST:PORT --as gearmand``: its
baseline applied, the extra servers that multi-server, restart and durability
cases need started by the harness):

    loopback, one case at a time   (--jobs 1)
    loopback, cases side by side   (--jobs 16, the default)
    through a proxy that adds a 50 ms round trip (--far-ms), side by side
    (and one at a time too with --far-serial: about 150 s)

The clock covers the whole process (start-up, collection, capability probe,
cases, reports). Each run's report.json gives the case count and the verdicts,
and the far runs' verdicts are compared with the loopback ones. Prints a line
per run and writes ``reports/bench/conformance-walltime-<time>.json`` (each run's
reports next to it). Usage:

    .venv/bin/python bench/conformance_walltime.py [--jobs 1 16] [--far-ms 50] [--far-serial]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from gearcheck import paths
from gearcheck.robustness.delay_proxy import DelayProxy
from gearcheck.targets import GearmandTarget, open_target
from gearcheck.wire import Address

ROOT = Path(__file__).resolve().parents[1]


def run_suite(address: Address, jobs: int, suite: Path, report_dir: Path,
              timeout_s: float) -> dict[str, object]:
    argv = [sys.executable, "-m", "gearcheck", "conformance", str(suite), "--server",
            str(address), "--as", "gearmand", "--out", str(report_dir), "--jobs", str(jobs)]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    wall = time.monotonic() - started
    report_path = report_dir / "report.json"
    if not report_path.exists():
        raise SystemExit(f"jobs={jobs}: gearcheck exited {proc.returncode} without a report\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    cases = len(report["results"])
    return {"jobs": jobs, "cases": cases, "wall_s": round(wall, 2),
            "s_per_case": round(wall / cases, 4) if cases else None,
            "counts": {k: v for k, v in report["counts"].items() if v},
            "verdicts": {r["case_id"]: r["verdict"] for r in report["results"]},
            "exit": proc.returncode, "report": str(report_path)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 16],
                        help="cases at once, on loopback (default: 1 16)")
    parser.add_argument("--far-ms", type=float, default=50.0,
                        help="round trip the proxy adds for the far runs (default 50)")
    parser.add_argument("--far-serial", action="store_true",
                        help="also run the far suite one case at a time (slow)")
    parser.add_argument("--suite", type=Path, default=paths.SUITE_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one suite run may take (default 900)")
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = args.out / f"conformance-walltime-{stamp}"
    runs = []
    with open_target("gearmand", log_dir=base / "gearmand") as gearmand:
        for jobs in args.jobs:
            print(f"loopback, --jobs {jobs} ...", flush=True)
            runs.append({"where": "loopback", **run_suite(gearmand.address, jobs, args.suite,
                                                          base / f"loopback-j{jobs}",
                                                          args.timeout)})
        far_jobs = [max(args.jobs)] + ([1] if args.far_serial else [])
        with DelayProxy(gearmand.address, args.far_ms / 2000) as proxy:
            assert proxy.address is not None
            for jobs in far_jobs:
                print(f"{args.far_ms:.0f} ms away, --jobs {jobs} ...", flush=True)
                runs.append({"where": f"{args.far_ms:.0f} ms round trip",
                             **run_suite(proxy.address, jobs, args.suite,
                                         base / f"far-j{jobs}", args.timeout)})
        version = GearmandTarget.version()
    reference = runs[0]["verdicts"]
    for run in runs:
        verdicts = run.pop("verdicts")
        run["differs_from_first"] = {k: [reference.get(k), v]  # type: ignore[union-attr]
                                     for k, v in verdicts.items()  # type: ignore[attr-defined]
                                     if reference.get(k) != v}  # type: ignore[union-attr]
        print(f"{run['where']:>18}, --jobs {run['jobs']:>2}: {run['cases']} cases in "
              f"{run['wall_s']:.1f} s  {run['counts']}  differs from the first run: "
              f"{run['differs_from_first'] or 'nothing'}")
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
