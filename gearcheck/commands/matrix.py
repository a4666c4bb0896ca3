"""Run the conformance suite against every registered server and show them side by side.

Each server in the registry (fixtures/servers.yaml) is started on a free
loopback port, the suite runs against it, the server is stopped, its baseline
applied, and its reports written to OUT/<name>/; then OUT/index.html and
OUT/matrix.json put them side by side. Exit 0
when every server produced a report, 2 when one could not be started or run
(the matrix is still written, with that server's error in its column). The
matrix compares; it does not gate: use gearcheck gate on one report for that.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from .. import paths
from ..progress import Progress
from ..runs import SuiteSettings
from ..runs.server_matrix import run_matrix
from ..targets import RegistryError, load_registry
from ..targets.registry import select
from ._options import add_jobs, add_processes, existing_file, existing_path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("matrix", help="run the suite against every registered server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", type=existing_path, metavar="PATH",
                   help="scenario files or folders (default: the shipped suite)")
    p.add_argument("--registry", type=existing_file, metavar="FILE",
                   help="server registry (default: gearcheck's fixtures/servers.yaml)")
    p.add_argument("--only", metavar="NAMES", help="comma-separated server names to run")
    p.add_argument("--out", type=Path, metavar="DIR", default=Path("reports/matrix"),
                   help="output folder (default reports/matrix)")
    add_jobs(p, "cases of one server", default=16)
    add_processes(p, "pytest-xdist processes per server run (then one case at a time in each)")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k selection")
    p.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m selection")
    p.add_argument("--case", dest="case_ids", action="append", default=[], metavar="ID",
                   help="run only this case (exact id; repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        specs = select(load_registry(args.registry),
                       [n.strip() for n in args.only.split(",")] if args.only else None)
    except RegistryError as exc:
        print(f"gearcheck matrix: {exc}", file=sys.stderr)
        return 2
    progress = Progress("matrix", None, unit="cases")
    settings = SuiteSettings(cases=list(args.cases) or [paths.SUITE_DIR],
                             workers=args.processes, jobs=args.jobs, quiet=True,
                             registry=args.registry, keyword=args.keyword,
                             markers=args.markers, case_ids=args.case_ids,
                             on_result=lambda r: progress.advance(outcome=r.verdict.value))
    with progress:
        columns, written = run_matrix(specs, settings, args.out, progress=console.print)
    failed = [c.name for c in columns if c.report is None]
    console.print(f"matrix: {written.html} and {written.json}"
                  + (f"; could not run: {', '.join(failed)}" if failed else ""))
    return 2 if failed else 0
