"""Run generated protocol sequences on several servers side by side; each divergence becomes a case.

Each --server (twice or more; once to check one server's invariants alone) is a
registered name or alias, started here and stopped after, or HOST:PORT, a
running server (--as NAME says which registered implementation it is, in the
order the HOST:PORT servers are given, so its known divergences apply). The
first server is the one the written cases expect. Sequences over two clients,
two workers and an admin connection run on every server in lockstep; what the
servers say is compared step by step and invariants are checked on each. The
first difference of a sequence is replayed, shrunk and written as a YAML case,
unless fixtures/baselines/explore.yaml already knows it.

Bounded by --seconds of exploring (confirming and shrinking each new finding
come on top, bounded by --shrink-seconds and --max-findings) and optionally
--max-sequences. Writes OUT/summary.json, OUT/summary.md, OUT/cases/ (a
conformance case per new finding) and OUT/findings/ (operations and
observations; --replay FILE runs one again). --mutants runs the teeth sweep
instead: every mutation of the mutating proxy in front of one copy of the
server, explored against a clean copy. Exit 0 no new divergence, 1 new ones
(a mutant not found; a replay still diverging), 2 the run could not happen.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from ..engine.probe import ProbeError, probe_server
from ..explore.compare import render
from ..explore.known import KNOWN_PATH, KnownDivergence, KnownError, load_known
from ..explore.lane import LaneOptions
from ..explore.ops import ops_from_json
from ..explore.run import Explorer, ExploreSettings, Server, Summary
from ..progress import Progress
from ..targets import RegistryError, TargetError, find, is_address, load_registry, open_target
from ..wire import Address
from ._options import (
    add_out,
    add_seed,
    count,
    existing_file,
    positive_int,
    positive_seconds,
    server,
)
from ._options import out_dir as out_dir_of


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("explore", help="run generated sequences on several servers side by "
                                        "side; write every new divergence as a YAML case",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", action="append", default=[], type=server,
                   metavar="NAME|HOST:PORT",
                   help="a registered server (started and stopped here) or HOST:PORT of a "
                        "running one; twice or more (the first is the one cases expect)")
    p.add_argument("--as", dest="implementations", action="append", default=[], type=server,
                   metavar="NAME",
                   help="the registered implementation a HOST:PORT --server runs, one per "
                        "HOST:PORT server in order (its known divergences then apply)")
    p.add_argument("--seconds", type=positive_seconds, default=60.0, metavar="S",
                   help="exploring time budget (default 60; with --mutants, per mutation)")
    add_seed(p)
    p.add_argument("--max-sequences", type=positive_int, default=None, metavar="N",
                   help="stop after this many sequences")
    p.add_argument("--shrink-seconds", type=positive_seconds, default=30.0, metavar="S",
                   help="time budget for shrinking each new finding (default 30)")
    p.add_argument("--max-findings", type=count, default=20, metavar="N",
                   help="new findings shrunk and written; later ones are only counted "
                        "(default 20)")
    p.add_argument("--deadline", type=positive_seconds, default=2.0, metavar="S",
                   help="seconds a server may take to answer one step (default 2)")
    p.add_argument("--known", type=existing_file, default=None, metavar="FILE",
                   help=f"known divergences (default fixtures/baselines/{KNOWN_PATH.name})")
    p.add_argument("--no-verify", action="store_true",
                   help="do not run each written case against the servers")
    p.add_argument("--replay", type=existing_file, default=None, metavar="FILE",
                   help="run the operations of a finding (OUT/findings/finding-NNN.json) "
                        "once on the servers and say what they do now")
    p.add_argument("--mutants", action="store_true",
                   help="teeth sweep: each mutation in front of the (one, registered) "
                        "--server, explored against a clean copy of it")
    p.add_argument("--mutation", action="append", default=[], metavar="NAME",
                   help="with --mutants: only this mutation (repeatable)")
    add_out(p, "explore")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    p.set_defaults(func=run)


def _problem(args: argparse.Namespace) -> str | None:
    if not args.server:
        return "--server is required (twice or more, or once for invariants only)"
    if args.mutants and len(args.server) != 1:
        return "--mutants takes exactly one --server (the one to mutate)"
    if args.mutants and any(is_address(s) for s in args.server):
        return "--mutants needs a registered server it can start twice, not HOST:PORT"
    if len(args.implementations) > sum(is_address(s) for s in args.server):
        return "--as names the implementation of a HOST:PORT --server; there are fewer of those"
    return None


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    problem = _problem(args)
    if problem:
        print(f"gearcheck explore: {problem}", file=sys.stderr)
        return 2
    try:
        known = load_known(args.known)
    except KnownError as exc:
        print(f"gearcheck explore: {exc}", file=sys.stderr)
        return 2
    out_dir = out_dir_of(args, "explore", f"-seed{args.seed}")
    lane = LaneOptions(deadline_s=args.deadline)
    if args.mutants:
        from ..explore.teeth import sweep

        try:
            result = sweep(args.server[0], chosen_mutations(args.mutation), mutant_proxy,
                           seconds=args.seconds, seed=args.seed, out_dir=out_dir, lane=lane,
                           progress=None if args.no_progress else
                           lambda text: console.print(text, markup=False, highlight=False))
        except (RegistryError, TargetError, ProbeError, ValueError) as exc:
            print(f"gearcheck explore: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({k: v for k, v in result.items() if k != "per_mutation"}, indent=2))
        console.print(f"reports in {out_dir}")
        return 0 if result["found"] == result["mutations"] else 1
    if args.replay:
        return replay(args, known, out_dir, lane)
    settings = ExploreSettings(seconds=args.seconds, seed=args.seed, out_dir=out_dir,
                               max_sequences=args.max_sequences,
                               shrink_seconds=args.shrink_seconds,
                               max_findings=args.max_findings, verify=not args.no_verify,
                               lane=lane)
    try:
        with ExitStack() as stack:
            servers = start_servers(args.server, args.implementations, out_dir / "servers",
                                    stack)
            with Progress("explore", args.max_sequences, unit="sequences",
                          enabled=not args.no_progress) as bar:
                summary = Explorer(servers, settings, known,
                                   lambda outcome: bar.advance(1, outcome)).run()
    except (RegistryError, TargetError, ProbeError, ValueError, OSError) as exc:
        print(f"gearcheck explore: cannot explore: {exc}", file=sys.stderr)
        return 2
    _print_result(console, summary, out_dir)
    return 1 if summary.failed else 0


def replay(args: argparse.Namespace, known: list[KnownDivergence], out_dir: Path,
           lane: LaneOptions) -> int:
    """--replay: the stored operations once; exit 1 when they still give a finding."""
    try:
        ops = ops_from_json(json.loads(args.replay.read_text())["operations"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"gearcheck explore: --replay {args.replay}: not a findings file ({exc})",
              file=sys.stderr)
        return 2
    settings = ExploreSettings(seconds=args.seconds, seed=args.seed, out_dir=out_dir, lane=lane)
    try:
        with ExitStack() as stack:
            servers = start_servers(args.server, args.implementations, out_dir / "servers",
                                    stack)
            trace = Explorer(servers, settings, known).replay_operations(ops)
    except (RegistryError, TargetError, ProbeError, ValueError, OSError) as exc:
        print(f"gearcheck explore: cannot replay: {exc}", file=sys.stderr)
        return 2
    for step in trace.steps:
        said = {lane: {a: render(i) for a, i in o.items()}
                for lane, o in step.observations.items()}
        print(f"{step.op.describe()}: " + ("skipped" if step.skipped else json.dumps(said)))
    if trace.finding is None:
        print(f"no finding: the {len(ops)} operations ran alike on every server")
        return 0
    print(f"finding at operation {trace.finding.step + 1}: {trace.finding.signature}")
    return 1


def chosen_mutations(only: list[str]) -> list[tuple[str, str]]:
    """(name, defect) of every mutation in gearcheck/robustness/mutations.py, or of ``only``."""
    from ..robustness.mutations import MUTATIONS

    unknown = sorted(set(only) - {m.name for m in MUTATIONS})
    if unknown:
        raise ValueError(f"unknown mutation(s) {', '.join(unknown)}; known: "
                         f"{', '.join(m.name for m in MUTATIONS)}")
    return [(m.name, m.defect) for m in MUTATIONS if not only or m.name in only]


@contextmanager
def mutant_proxy(upstream: Address, mutation: str | None) -> Iterator[Address]:
    """The robustness package's mutating proxy in front of ``upstream`` (None: clean)."""
    from ..robustness.mutant_proxy import MutantProxy
    from ..robustness.mutations import BY_NAME

    with MutantProxy(upstream, BY_NAME[mutation] if mutation else None) as proxy:
        assert proxy.address is not None
        yield proxy.address


