"""Kill workers, clients and the server mid-run, and count the jobs that were lost.

Runs three fault scenarios against registered servers it starts itself, then
prints a table and writes OUT/faults.json
with submitted / acknowledged / recovered / lost / duplicated / out-of-order
per server and scenario. Exit 0 when nothing was lost, duplicated or out of
order and every check held, 1 otherwise, 2 when a server could not be run.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from ..robustness.faults import SCENARIOS, ScenarioResult, run_faults
from ._options import add_out, server
from ._options import out_dir as out_dir_of

COLUMNS = ("submitted", "acknowledged", "recovered", "lost", "duplicated", "out_of_order")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("faults", help="kill workers, clients and the server; count lost jobs",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", action="append", required=True, type=server, metavar="NAME",
                   help="registered server to start and hurt (repeat for several)")
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                   help="run only these scenarios (default: all)")
    add_out(p, "faults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console.width = 140
    out_dir = out_dir_of(args, "faults")
    report: dict[str, dict[str, object]] = {}
    all_results: dict[str, list[ScenarioResult]] = {}
    for name in args.server:
        with console.status(f"faults against {name} ..."):
            results = run_faults(name, out_dir / name, args.scenario)
        all_results[name] = results
        totals = {c: sum(int(r.to_dict()[c]) for r in results) for c in COLUMNS}
        report[name] = {"totals": totals, "scenarios": [r.to_dict() for r in results]}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "faults.json").write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title="jobs under faults")
    for col in ("server", "scenario", *COLUMNS, "verdict"):
        table.add_column(col.replace("_", "-"))
    for name, results in all_results.items():
        for r in results:
            d = r.to_dict()
            verdict = "ERROR" if r.error else ("PASS" if r.passed else "FAIL")
            table.add_row(name, r.name, *(str(d[c]) for c in COLUMNS), verdict)
    console.print(table)
    for name, results in all_results.items():
        for r in results:
            for check, ok in r.checks.items():
                if not ok:
                    console.print(f"[red]{name} {r.name}: failed: {check}[/red]")
            if r.error:
                console.print(f"[red]{name} {r.name}: {r.error}[/red]")
    console.print(f"report: {out_dir / 'faults.json'}")
    if any(r.error for rs in all_results.values() for r in rs):
        return 2
    return 0 if all(r.passed for rs in all_results.values() for r in rs) else 1
