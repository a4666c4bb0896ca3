"""Run the YAML conformance suite against a Gearman server and gate on the result.

The server is --server: a registered name or alias (fixtures/servers.yaml,
started and stopped here) or HOST:PORT (a running server, which the run leaves
as it found it); with neither, gearcheck's reference server. --as NAME says
which registered implementation a HOST:PORT server is. The baseline is
--baseline FILE, else the server's registered one, else (for HOST:PORT)
the registered baseline whose name ends in the version the server reports.
Reports (report.json, junit.xml, report.html, summary.md, a pcap per failing
case) go to --out. --tls (--tls-ca, --tls-cert, --tls-key) reaches a HOST:PORT
server over TLS; a wrong CA or a server without TLS is one line and exit 2. A
registered TLS server (refserver-tls, rustygeard-0.15.0-tls, gear-tls) needs
none of them.

Exit code, as the gate (gearcheck.report.gate): 0 every gated case passed or
failed as the baseline expects, 1 a new failure or an XPASS, 2 the harness
could not run or judge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import paths
from ..progress import Progress
from ..runs import SuiteSettings, run_suite
from ..runs.failure_text import format_result
from ..targets import RegistryError, find, is_address, load_registry
from ..wire import Address, Connection, TLSFailed, TLSSetupError, WireError
from ._options import (
    EXIT_HARNESS,
    add_jobs,
    add_processes,
    add_server,
    add_tls,
    existing_file,
    existing_path,
    positive_seconds,
    server,
    tls_from,
)

DEFAULT_JOBS = 16


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("conformance", help="run the conformance suite against a server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", type=existing_path, metavar="PATH",
                   help="scenario files or folders (default: the shipped suite)")
    add_server(p)
    p.add_argument("--as", dest="implementation", type=server, metavar="NAME",
                   help="with a HOST:PORT --server: the registered implementation it runs "
                        "(its baseline; extra servers for multi-server cases)")
    p.add_argument("--second-server", metavar="HOST:PORT", action="append", default=[],
                   help="with a HOST:PORT --server: another server of the same "
                        "implementation, for cases that need extra servers (repeatable)")
    p.add_argument("--baseline", metavar="FILE", type=existing_file,
                   help="known failures of this server (default: its registered baseline)")
    p.add_argument("--no-baseline", action="store_true", help="apply no baseline")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k selection")
    p.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m selection "
                   "(levels must/should/observed, areas, tags)")
    p.add_argument("--case", dest="case_ids", action="append", default=[], metavar="ID",
                   help="run only this case (exact id; repeatable)")
    add_jobs(p, "cases (exclusive ones still run alone)", default=DEFAULT_JOBS,
             default_text=f"{DEFAULT_JOBS}, or the jobs: a registered server sets, 1 for the "
                          "servers that crash under load")
    add_processes(p, "pytest-xdist processes that share the cases (then one case at a time "
                     "in each)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="folder for the reports (default reports/<server>/<time>-<run id>)")
    p.add_argument("--case-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                   help="deadline of a wait a case does not time itself (default 2.0)")
    p.add_argument("--no-cleanup", action="store_true",
                   help="leave each case's jobs and functions on the server, to look at "
                        "after the run (by default gearcheck drains and drops them)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    add_tls(p)
    p.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> SuiteSettings:
    return SuiteSettings(
        server=args.server, implementation=args.implementation,
        cases=list(args.cases) or [paths.SUITE_DIR], baseline=args.baseline,
        use_baseline=not args.no_baseline, keyword=args.keyword, markers=args.markers,
        case_ids=args.case_ids, workers=args.processes,
        jobs=args.jobs if args.jobs is not None else registered_jobs(args.server),
        report_dir=args.out,
        case_timeout=args.case_timeout, second_servers=args.second_server,
        verbose=args.verbose, tls=tls_from(args), clean_up=not args.no_cleanup)


def registered_jobs(server: str | None) -> int:
    """Cases at once for a registered server: its ``jobs:`` (the matrix uses the same), else
    the default. A server that dies on some cases' input takes the cases beside them down
    with it, so such servers run one case at a time."""
    if server and not is_address(server):
        try:
            spec = find(load_registry(), server)
        except RegistryError:
            return DEFAULT_JOBS  # the run itself says the name is unknown
        if spec.jobs is not None:
            return spec.jobs
    return DEFAULT_JOBS


def _tls_preflight(settings: SuiteSettings) -> None:
    """One handshake with a HOST:PORT server before pytest: a wrong CA is one line."""
    if settings.tls is None or settings.server is None or not is_address(settings.server):
        return
    try:
        Connection.open(Address.parse(settings.server), timeout=5.0, tls=settings.tls).close()
    except (TLSFailed, TLSSetupError) as exc:
        raise ValueError(str(exc)) from None
    except WireError:
        pass  # not a TLS problem: the run reports it


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        _tls_preflight(settings)
    except ValueError as exc:  # a TLS option that cannot be used, or a failed handshake
        print(f"gearcheck conformance: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    # On a terminal, pytest's own display shows the run going; in a log (CI) it would
    # show nothing for long stretches, so gearcheck writes a line every 10 s instead
    # and the text of every case that did not pass at the end.
    in_log = not sys.stdout.isatty() and not settings.verbose and not settings.workers
    progress = Progress("conformance", None, unit="cases", enabled=in_log)
    if in_log:
        settings.quiet = True
        settings.on_result = lambda r: progress.advance(outcome=r.verdict.value)
    with progress:
        outcome = run_suite(settings)
    if in_log and outcome.report is not None:
        for result in outcome.report.results:
            if result.verdict.value in ("FAIL", "XPASS", "ERROR"):
                print(format_result(result), end="\n\n")
    if outcome.problem and outcome.report is None:
        print(f"gearcheck conformance: cannot run: {outcome.problem}", file=sys.stderr)
        return outcome.exit_code
    if outcome.baseline:
        print(f"gearcheck conformance: baseline {outcome.baseline}")
    assert outcome.gate is not None
    for line in outcome.gate.lines():
        print(line)
    print(f"gearcheck conformance: {outcome.gate.summary()}")
    if outcome.report_dir:
        print(f"gearcheck conformance: report {outcome.report_dir / 'report.json'}")
    if outcome.problem:
        print(f"gearcheck conformance: {outcome.problem}", file=sys.stderr)
    return outcome.exit_code
