"""What the clean-up after every case costs: the whole suite with and without it (a benchmark).

Each round runs the shipped suite twice against a fresh C gearmand given as
HOST:PORT (``--as gearmand``, ``--jobs 16``, as a user points it at their own
server): once as it runs by default, cleaning up after every case, once with
``--no-cleanup``, in alternating order so a busy machine slows both alike.
Measured per run: the wall time of the whole ``gearcheck conformance``
process, the CPU seconds (user + system) of that process and of gearmand, what
the clean-up did (report.json's ``cleanup``: jobs drained and cancelled,
functions dropped, its seconds summed over the cases), and how many functions
and connections the server still lists after the run. With ``--far-ms`` the
same pairs also run through a proxy that adds that round trip. Prints a line
per run and the medians, and writes ``reports/bench/cleanup-cost-<time>.json``.

    .venv/bin/python bench/cleanup_cost.py [--rounds 3] [--far-ms 50 --far-rounds 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from gearcheck import paths
from gearcheck.robustness.delay_proxy import DelayProxy
from gearcheck.targets import GearmandTarget
from gearcheck.wire import Address, Connection

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def listed(address: Address) -> tuple[int, int]:
    """(functions in status, connections in workers, not counting this one)."""
    with Connection.open(address, timeout=5) as conn:
        functions = len(conn.admin("status")) - 1
        connections = len(conn.admin("workers")) - 2
    return functions, connections


def one_run(clean: bool, far_ms: float, out: Path, timeout_s: float) -> dict[str, object]:
    with GearmandTarget(log_dir=out / "gearmand") as gearmand:
        assert gearmand.pid is not None
        server_cpu = cpu_of(gearmand.pid)
        address = gearmand.address
        proxy = DelayProxy(address, far_ms / 2000) if far_ms else None
        if proxy is not None:
            proxy.__enter__()
            assert proxy.address is not None
            address = proxy.address
        try:
            argv = [sys.executable, "-m", "gearcheck", "conformance", "--server", str(address),
                    "--as", "gearmand", "--jobs", "16", "--out", str(out / "report")]
            if not clean:
                argv.append("--no-cleanup")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout_s)
            wall = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            time.sleep(0.5)  # let the server finish with the closed connections
            functions, connections = listed(gearmand.address)
            server_cpu = cpu_of(gearmand.pid) - server_cpu
        finally:
            if proxy is not None:
                proxy.__exit__(None, None, None)
    report_path = out / "report" / "report.json"
    if not report_path.exists():
        raise SystemExit(f"gearcheck exited {proc.returncode} without a report\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    cleanup = report.get("cleanup", {})
    return {
        "clean_up": clean, "far_ms": far_ms, "exit": proc.returncode,
        "wall_s": round(wall, 2),
        "gearcheck_cpu_s": round(after.ru_utime - before.ru_utime
                                 + after.ru_stime - before.ru_stime, 2),
        "gearmand_cpu_s": round(server_cpu, 2),
        "cases": len(report["results"]),
        "counts": {k: v for k, v in report["counts"].items() if v},
        "cleanup": {k: cleanup.get(k) for k in ("cases", "drained", "cancelled", "dropped",
                                                "seconds")},
        "functions_listed_after": functions, "connections_after": connections,
    }


def median_of(runs: list[dict[str, object]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in runs), 2)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3,
                        help="pairs of loopback runs, with and without the clean-up")
    parser.add_argument("--far-ms", type=float, default=0.0,
                        help="also run pairs through a proxy adding this round trip")
    parser.add_argument("--far-rounds", type=int, default=1, help="pairs of far runs")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one suite run may take (default 900)")
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = args.out / f"cleanup-cost-{stamp}"
    plan = [(0.0, n) for n in range(args.rounds)]
    if args.far_ms:
        plan += [(args.far_ms, n) for n in range(args.far_rounds)]
    runs = []
    for far_ms, n in plan:
        for clean in ((True, False) if n % 2 == 0 else (False, True)):
            name = f"{'far' if far_ms else 'near'}-{n}-{'clean' if clean else 'keep'}"
            run = one_run(clean, far_ms, base / name, args.timeout)
            runs.append(run)
            print(f"{name:>14}: {run['wall_s']:6.1f} s wall, gearcheck "
                  f"{run['gearcheck_cpu_s']:5.1f} s CPU, gearmand "
                  f"{run['gearmand_cpu_s']:4.1f} s CPU, {run['counts']}, "
                  f"clean-up {run['cleanup']}, left: {run['functions_listed_after']} "
                  f"function(s), {run['connections_after']} connection(s)", flush=True)
    summary = {}
    for where in sorted({float(r["far_ms"]) for r in runs}):  # type: ignore[arg-type]
        for clean in (True, False):
            chosen = [r for r in runs if r["far_ms"] == where and r["clean_up"] is clean]
            key = f"{'far' if where else 'near'}-{'clean' if clean else 'keep'}"
            summary[key] = {k: median_of(chosen, k)
                            for k in ("wall_s", "gearcheck_cpu_s", "gearmand_cpu_s")}
            print(f"median {key:>10}: {summary[key]}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"cleanup-cost-{stamp}.json"
    path.write_text(json.dumps({
        "benchmark": "conformance suite with and without the clean-up after each case",
        "server": f"gearmand {GearmandTarget.version()}", "suite": str(paths.SUITE_DIR),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "at": stamp, "runs": runs, "medians": summary}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
