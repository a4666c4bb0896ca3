"""Run every client library against every worker library through each server, then play the
server against each library.

Installs the libraries' runtimes when missing (scripts/install-interop-clients.sh;
a checkout is needed), runs every client library x every worker library x each
server through the scenarios in fixtures/interop/scenarios (OUT/index.html and
interop.json), then plays the server scripts of fixtures/interop/as-server
against each library (OUT/libraries/<library>/). Exit 0 when no cell or case
failed beyond the baseline, 1 otherwise, 2 when it could not run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ..progress import Progress
from ._options import add_jobs, server

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("interop", help="client libraries x worker libraries x servers, and the "
                                       "harness as the server against each library",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", metavar="NAMES",
                   help="registered servers, comma-separated (default: gearmand,refserver)")
    p.add_argument("--client-libraries", metavar="NAMES",
                   help="libraries playing the client, comma-separated (default: all)")
    p.add_argument("--worker-libraries", metavar="NAMES",
                   help="libraries playing the worker, comma-separated (default: all)")
    p.add_argument("--libraries", metavar="NAMES",
                   help="libraries for the harness-as-server part (default: all)")
    p.add_argument("--scenarios", metavar="IDS", help="scenario ids, comma-separated "
                   "(default: all)")
    add_jobs(p, "cells", default=4)
    p.add_argument("--out", type=Path, default=Path("reports/interop"), metavar="DIR",
                   help="output folder (default reports/interop)")
    p.add_argument("--no-matrix", action="store_true", help="skip the matrix")
    p.add_argument("--no-as-server", action="store_true", help="skip the harness-as-server part")
    p.add_argument("--no-install", action="store_true", help="do not run the install script")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..interop import baselines, registry
    from ..interop.fake_server import load_scripts, run_suite
    from ..interop.fake_server.script import ScriptError
    from ..interop.matrix import run_matrix
    from ..interop.matrix_report import write_all
    from ..interop.scenarios import ScenarioError, load_all

    console = Console(stderr=True)
    out = args.out
    try:
        clients = _names(args.client_libraries)
        workers = _names(args.worker_libraries)
        libs = _names(args.libraries)
        for n in (clients or []) + (workers or []) + (libs or []):
            registry.library(n)
        if not args.no_install:
            registry.ensure_installed()
        scenarios = load_all()
        wanted = _names(args.scenarios)
        if wanted:
            unknown = set(wanted) - {s.id for s in scenarios}
            if unknown:
                raise ScenarioError(f"unknown scenario id(s): {sorted(unknown)}")
            scenarios = [s for s in scenarios if s.id in wanted]
        scripts = load_scripts()
        baselines.load()
        for name in _names(args.servers) or []:
            server(name)  # an unknown name is one clear error, before anything starts
    except (ValueError, RuntimeError, ScenarioError, ScriptError,
            argparse.ArgumentTypeError) as exc:
        console.print(f"[red]gearcheck interop: {exc}[/red]")
        return EXIT_HARNESS
    failed = False
    if not args.no_matrix:
        from ..interop.matrix import HUB, plan
        from ..interop.servers import DEFAULT_SERVERS
        servers = _names(args.servers) or list(DEFAULT_SERVERS)
        total = len(plan(scenarios, [registry.library(n) for n in clients or registry.LIBRARIES],
                         [registry.library(n) for n in workers or registry.LIBRARIES], servers))
        with Progress(f"interop matrix (hub {HUB})", total, unit="cells") as bar:
            result = run_matrix(scenarios, clients=clients, workers=workers,
                                server_names=servers, parallel=args.jobs,
                                progress=lambda c, r: bar.advance(outcome=r.verdict.value))
        paths = write_all(result, out)
        counts = ", ".join(f"{k} {v}" for k, v in result.counts().items() if v)
        console.print(f"matrix: {counts} in {result.duration_s:.0f}s -> {paths['html']}")
        for _cell, r in result.cells:
            if r.verdict.is_failure or r.verdict.value == "ERROR":
                console.print(f"  [red]{r.verdict.value}[/red] {r.case_id}: {r.message[:200]}")
        failed |= result.failed
    if not args.no_as_server:
        names = libs or list(registry.LIBRARIES)
        with Progress("harness as the server", len(names) * len(scripts),
                      unit="cases") as bar:
            reports = run_suite(scripts, names, outdir=out / "libraries",
                                parallel=args.jobs,
                                progress=lambda lib, r: bar.advance(outcome=r.verdict.value))
        for name, rep in reports.items():
            counts = ", ".join(f"{k} {v}" for k, v in rep.counts().items() if v)
            console.print(f"as-server {name}: {counts} -> {out / 'libraries' / name}")
            failed |= any(r.verdict.is_failure for r in rep.results)
    return EXIT_FAILED if failed else EXIT_OK
