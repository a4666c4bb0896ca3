"""``gearcheck conformance``: run the YAML suite against a server and gate on it.

Strategy: a thin front door over pytest and the engine's plugin. It picks the
server (``--server HOST:PORT``; else ``--target NAME`` from
fixtures/servers.yaml; else the reference server when it is registered, else
gearmand, started and stopped by the plugin), picks the baseline (``--baseline``;
else the target's own from the registry; else, for an external server, the
registered baseline whose name ends in the version the server reports), runs
pytest in-process with the report directory fixed, then reads report.json back.

Exit code: the gate's (gearcheck.report.gate) when that module is present,
else 1 on any FAIL/XPASS, 2 on ERROR only or when no report was written, 0
otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from pathlib import Path

from ..engine.session import slug
from ..wire import Address, Connection, WireError

EXIT_OK, EXIT_FAILED, EXIT_HARNESS = 0, 1, 2
DEFAULT_TARGETS = ("refserver", "gearmand-1.1.20")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("conformance", help="run the conformance suite against a server",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", default=["conformance"],
                   help="scenario files or folders (default: conformance)")
    p.add_argument("--server", metavar="HOST:PORT", help="an already running server")
    p.add_argument("--target", metavar="NAME", help="a server from fixtures/servers.yaml")
    p.add_argument("--second-server", metavar="HOST:PORT", action="append", default=[],
                   help="with --server: another server of the same implementation, for "
                        "cases that need extra servers (repeatable)")
    p.add_argument("--baseline", metavar="FILE", help="known failures of this server")
    p.add_argument("--no-baseline", action="store_true", help="apply no baseline")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k selection")
    p.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m selection "
                   "(levels must/should/observed, areas, tags)")
    p.add_argument("-n", dest="workers", metavar="N", help="parallel workers (pytest-xdist)")
    p.add_argument("--report-dir", metavar="DIR", help="where the reports go")
    p.add_argument("--case-timeout", type=float, default=None, metavar="SECONDS")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    p.set_defaults(func=run)


def _registry():  # type: ignore[no-untyped-def]
    try:
        from ..targets.registry import load_registry

        return {s.name: s for s in load_registry()}
    except Exception as exc:
        print(f"gearcheck conformance: server registry not usable: {exc}")
        return {}


def _default_target(registry: dict) -> str | None:  # type: ignore[type-arg]
    for name in DEFAULT_TARGETS:
        spec = registry.get(name)
        if spec is None:
            continue
        try:
            spec.target_class()
        except Exception:
            continue
        return name
    return None


def _baseline_for_version(address: Address, registry: dict) -> str | None:  # type: ignore[type-arg]
    try:
        with Connection.open(address, timeout=2.0) as conn:
            line = conn.admin("version", timeout=2.0)[0].decode("utf-8", "replace")
    except (OSError, WireError, IndexError):
        return None
    version = re.sub(r"^(OK\s+|v)", "", line).split("+")[0].strip()
    for spec in registry.values():
        if spec.baseline and version and spec.name.endswith(f"-{version}") \
                and Path(spec.baseline).exists():
            return str(spec.baseline)
    return None


def run(args: argparse.Namespace) -> int:
    import pytest

    registry = _registry()
    target = args.target
    if args.server:
        try:
            address = Address.parse(args.server)
        except ValueError as exc:
            print(f"gearcheck conformance: {exc}")
            return EXIT_HARNESS
        server_name = target or str(address)
    else:
        target = target or _default_target(registry)
        if target is None or target not in registry:
            print(f"gearcheck conformance: no server: give --server HOST:PORT or --target "
                  f"NAME (registered: {', '.join(registry) or 'none'})")
            return EXIT_HARNESS
        server_name = target
    baseline = None if args.no_baseline else args.baseline
    if baseline is None and not args.no_baseline:
        spec = registry.get(target) if target else None
        if spec is not None and spec.baseline and Path(spec.baseline).exists():
            baseline = str(spec.baseline)
        elif args.server:
            baseline = _baseline_for_version(address, registry)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = Path(args.report_dir or Path("reports") / slug(server_name) / stamp)
    argv = [*args.paths, "--report-dir", str(report_dir), "-p", "no:cacheprovider",
            "-o", "addopts=", "-q", "-rfE"]
    argv += ["--server", args.server] if args.server else ["--target", target]
    if args.server and target:
        argv += ["--target", target]
    for extra in args.second_server:
        argv += ["--second-server", extra]
    if baseline:
        argv += ["--baseline", baseline]
        print(f"gearcheck conformance: baseline {baseline}")
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.markers:
        argv += ["-m", args.markers]
    if args.workers:
        argv += ["-n", str(args.workers)]
    if args.case_timeout:
        argv += ["--case-timeout", str(args.case_timeout)]
    if args.verbose:
        argv += ["-v"]
    pytest_code = pytest.main(argv)
    report_path = report_dir / "report.json"
    if not report_path.exists():
        print(f"gearcheck conformance: no report was written (pytest exit {int(pytest_code)})")
        return EXIT_HARNESS
    return _verdict(report_path, baseline)


def _verdict(report_path: Path, baseline: str | None) -> int:
    try:
        from ..report.gate import evaluate
        from ..results import RunReport
    except ImportError:
        counts = json.loads(report_path.read_text())["counts"]
        if counts.get("FAIL") or counts.get("XPASS"):
            return EXIT_FAILED
        return EXIT_HARNESS if counts.get("ERROR") else EXIT_OK
    report = RunReport.from_dict(json.loads(report_path.read_text()))
    applied = None
    if baseline:
        from ..report.baseline import apply_baseline, load_baseline

        applied = apply_baseline(report, load_baseline(baseline))
    outcome = evaluate(report, applied)
    for line in outcome.lines() if hasattr(outcome, "lines") else []:
        print(line)
    print(f"gearcheck conformance: {outcome.summary()}")
    print(f"gearcheck conformance: report {report_path}")
    return int(outcome.exit_code)
