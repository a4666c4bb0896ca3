"""``gearcheck conformance``: run the YAML suite against a server and gate on it.

A thin front door over ``gearcheck.runs.run_suite``. The server is
``--server``: a registered name or alias (fixtures/servers.yaml; started and
stopped here) or HOST:PORT (someone's running server); with neither, the
reference server. ``--target NAME`` is the older spelling of a registered
server, and with a HOST:PORT ``--server`` says which registered implementation
it is (its baseline, and extra servers for multi-server cases). The baseline is
``--baseline FILE``, else the server's registered one, else (for HOST:PORT) the
registered baseline whose name ends in the version the server reports.

Exit code, as the gate (gearcheck.report.gate): 0 every gated case passed or
failed as the baseline expects, 1 a new failure or an XPASS, 2 the harness
could not run or judge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import paths
from ..runs import SuiteSettings, run_suite
from ..targets import is_address


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("conformance", help="run the conformance suite against a server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", type=Path,
                   help="scenario files or folders (default: the shipped suite)")
    p.add_argument("--server", metavar="NAME|HOST:PORT",
                   help="a registered server (started here) or a running one")
    p.add_argument("--target", metavar="NAME",
                   help="a registered server; with a HOST:PORT --server, which one it is")
    p.add_argument("--second-server", metavar="HOST:PORT", action="append", default=[],
                   help="with a HOST:PORT --server: another server of the same "
                        "implementation, for cases that need extra servers (repeatable)")
    p.add_argument("--baseline", metavar="FILE", type=Path, help="known failures of this server")
    p.add_argument("--no-baseline", action="store_true", help="apply no baseline")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k selection")
    p.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m selection "
                   "(levels must/should/observed, areas, tags)")
    p.add_argument("--case", dest="case_ids", action="append", default=[], metavar="ID",
                   help="run only this case (exact id; repeatable)")
    p.add_argument("-n", dest="workers", type=int, default=0, metavar="N",
                   help="parallel pytest-xdist processes (default: none)")
    p.add_argument("--report-dir", metavar="DIR", type=Path, help="where the reports go")
    p.add_argument("--case-timeout", type=float, default=None, metavar="SECONDS",
                   help="deadline of a wait a case does not time itself (default 2.0)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> SuiteSettings:
    server, implementation = args.server, None
    if args.target and server and is_address(server):
        implementation = args.target
    elif args.target:
        server = server or args.target
    return SuiteSettings(
        server=server, implementation=implementation,
        cases=list(args.paths) or [paths.SUITE_DIR], baseline=args.baseline,
        use_baseline=not args.no_baseline, keyword=args.keyword, markers=args.markers,
        case_ids=args.case_ids, workers=args.workers, report_dir=args.report_dir,
        case_timeout=args.case_timeout, second_servers=args.second_server,
        verbose=args.verbose)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    outcome = run_suite(settings)
    if outcome.problem:
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
    return outcome.exit_code
