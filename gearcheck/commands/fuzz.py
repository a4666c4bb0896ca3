"""``gearcheck fuzz``: hostile input against a loopback server, findings as reproducers.

Either ``--server host:port`` (someone else's server: it must be on loopback,
and a run ends at its first crash or hang) or ``--target refserver|gearmand``
(started here, restarted after each crash, watched through /proc). Bounded by
``--seconds`` and ``--max-inputs``; writes reports/fuzz/<run>/summary.json
and one .hex + .yaml reproducer per finding. Exit 0 no finding, 1 findings,
2 the harness could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..robustness.fuzz_run import FuzzRun
from ..robustness.loopback import NotLoopbackError
from ..targets import TargetError
from ._server_choice import add_server_choice, open_server


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fuzz", help="send generated hostile input to a loopback server")
    add_server_choice(p, server_help="host:port of a running server (loopback only)")
    p.add_argument("--seconds", type=float, default=30.0, help="time budget (default 30)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    p.add_argument("--max-inputs", type=int, default=None, help="stop after this many inputs")
    p.add_argument("--deadline", type=float, default=5.0,
                   help="seconds the sentinel ECHO may take (default 5)")
    p.add_argument("--shrink-seconds", type=float, default=30.0,
                   help="time budget for shrinking findings (default 30)")
    p.add_argument("--out", default="reports/fuzz", help="parent folder of the run's folder")
    p.add_argument("--run-name", default=None, help="folder name (default: time and seed)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.seconds <= 0 or (args.max_inputs is not None and args.max_inputs <= 0):
        console.print("gearcheck fuzz: --seconds and --max-inputs must be positive")
        return 2
    run_name = args.run_name or time.strftime(f"%Y%m%d-%H%M%S-seed{args.seed}")
    out_dir = Path(args.out) / run_name
    try:
        address, target = open_server(args, tool="gearcheck fuzz", log_dir=out_dir / "server")
        shown = args.target if target is not None else str(address)
    except NotLoopbackError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (ValueError, TargetError) as exc:
        print(f"gearcheck fuzz: {exc}", file=sys.stderr)
        return 2
    try:
        with Progress(TextColumn("fuzz {task.fields[server]}"), BarColumn(),
                      TextColumn("{task.fields[inputs]} inputs"), TimeElapsedColumn(),
                      console=console, disable=args.no_progress) as progress:
            task = progress.add_task("fuzz", total=args.seconds, inputs=0,
                                     server=shown)
            fuzz = FuzzRun(address, out_dir=out_dir, seconds=args.seconds, seed=args.seed,
                           max_inputs=args.max_inputs, target=target,
                           deadline_s=args.deadline, shrink_seconds=args.shrink_seconds,
                           on_input=lambda n, t: progress.update(task, completed=t, inputs=n))
            summary = fuzz.run()
    except (OSError, TargetError) as exc:
        console.print(f"gearcheck fuzz: cannot fuzz {shown}: {exc}")
        return 2
    finally:
        if target is not None:
            target.stop()
    result = {k: v for k, v in summary.to_dict().items() if k != "finding_details"}
    print(json.dumps(result, indent=2))
    for f in summary.findings:
        console.print(f"finding {f.number}: {f.kind}: {f.detail} -> {', '.join(f.files)}")
    console.print(f"reports in {out_dir}")
    return 1 if summary.findings else 0
