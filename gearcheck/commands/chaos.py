"""Randomized workloads and faults against a job server, every acknowledged job judged.

One cell:    gearcheck chaos --server NAME [--backend B] [--nemesis N ...] --seconds S --seed N
             gearcheck chaos --server HOST:PORT ...   (faults that need its process are skipped)
             gearcheck chaos --server NAME --replay reports/.../plan.json
The matrix:  gearcheck chaos --matrix [--only WORD,...] [--soak] [--budget S]   (make chaos)

Writes OUT (default reports/chaos/<time>): chaos.json (per cell: server, back
end, nemesis, seed, submitted, acknowledged, recovered, lost, duplicated,
unexpected, the verdict and the gate's outcome), index.html with a timeline
per cell, and per cell its history.jsonl, plan.json, logs and, for a failure
the baseline (fixtures/baselines/chaos.yaml) does not explain, a shrunk
reproducer. Exit 0: every cell passed or failed as the baseline expects; 1: a
new failure or an expected one that did not show; 2: the harness could not
run a cell, or bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from ..chaos.baseline import DEFAULT_BASELINE, BaselineError, KnownDefect, load_baseline
from ..chaos.cells import CellOutcome, CellSpec, default_cells, play_cell
from ..chaos.nemesis import NEMESES
from ..chaos.plan import Plan
from ..chaos.report import write_html, write_json
from ..chaos.soak import SoakResult, soak
from ..progress import Progress
from ..targets.configs import QUEUE_BACKENDS
from ._options import add_out, add_seed, count, existing_file, positive_seconds, server
from ._options import out_dir as out_dir_of

SOAK_SERVERS = ["refserver-sqlite", "gearmand", "gearmand-sqlite", "gearmand-mysql",
                "gearmand-postgres", "gearmand-redis", "gearmand-memcached"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("chaos", help="randomized jobs and faults; every acknowledged job judged",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", type=server, metavar="NAME|HOST:PORT",
                       help="a registered server (fixtures/servers.yaml; started and stopped "
                            "here) or HOST:PORT of a running one (process and database "
                            "faults are then skipped)")
    where.add_argument("--matrix", action="store_true",
                       help="every server x back end x nemesis of the default matrix")
    p.add_argument("--backend", choices=QUEUE_BACKENDS,
                   help="the persistent queue's back end (default: the server's own)")
    p.add_argument("--nemesis", action="append", choices=sorted(NEMESES), metavar="N",
                   help=f"a fault to inject (repeatable): {', '.join(NEMESES)}")
    p.add_argument("--seconds", type=positive_seconds, default=None, metavar="S",
                   help="seconds of workload per cell (default 10; --matrix 4)")
    add_seed(p)
    p.add_argument("--replay", type=existing_file, metavar="PLAN",
                   help="play a saved plan.json (a reproducer) instead of drawing one")
    p.add_argument("--only", metavar="WORDS",
                   help="--matrix: only cells whose server or nemesis is one of these "
                        "(comma-separated)")
    p.add_argument("--soak", action="store_true",
                   help="--matrix: also fill-and-drain every back end (gearcheck soak)")
    p.add_argument("--budget", type=positive_seconds, default=540.0, metavar="S",
                   help="--matrix: seconds after which no new cell starts (default 540; the "
                        "soak comes after)")
    p.add_argument("--baseline", type=existing_file, default=DEFAULT_BASELINE, metavar="FILE",
                   help="known defects (default fixtures/baselines/chaos.yaml)")
    p.add_argument("--shrink-seconds", type=count, default=None, metavar="S",
                   help="time budget to shrink a new failure (default 120; --matrix 60; "
                        "0: no shrinking)")
    add_out(p, "chaos")
    p.set_defaults(func=run)


def _bad(message: str) -> int:
    print(f"gearcheck chaos: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds > 3600:
        return _bad(f"--seconds must be at most 3600, got {args.seconds:g}")
    try:
        known = load_baseline(args.baseline)
    except BaselineError as exc:
        return _bad(str(exc))
    if args.matrix:
        for flag, value in (("--backend", args.backend), ("--nemesis", args.nemesis),
                            ("--replay", args.replay)):
            if value:
                return _bad(f"{flag} is for one cell; --matrix runs its own (use --only)")
        seconds = args.seconds or 4.0
        cells = default_cells([w.strip() for w in args.only.split(",")] if args.only else None)
        if not cells:
            return _bad(f"--only {args.only!r} matches no cell of the matrix")
        shrink_s = 60.0 if args.shrink_seconds is None else float(args.shrink_seconds)
    else:
        if args.only or args.soak:
            return _bad("--only and --soak go with --matrix")
        cells = [CellSpec(args.server, args.backend, tuple(args.nemesis or ()))]
        seconds = args.seconds or 10.0
        shrink_s = 120.0 if args.shrink_seconds is None else float(args.shrink_seconds)
    plan = None
    if args.replay:
        try:
            plan = Plan.load(args.replay)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return _bad(f"--replay {args.replay}: not a chaos plan ({exc})")
        cells = [CellSpec(cells[0].server, cells[0].backend,
                          tuple(sorted({f.nemesis for f in plan.faults})))]
    out_dir = out_dir_of(args, "chaos")
    out_dir.mkdir(parents=True, exist_ok=True)
    return _run_cells(args, cells, seconds, shrink_s, known, out_dir, plan)


def _run_cells(args: argparse.Namespace, cells: list[CellSpec], seconds: float,
               shrink_s: float, known: list[KnownDefect], out_dir: Path,
               plan: Plan | None) -> int:
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = 160
    started = time.monotonic()
    outcomes: list[CellOutcome] = []
    soaks: list[SoakResult] = []
    total = len(cells) + (len(SOAK_SERVERS) if args.soak else 0)
    with Progress("chaos", total, unit="cells") as progress:
        findings = 0
        for spec in cells:
            if time.monotonic() - started > args.budget:
                outcomes.append(CellOutcome(spec=spec, seed=args.seed, seconds=seconds,
                                            notes=[f"not run: the {args.budget:.0f}s budget "
                                                   "was spent"]))
                progress.advance(outcome="SKIPPED")
                continue
            outcome = play_cell(spec, seed=args.seed, seconds=seconds, out_dir=out_dir,
                                known=known, shrink_budget_s=shrink_s,
                                finding_number=findings + 1, plan=plan)
            if outcome.reproducer:
                findings += 1
            outcomes.append(outcome)
            _print_cell(console, outcome)
            progress.advance(outcome=outcome.gate.outcome)
        if args.soak:
            for server in SOAK_SERVERS:
                result = soak(server, None, cycles=3, jobs=500, payload=512,
                              out_dir=out_dir / f"soak-{server}")
                soaks.append(result)
                console.print(f"soak {server} ({result.backend or 'memory'}): {result.verdict}; "
                              f"RSS {_mib(result.rss_start)} -> {_mib(result.rss_baseline)} -> "
                              f"{_mib(result.rss_end)} MiB, stuck {result.stuck}"
                              + (f", {result.error}" if result.error else ""))
                progress.advance(outcome=f"soak {result.verdict}")
    elapsed = time.monotonic() - started
    gates = [o.gate.outcome for o in outcomes]
    summary = (f"{len(outcomes)} cell(s), seed {args.seed}, {seconds:g}s each, "
               f"{elapsed:.0f}s in all: " + ", ".join(f"{gates.count(g)} {g}" for g in
                                                     ("PASS", "XFAIL", "FAIL", "XPASS", "ERROR",
                                                      "SKIPPED") if gates.count(g)))
    run_info = {"summary": summary, "seed": args.seed, "seconds_per_cell": seconds,
                "elapsed_s": round(elapsed, 1), "budget_s": args.budget,
                "baseline": str(args.baseline), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    cells_json = [o.to_dict(out_dir) for o in outcomes]
    soak_json = [s.to_dict() for s in soaks]
    json_path = write_json(out_dir, run_info, cells_json, soak_json)
    html_path = write_html(out_dir, run_info, cells_json, soak_json)
    console.print(summary)
    console.print(f"report: {html_path} and {json_path}")
    if "ERROR" in gates or any(s.verdict == "ERROR" for s in soaks):
        return 2
    if "FAIL" in gates or "XPASS" in gates or any(s.verdict == "FAIL" for s in soaks):
        return 1
    return 0


def _print_cell(console: Console, o: CellOutcome) -> None:
    counts = o.judgement.counts if o.judgement else {}
    figures = ", ".join(f"{k} {counts[k]}" for k in ("submitted", "acknowledged", "recovered",
                                                     "lost", "duplicated", "unexpected",
                                                     "altered", "unknown") if k in counts)
    colour = {"PASS": "green", "XFAIL": "yellow", "ERROR": "magenta"}.get(o.gate.outcome, "red")
    console.print(f"[{colour}]{o.gate.outcome}[/{colour}] {o.spec.name}: "
                  f"{figures or o.error} ({o.elapsed_s:.0f}s)")
    for note in o.notes:
        console.print(f"    {note}")
    if o.judgement and o.gate.outcome in ("FAIL", "XFAIL"):
        for failure in o.judgement.failures[:3]:
            console.print(f"    {failure['kind']}: {failure['detail'][:160]}")
    if o.gate.reasons:
        console.print(f"    baseline: {'; '.join(o.gate.reasons)[:200]}")
    if o.reproducer:
        console.print(f"    reproducer: {o.reproducer['command']}  ({o.reproducer['summary']})")


def _mib(value: int | None) -> str:
    return f"{value / (1 << 20):.1f}" if value is not None else "?"
