"""Chaos cells: run, judge, gate, shrink, plot; one cell or the whole matrix.

Strategy: a cell is (server, queue back end, nemesis). ``play_cell`` runs it
(runner), judges the history (checker), gates the result against the
baseline, draws its timeline, and for a failure the baseline does not
explain, shrinks the plan (same seed, fewer jobs and faults) and saves the
reproducer. ``DEFAULT_MATRIX`` is what ``make chaos`` runs: every persistent
queue gearmand ships and the reference server's, each with every nemesis it
can take, plus gearmand's thread counts, with the same seed (so every cell
gets the same jobs). The whole run has a time budget: cells that would start
after it are reported as SKIPPED, never silently dropped.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline import Gate, KnownDefect, judge_cell
from .checker import FAILURE_KINDS, Judgement, check
from .history import load
from .plan import Plan, generate
from .report import plot_timeline
from .reproducer import replay_command, save
from .runner import HarnessError, run_cell
from .shrink import shrink

Progress = Callable[[str], None]
PROCESS_FAULTS = ["kill", "stop", "pause"]
DB_FAULTS = ["db-kill", "db-restart", "db-pause"]
ACTOR_FAULTS = ["worker-kill", "client-gone"]

# (server from fixtures/servers.yaml, nemeses). The queue back end is the server's own.
DEFAULT_MATRIX: list[tuple[str, list[str]]] = [
    ("refserver-sqlite", PROCESS_FAULTS + ACTOR_FAULTS),
    ("gearmand", ["kill", "pause", *ACTOR_FAULTS]),      # memory-only queue: kill loses all
    ("gearmand-sqlite", PROCESS_FAULTS + ACTOR_FAULTS),
    ("gearmand-mysql", PROCESS_FAULTS + DB_FAULTS + ACTOR_FAULTS),
    ("gearmand-postgres", PROCESS_FAULTS + DB_FAULTS + ACTOR_FAULTS),
    ("gearmand-redis", PROCESS_FAULTS + DB_FAULTS + ACTOR_FAULTS),
    ("gearmand-memcached", PROCESS_FAULTS + DB_FAULTS + ACTOR_FAULTS),
    ("gearmand-threads0", ["pause", *ACTOR_FAULTS]),
    ("gearmand-threads1", ["pause", *ACTOR_FAULTS]),
]


@dataclass(frozen=True)
class CellSpec:
    server: str                 # a registered name or HOST:PORT
    backend: str | None         # the queue back end asked for (None: the server's own)
    nemeses: tuple[str, ...]
    server_args: tuple[str, ...] = ()   # added to the server's command line

    @property
    def nemesis(self) -> str:
        return "+".join(self.nemeses) or "none"

    @property
    def name(self) -> str:
        where = self.server.replace(":", "_") + (f"+{self.backend}" if self.backend else "")
        return f"{where}--{self.nemesis}"


@dataclass
class CellOutcome:
    spec: CellSpec
    seed: int
    seconds: float
    backend: str | None = None          # the back end the server really ran
    judgement: Judgement | None = None
    gate: Gate = field(default_factory=lambda: Gate("SKIPPED", (), 0))
    error: str = ""
    notes: list[str] = field(default_factory=list)
    faults_acted: int = 0
    history: str = ""
    plot: str = ""
    reproducer: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0

    def to_dict(self, base: Path) -> dict[str, Any]:
        judgement = self.judgement.to_dict() if self.judgement else {}
        return {
            "name": self.spec.name, "server": self.spec.server, "backend": self.backend,
            "nemesis": self.spec.nemesis, "seed": self.seed, "seconds": self.seconds,
            **{k: (self.judgement.counts.get(k) if self.judgement else None)
               for k in ("submitted", "acknowledged", "recovered", "lost", "duplicated",
                         "unexpected")},
            "verdict": "ERROR" if self.error else judgement.get("verdict", "SKIPPED"),
            "gate": self.gate.outcome, "baseline": list(self.gate.reasons),
            "counts": judgement.get("counts", {}), "failures": judgement.get("failures", []),
            "failures_left_out": judgement.get("failures_left_out", 0),
            "error": self.error, "notes": self.notes, "faults_acted": self.faults_acted,
            "history": _rel(self.history, base), "plot": _rel(self.plot, base),
            "reproducer": self.reproducer, "elapsed_s": round(self.elapsed_s, 1),
            "cpu_s": round(self.cpu_s, 2)}


def _rel(path: str, base: Path) -> str:
    if not path:
        return ""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


def default_cells(only: list[str] | None = None) -> list[CellSpec]:
    cells = [CellSpec(server, None, (nemesis,)) for server, nemeses in DEFAULT_MATRIX
             for nemesis in nemeses]
    if only:
        cells = [c for c in cells if any(w in (c.server, c.nemesis) or w in c.name
                                         for w in only)]
    return cells


def _children_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def play_cell(spec: CellSpec, *, seed: int, seconds: float, out_dir: Path,
              known: list[KnownDefect], shrink_budget_s: float, finding_number: int,
              plan: Plan | None = None, progress: Progress | None = None) -> CellOutcome:
    say = progress or (lambda _m: None)
    plan = plan or generate(seed, seconds, list(spec.nemeses))
    outcome = CellOutcome(spec=spec, seed=plan.seed, seconds=plan.seconds)
    started, cpu0 = time.monotonic(), _children_cpu()
    cell_dir = out_dir / spec.name
    try:
        run = run_cell(plan, target=spec.server, backend=spec.backend,
                       nemeses=list(spec.nemeses), run_dir=cell_dir, progress=say,
                       server_args=spec.server_args)
    except (HarnessError, OSError, ValueError) as exc:
        outcome.error = str(exc).splitlines()[0][:400]
        outcome.gate = Gate("ERROR", (), 0)
        outcome.elapsed_s, outcome.cpu_s = time.monotonic() - started, _children_cpu() - cpu0
        return outcome
    outcome.backend = run.queue_backend
    outcome.faults_acted = run.faults_acted
    outcome.notes = list(run.skipped)
    if run.server_failed:
        outcome.notes.append(f"the job server did not start again: {run.server_failed}")
    if run.crashes:
        outcome.notes.append(f"the job server crashed {run.crashes} time(s) by itself")
    if run.stuck:
        outcome.notes.append("stuck after the drain (admin status): " + ", ".join(
            f"{fn!r}: {n}" for fn, n in run.stuck.items()))
    outcome.notes += [f"harness: {p}" for p in run.harness_problems]
    events = load(run.history_path)
    judgement = check(events)
    outcome.judgement = judgement
    outcome.history = str(run.history_path)
    outcome.gate = judge_cell(known, server=spec.server, backend=outcome.backend,
                              nemesis=spec.nemesis, failures=judgement.failures,
                              error="; ".join(run.harness_problems))
    if outcome.gate.outcome == "ERROR":
        outcome.error = "; ".join(run.harness_problems)
    plot = cell_dir / "timeline.png"
    plot_timeline(events, judgement.failures, f"{spec.name} (seed {plan.seed})", plot)
    outcome.plot = str(plot)
    if outcome.gate.outcome == "FAIL" and shrink_budget_s > 0:
        kind = worst_uncovered(known, spec, outcome.backend, judgement)
        say(f"{spec.name}: {kind}; shrinking (budget {shrink_budget_s:.0f}s)")
        entries = [k for k in known if k.covers_cell(spec.server, outcome.backend, spec.nemesis)]
        outcome.reproducer = _shrink_and_save(
            spec, plan, judgement, kind, cell_dir, finding_number, shrink_budget_s,
            outcome.backend, lambda f: not any(k.covers(f) for k in entries))
    outcome.elapsed_s, outcome.cpu_s = time.monotonic() - started, _children_cpu() - cpu0
    return outcome


def worst_uncovered(known: list[KnownDefect], spec: CellSpec, backend: str | None,
                    judgement: Judgement) -> str:
    """The most severe failure kind of a cell that no baseline entry explains."""
    entries = [k for k in known if k.covers_cell(spec.server, backend, spec.nemesis)]
    kinds = {str(f["kind"]) for f in judgement.failures
             if not any(k.covers(f) for k in entries)}
    return next(k for k in FAILURE_KINDS if k in kinds)


def _shrink_and_save(spec: CellSpec, plan: Plan, judgement: Judgement, kind: str,
                     cell_dir: Path, number: int, budget_s: float, queue: str | None,
                     relevant: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    trial_dir = cell_dir / "shrink"
    counter = 0
    last_history: dict[int, Path] = {}

    def trial(candidate: Plan) -> Judgement | None:
        nonlocal counter
        counter += 1
        try:
            run = run_cell(candidate, target=spec.server, backend=spec.backend,
                           nemeses=list(spec.nemeses), run_dir=trial_dir / f"trial-{counter:02d}",
                           drain_s=8.0, server_args=spec.server_args)
        except (HarnessError, OSError):
            return None
        last_history[id(candidate)] = run.history_path
        return check(load(run.history_path))

    result = shrink(plan, judgement, trial, kind=kind, relevant=relevant, budget_s=budget_s)
    history = last_history.get(id(result.plan), cell_dir / "history.jsonl")
    repro_dir = cell_dir / "reproducer"
    written = save(repro_dir, number=number, kind=kind, plan=result.plan,
                   judgement=result.judgement,
                   target=spec.server, backend=spec.backend, history=history,
                   trials=result.trials, complete=result.complete, queue=queue,
                   server_args=spec.server_args)
    return {"dir": str(repro_dir), "files": written, "kind": result.kind,
            "jobs": len(result.plan.jobs), "faults": len(result.plan.faults),
            "trials": result.trials, "complete": result.complete,
            "command": replay_command(spec.server, spec.backend, repro_dir / "plan.json"),
            "summary": f"{result.kind}: {len(plan.jobs)} jobs and {len(plan.faults)} faults "
                       f"shrunk to {len(result.plan.jobs)} and {len(result.plan.faults)} in "
                       f"{result.trials} trials" + ("" if result.complete else " (budget)")}

