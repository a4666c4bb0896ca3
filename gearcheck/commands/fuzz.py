"""Send generated hostile input to a server on this machine; findings become reproducers.

--server NAME starts a registered server here, restarts it after each crash and
watches its memory and file descriptors through /proc; --server HOST:PORT is
someone else's server, which must be on loopback, and a run ends at its first
crash or hang. Bounded by --seconds and --max-inputs; writes OUT/summary.json
and one .hex + .yaml reproducer per finding. Exit 0 no finding, 1 findings,
2 the harness could not run.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from ..progress import Progress
from ..robustness.fuzz_run import FuzzRun
from ..robustness.loopback import NotLoopbackError
from ..targets import TargetError
from ._options import add_out, add_seed, positive_int, positive_seconds
from ._options import out_dir as out_dir_of
from ._server_choice import add_server_choice, open_server


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fuzz", help="send generated hostile input to a loopback server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_choice(p)
    p.add_argument("--seconds", type=positive_seconds, default=30.0, metavar="S",
                   help="time budget (default 30)")
    add_seed(p)
    p.add_argument("--max-inputs", type=positive_int, default=None, metavar="N",
                   help="stop after this many inputs")
    p.add_argument("--deadline", type=positive_seconds, default=5.0, metavar="S",
                   help="seconds the sentinel ECHO may take (default 5)")
    p.add_argument("--shrink-seconds", type=positive_seconds, default=30.0, metavar="S",
                   help="time budget for shrinking findings (default 30)")
    add_out(p, "fuzz")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    out_dir = out_dir_of(args, "fuzz", f"-seed{args.seed}")
    try:
        address, target = open_server(args, tool="gearcheck fuzz", log_dir=out_dir / "server")
        shown = args.server if target is not None else str(address)
    except NotLoopbackError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (ValueError, TargetError) as exc:
        print(f"gearcheck fuzz: {exc}", file=sys.stderr)
        return 2
    try:
        with Progress(f"fuzz {shown}", None, unit="inputs",
                      enabled=not args.no_progress) as progress:
            seen = [0]

            def on_input(n: int, _elapsed: float) -> None:
                progress.advance(n - seen[0])
                seen[0] = n

            fuzz = FuzzRun(address, out_dir=out_dir, seconds=args.seconds, seed=args.seed,
                           max_inputs=args.max_inputs, target=target,
                           deadline_s=args.deadline, shrink_seconds=args.shrink_seconds,
                           on_input=on_input)
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
