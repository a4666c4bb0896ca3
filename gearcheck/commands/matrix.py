"""``gearcheck matrix``: the conformance suite against every server in fixtures/servers.yaml.

Each server is started on a free loopback port, the suite runs against it
(``gearcheck.runs.run_suite``), the server is stopped, its baseline applied,
and its reports written to ``<out>/<name>/``; then
``<out>/index.html`` and ``<out>/matrix.json`` put them side by side. Exit 0
when every server produced a report, 2 when one could not be started or run
(the matrix is still written, with that server's error in its column). The
matrix compares; it does not gate: use ``gearcheck gate`` on one report for that.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .. import paths
from ..runs import SuiteSettings
from ..runs.server_matrix import run_matrix
from ..targets import RegistryError, load_registry
from ..targets.registry import select


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("matrix", help="run the suite against every registered server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", metavar="FILE", help="server registry "
                   "(default fixtures/servers.yaml)")
    p.add_argument("--only", metavar="NAMES", help="comma-separated server names to run")
    p.add_argument("--suite", metavar="PATH", action="append",
                   help="scenario files or folders (default: the shipped suite); repeatable")
    p.add_argument("--out", metavar="DIR", default="reports/matrix",
                   help="output folder (default reports/matrix)")
    p.add_argument("--workers", type=int, default=2,
                   help="pytest-xdist workers per server run (0: none; default 2)")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                   help="extra pytest arguments after --, e.g. -- -k echo")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        specs = select(load_registry(args.servers),
                       [n.strip() for n in args.only.split(",")] if args.only else None)
    except RegistryError as exc:
        print(f"gearcheck matrix: {exc}", file=sys.stderr)
        return 2
    suite = [Path(s) for s in (args.suite or [paths.SUITE_DIR])]
    missing = [str(s) for s in suite if not s.exists()]
    if missing:
        print(f"gearcheck matrix: suite path(s) not found: {missing}", file=sys.stderr)
        return 2
    settings = SuiteSettings(cases=suite, workers=args.workers, quiet=True,
                             registry=Path(args.servers) if args.servers else None,
                             extra_pytest_args=args.pytest_args)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} servers"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        task = progress.add_task("matrix", total=len(specs))

        def report(message: str) -> None:
            progress.console.print(message)
            if ": starting " not in message and ": warning: " not in message:
                progress.advance(task)
            else:
                progress.update(task, description=message.split(":")[0])

        columns, written = run_matrix(specs, settings, Path(args.out), progress=report)
    failed = [c.name for c in columns if c.report is None]
    console.print(f"matrix: {written.html} and {written.json}"
                  + (f"; could not run: {', '.join(failed)}" if failed else ""))
    return 2 if failed else 0