def start_servers(choices: list[str], implementations: list[str], log_root: Path,
                  stack: ExitStack) -> list[Server]:
    """Start (or reach) and probe each server; every started one is stopped by ``stack``.

    ``implementations`` name, in order, what the HOST:PORT choices run (--as)."""
    specs = load_registry()
    said = iter(implementations)
    servers: list[Server] = []
    labels: set[str] = set()
    for n, choice in enumerate(choices):
        if is_address(choice):
            as_name = next(said, None)
            implementation = find(specs, as_name).name if as_name else ""
        else:
            implementation = find(specs, choice).name
        label = implementation or choice  # signatures name servers by implementation
        if label in labels:
            label = f"{label}#{n + 1}"
        labels.add(label)
        target = open_target(choice, specs=specs, log_dir=log_root / label.replace("#", "-"))
        stack.callback(target.stop)
        target.start()
        profile = probe_server(target.address, f"gxprobe{n}")
        servers.append(Server(label, implementation, profile, target.address))
    return servers


def _print_result(console: Console, summary: Summary, out_dir: Path) -> None:
    d = summary.to_dict()
    print(json.dumps({k: v for k, v in d.items() if k != "finding_details"}, indent=2))
    for f in summary.findings:
        if f.status in ("new", "unconfirmed"):
            where = f" -> {f.case_file}" if f.case_file else ""
            console.print(f"{f.status} finding {f.number}: {f.signature}{where}",
                          markup=False, highlight=False)
    console.print(f"reports in {out_dir}")
