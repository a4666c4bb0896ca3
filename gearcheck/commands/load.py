"""Run a Locust swarm of Gearman clients and workers from a YAML load profile.

--profile is a shipped profile's name (steady-foreground, ...) or a file.
--server NAME starts a registered server for the run (and stops it);
--server HOST:PORT loads a running one; with neither, the profile's own
"server:", else gearcheck's reference server. --processes N runs Locust's own
master and N worker processes. --speed K plays open-model arrivals (a profile
from gearcheck replay-profile) at K times their rate. Reports (summary.json, Locust HTML/CSV, plots)
go to OUT. Exit 0 the profile's thresholds held, 1 one failed, 2 the run could
not happen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import paths
from ..swarm.runner import run_load
from ._options import add_out, add_processes, add_server, duration, out_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("load", help="run a Locust load profile against a Gearman server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", required=True, metavar="NAME|FILE",
                   help="a shipped profile's name or a profile file")
    add_server(p, default_help="default: the profile's server, else the reference server")
    add_processes(p, "Locust worker processes under one master (0: one local process)")
    add_out(p, "load")
    p.add_argument("--duration", type=duration, default=None, metavar="D",
                   help="scale the profile's stages to this load duration (e.g. 5s, 2m)")
    p.add_argument("--speed", type=_speed, default=None, metavar="K",
                   help="play open-model arrivals (a replayed recording: gearcheck "
                        "replay-profile) at K times their rate; the stages keep their length")
    p.set_defaults(func=run)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive speed")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        profile = paths.profile_path(args.profile)
    except paths.DataNotFound as exc:
        print(f"gearcheck load: --profile: {exc}", file=sys.stderr)
        return 2
    out = out_dir(args, "load", f"-{Path(profile).stem}")
    result = run_load(profile, server=args.server, out_root=out.parent, run_name=out.name,
                      workers=args.processes, duration=args.duration, speed=args.speed)
    return result.exit_code
