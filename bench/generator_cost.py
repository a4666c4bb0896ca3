"""Does the swarm cost less CPU per job than the server it measures? (a benchmark)

    .venv/bin/python bench/generator_cost.py [--duration 10] [--repeat 3]   # make bench-generator

Against a fresh C gearmand per run (its defaults, log level ERROR), two
saturating profiles, each from one Locust process and from two (a master and
two --worker processes; the master's CPU counts too):
  fg   16 client users x 16 foreground jobs in flight, 32 worker users, no
       service time: submit, JOB_CREATED, grab, assign, complete, result
  bg   8 client users x 500 background submissions in flight (pipelined),
       no workers: submit and JOB_CREATED
Each run is a normal ``gearcheck load``, so the figure includes everything
the swarm does per job (codec, HDR histograms, ledger, Locust statistics).
The runner reads user + system CPU of every Locust process and of gearmand
from /proc over the loaded window (summary["cpu"]); this prints generator
CPU / server CPU for the same jobs, each side's CPU per job and share of a
core, and the jobs/s, and the median of ``--repeat`` runs. A ratio at or
below 1 means the generator needs no more CPU than the server to push a job
through, so on a machine with cores to spare the server is the limit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gearcheck.swarm.runner import run_load
from gearcheck.targets import open_target

FG = """\
name: cost-fg
duration: {d}s
users: 16
drain_timeout: 10s
clients:
  - name: fg
    functions: [cost_fg]
    payload_bytes: 64
    in_flight: 16
workers:
  - name: w
    count: 32
    functions: [cost_fg]
thresholds: {{}}
"""

BG = """\
name: cost-bg
duration: {d}s
users: 8
drain_timeout: 1s
clients:
  - name: bg
    functions: [cost_bg]
    background: 1.0
    payload_bytes: 64
    in_flight: 500
thresholds: {{}}
"""

PROFILES = {"fg": FG, "bg": BG}


def measure(label: str, processes: int, duration: int, root: Path, run: int,
            server: str) -> dict[str, Any]:
    path = root / f"{label}.yaml"
    path.write_text(PROFILES[label].format(d=duration))
    with open_target(server, log_dir=root / "server") as target:  # fresh: an empty queue
        result = run_load(path, server=str(target.address), out_root=root, quiet=True,
                          run_name=f"{label}-{processes}p-{run}",
                          workers=0 if processes == 1 else processes)
    if result.summary is None:
        raise RuntimeError(f"{label}: the run failed: {result.problems}")
    cpu = result.summary["cpu"]
    if "generator_per_server_cpu" not in cpu:
        raise RuntimeError(f"{label}: no CPU figures: {cpu}")
    return {"jobs_per_s": result.summary["throughput"]["jobs_per_s"],
            "ratio": cpu["generator_per_server_cpu"],
            "generator_us_per_job": cpu["generator_us_per_job"],
            "server_us_per_job": cpu["server_us_per_job"],
            "generator_shares": cpu["generator_shares"], "server_share": cpu["server_share"],
            "warning": cpu.get("warning")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default="gearmand", help="a registered server name")
    parser.add_argument("--only", default="fg,bg", help="profiles to run (fg,bg)")
    parser.add_argument("--processes", default="1,2", help="Locust process counts")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    args = parser.parse_args()
    if args.duration < 3 or args.repeat < 1:
        parser.error("--duration must be at least 3 (seconds) and --repeat at least 1")
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for label in args.only.split(","):
                for processes in (int(p) for p in args.processes.split(",")):
                    key = f"{label} {processes}p"
                    try:
                        fig = measure(label, processes, args.duration, Path(tmp), i,
                                      args.server)
                    except RuntimeError as exc:
                        print(exc, file=sys.stderr)
                        return 2
                    runs.setdefault(key, []).append(fig)
                    print(f"  {key} run {i + 1}: {fig['jobs_per_s']:,.0f} jobs/s, generator/"
                          f"server CPU {fig['ratio']:.2f} ({fig['generator_us_per_job']:.1f} "
                          f"vs {fig['server_us_per_job']:.1f} µs/job; shares "
                          f"{'+'.join(f'{s:.0%}' for s in fig['generator_shares'])} vs "
                          f"{fig['server_share']:.0%})"
                          + (f"  [{fig['warning']}]" if fig["warning"] else ""),
                          file=sys.stderr)
    print(f"generator CPU / {args.server} CPU over the loaded window, median of "
          f"{args.repeat} (each run: {args.duration}s):")
    for key, figs in runs.items():
        def med(k: str, figs: list[dict[str, Any]] = figs) -> float:
            return statistics.median(f[k] for f in figs)
        each = ", ".join(f"{f['ratio']:.2f}" for f in figs)
        print(f"  {key:7} ratio {med('ratio'):.2f} (runs {each}); "
              f"generator {med('generator_us_per_job'):.1f} µs/job, server "
              f"{med('server_us_per_job'):.1f} µs/job; {med('jobs_per_s'):,.0f} jobs/s")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"generator-cost-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"server": args.server, "duration_s": args.duration,
                               "runs": runs}, indent=2))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
