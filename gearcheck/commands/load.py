"""``gearcheck load --server HOST:PORT --profile FILE``: a Locust swarm from a profile.

Without --server (and no ``server:`` in the profile) the reference server is
started for the run. ``--workers N`` runs Locust's own master and N worker
processes. Reports go to reports/load/<run>/. Exit 0 thresholds held, 1 one
failed, 2 the run could not happen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..swarm.runner import run_load
from ..swarm.units import parse_duration


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("load", help="run a Locust load profile against a Gearman server")
    p.add_argument("--profile", required=True, help="load/profiles/<name>.yaml")
    p.add_argument("--server", default=None,
                   help="host:port (default: the profile's server, else start the reference "
                        "server)")
    p.add_argument("--workers", type=int, default=0,
                   help="Locust worker processes (0: one local process)")
    p.add_argument("--out", default="reports/load", help="report root directory")
    p.add_argument("--name", default=None, help="run directory name (default: time-profile)")
    p.add_argument("--duration", default=None,
                   help="scale the profile's stages to this load duration (e.g. 5s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = run_load(args.profile, server=args.server, out_root=Path(args.out),
                      run_name=args.name, workers=args.workers,
                      duration=parse_duration(args.duration) if args.duration else None)
    return result.exit_code
