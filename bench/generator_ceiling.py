"""How fast can ONE Locust process generate Gearman load? (not a test: a benchmark)

Two measurements against a fresh C gearmand started for the purpose:
  bg   background submissions/s from one Locust process: 20 client users with
       500 jobs in flight each (pipelined), no workers: the enqueue ceiling.
  fg   foreground jobs/s with one Locust process of clients and one of workers
       (a master + 2 worker processes; Locust gives each worker process its
       share of users, clients in one and workers in the other).
Each run is a normal ``gearcheck load`` of a generated profile, so the figure
includes everything the harness does per job (codec, HDR, ledger, Locust
events). Usage:

    .venv/bin/python bench/generator_ceiling.py [--duration 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget

BG = """\
name: ceiling-bg
duration: {d}s
users: 20
drain_timeout: 1s
clients:
  - name: bg
    functions: [ceiling_bg]
    background: 1.0
    payload_bytes: 64
    in_flight: 500
thresholds: {{max_lost: 0}}
"""

FG = """\
name: ceiling-fg
duration: {d}s
users: 16
clients:
  - name: fg
    functions: [ceiling_fg]
    payload_bytes: 64
    in_flight: 16
workers:
  - name: w
    count: 16
    functions: [ceiling_fg]
thresholds: {{max_lost: 0}}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures = {}
        for label, text, workers in (("bg", BG, 0), ("fg", FG, 2)):
            path = root / f"{label}.yaml"
            path.write_text(text.format(d=args.duration))
            # A fresh server per run: a deep queue slows gearmand's enqueue.
            with GearmandTarget(log_dir=root / "gearmand", extra_args=["--threads=1"]) as gd:
                result = run_load(path, server=str(gd.address), out_root=root,
                                  run_name=label, workers=workers, quiet=True)
            if result.summary is None:
                print(f"{label}: run failed: {result.problems}", file=sys.stderr)
                return 2
            tp = result.summary["throughput"]
            lat = result.summary["latency"]
            figures[label] = (tp, lat)
        bg_tp, bg_lat = figures["bg"]
        fg_tp, fg_lat = figures["fg"]
        print(f"bg submissions/s, one Locust process, 20 users x 500 in flight: "
              f"{bg_tp['created_per_s']:,.0f}  (JOB_CREATED p50 "
              f"{bg_lat['created']['all'].get('p50_us', 0) / 1000:.2f} ms)")
        print(f"fg jobs/s, 1 client process + 1 worker process, 16 users x 16 in flight: "
              f"{fg_tp['results_per_s']:,.0f}  (result p50 "
              f"{fg_lat['result']['all'].get('p50_us', 0) / 1000:.2f} ms, p99 "
              f"{fg_lat['result']['all'].get('p99_us', 0) / 1000:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
