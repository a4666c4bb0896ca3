"""Find the highest rate a server holds at a latency target (open model, step by step).

The offered rate rises step by step (a Locust LoadTestShape) until the target
breaks, errors appear or the server falls behind, then the search narrows in
between the best rate that held and the lowest that broke. --profile needs
open-model clients (arrival: {model: open, rate: ...}); --slo and the search
settings override the profile's capacity: block. Reports (summary.json with
every step, capacity.png: latency against throughput) go to OUT. Exit 0 a rate
held and the invariants did, 1 not, 2 the search could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import paths
from ..swarm.runner import run_load
from ._options import (
    add_out,
    add_processes,
    add_server,
    count,
    duration,
    growth,
    out_dir,
    positive_int,
    positive_number,
    slo,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("capacity", help="find the highest rate a server holds at a latency "
                                        "target (open model, step by step)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", required=True, metavar="NAME|FILE",
                   help="a shipped profile's name (capacity-foreground) or a profile file")
    add_server(p, default_help="default: the profile's server, else the reference server")
    p.add_argument("--slo", type=slo, default=None, metavar="TARGET",
                   help='e.g. "result p99 < 10ms" (default: the profile\'s capacity: slo)')
    p.add_argument("--start-rate", type=positive_number, default=None, metavar="JOBS/S",
                   help="the rate offered in the first step")
    p.add_argument("--growth", type=growth, default=None, metavar="F",
                   help="rate multiplier after a step that held (default 1.5)")
    p.add_argument("--step", type=duration, default=None, metavar="D",
                   help="length of a step (default 5s; its first second is not measured)")
    p.add_argument("--refine", type=count, default=None, metavar="N",
                   help="steps that halve the gap after the first break (default 3)")
    p.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="the most steps a search runs (default 30)")
    add_processes(p, "Locust worker processes under one master (0: one local process)")
    add_out(p, "capacity")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        profile = paths.profile_path(args.profile)
    except paths.DataNotFound as exc:
        print(f"gearcheck capacity: --profile: {exc}", file=sys.stderr)
        return 2
    settings = {"slo": args.slo.text if args.slo else None, "start_rate": args.start_rate,
                "growth": args.growth, "step_s": args.step, "refine": args.refine,
                "max_steps": args.max_steps}
    out = out_dir(args, "capacity", f"-{Path(profile).stem}")
    result = run_load(profile, server=args.server, out_root=out.parent, run_name=out.name,
                      workers=args.processes,
                      capacity={k: v for k, v in settings.items() if v is not None})
    return result.exit_code
