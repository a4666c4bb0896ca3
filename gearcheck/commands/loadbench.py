"""Run the same load profiles against the reference server and gearmand, with a ratio table.

Each profile runs against a fresh reference server, then a fresh gearmand, one
after the other on this machine; the table gives jobs/s and latency for each
and the ratio reference/gearmand (make bench). Reports go to OUT. Exit 2 when a
run could not happen, else 0: a benchmark compares, it does not gate.
"""

from __future__ import annotations

import argparse
import sys

from .. import paths
from ..swarm.bench import run_bench
from ._options import add_out, duration, out_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("loadbench", help="the same load profiles against the reference "
                                          "server and gearmand, with a ratio table",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profiles", nargs="*", metavar="NAME|FILE",
                   help="profiles by name or file (default: every shipped profile)")
    p.add_argument("--duration", type=duration, default=10.0, metavar="D",
                   help="load duration per run (default 10s)")
    add_out(p, "bench")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        profiles = [paths.profile_path(p) for p in args.profiles] \
            or sorted(paths.PROFILES_DIR.glob("*.yaml"))
    except paths.DataNotFound as exc:
        print(f"gearcheck loadbench: {exc}", file=sys.stderr)
        return 2
    out = out_dir(args, "bench")
    return run_bench(profiles, out.parent, args.duration, run_name=out.name)
