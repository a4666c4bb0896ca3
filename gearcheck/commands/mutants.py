"""Score the conformance suite: does it catch each server with one planted defect?

A mutating proxy sits in front of a correct server (--server NAME started here,
or HOST:PORT on loopback) and changes one behaviour at a time. The suite runs
straight, through the clean proxy (it must change no verdict), and through
each mutant. Writes OUT/mutants.json and mutants.md and prints a table. Exit 0
when every mutant was killed and the clean proxy changed no verdict, 1
otherwise, 2 when the harness could not run.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from .. import paths
from ..engine.loader import find_files, load_file
from ..engine.probe import ProbeError
from ..robustness.loopback import NotLoopbackError
from ..robustness.mutants_run import markdown, run_mutants
from ..robustness.mutations import BY_NAME, MUTATIONS
from ..targets import ProcessTarget, TargetError
from ._options import add_out, existing_path
from ._options import out_dir as out_dir_of
from ._server_choice import add_server_choice, open_server


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("mutants", help="score the conformance suite against mutant servers",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_choice(p)
    p.add_argument("cases", nargs="*", type=existing_path, metavar="PATH",
                   help="scenario files or folders (default: the shipped suite)")
    p.add_argument("--mutation", action="append", choices=sorted(BY_NAME),
                   help="run only these mutations (default: all)")
    p.add_argument("--stop-at-first", action="store_true",
                   help="move to the next mutant at its first catching case (faster)")
    p.add_argument("--clean-only", action="store_true",
                   help="only check that the clean proxy changes no verdict (no mutants)")
    p.add_argument("--no-direct", action="store_true",
                   help="skip the direct run that checks the clean proxy changes nothing")
    add_out(p, "mutants")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = 140
    args.cases = list(args.cases) or [paths.SUITE_DIR]
    cases, errors = [], []
    for path in find_files(args.cases):
        found, errs = load_file(path)
        cases += found
        errors += errs
    if errors or not cases:
        for e in errors:
            console.print(f"gearcheck mutants: {e}")
        if not cases:
            console.print("gearcheck mutants: no cases found in "
                          + " ".join(map(str, args.cases)))
        return 2
    mutations = [BY_NAME[n] for n in args.mutation] if args.mutation else list(MUTATIONS)
    if args.clean_only:
        mutations = []
    out_dir = out_dir_of(args, "mutants")
    target: ProcessTarget | None = None
    try:
        upstream, target = open_server(args, tool="gearcheck mutants",
                                       log_dir=out_dir / "server")
        runs = len(mutations) + 1 + (0 if args.no_direct else 1)
        with Progress(TextColumn("{task.fields[what]:<26}"), BarColumn(), MofNCompleteColumn(),
                      console=console) as progress:
            task = progress.add_task("mutants", total=runs * len(cases), what="")
            report = run_mutants(
                upstream, args.cases, mutations, direct=not args.no_direct,
                stop_at_first=args.stop_at_first,
                progress=lambda what, n: progress.update(task, advance=n, what=what))
    except NotLoopbackError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (ValueError, TargetError, ProbeError, OSError, RuntimeError) as exc:
        print(f"gearcheck mutants: {exc}", file=sys.stderr)
        return 2
    finally:
        if target is not None:
            target.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mutants.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    (out_dir / "mutants.md").write_text(markdown(report))
    table = Table(title=f"mutation score {sum(m.killed for m in report.mutants)}/"
                        f"{len(report.mutants)} ({report.score:.0%})")
    for col in ("mutant", "killed", "caught by", "first cases"):
        table.add_column(col)
    for m in report.mutants:
        table.add_row(m.name, "yes" if m.killed else "[red]NO[/red]",
                      str(len(m.caught_by) + len(m.errored)),
                      ", ".join((m.caught_by + m.errored)[:4]))
    Console(width=console.width).print(table)
    if report.proxy_differences:
        console.print(f"[red]the clean proxy changed {len(report.proxy_differences)} "
                      f"verdict(s): {report.proxy_differences}[/red]")
    console.print(f"report: {out_dir / 'mutants.json'}, {out_dir / 'mutants.md'}")
    ok = (report.score == 1.0 or not mutations) and not report.proxy_differences
    return 0 if ok else 1
