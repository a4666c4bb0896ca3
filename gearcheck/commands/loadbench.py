"""``gearcheck loadbench``: load profiles against the reference server, then gearmand.

A table of throughput and latency with the ratio reference/gearmand
(``make bench``). Exit 2 when a run could not happen, else 0: a bench
compares, it does not gate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..swarm.bench import run_bench
from ..swarm.units import parse_duration


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("loadbench", help="the same load profiles against the reference "
                                          "server and gearmand, with a ratio table")
    p.add_argument("profiles", nargs="*", help="profiles (default: load/profiles/*.yaml)")
    p.add_argument("--duration", default="10s", help="load duration per run (default 10s)")
    p.add_argument("--out", default="reports/bench", help="report root")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    profiles = [Path(p) for p in args.profiles] or sorted(Path("load/profiles").glob("*.yaml"))
    return run_bench(profiles, Path(args.out), parse_duration(args.duration))
