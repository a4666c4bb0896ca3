"""One sequence on every server in lockstep, step by step, up to its first finding.

Strategy: each run of a sequence gets a fresh namespace (``names.Names``) and
fresh connections on every lane. A step sends the operation on every lane
first and then collects every lane's arrivals (``lane.Lane``), so the servers
see it within microseconds of each other; a pause sleeps once, between the two.
Each lane's arrivals are normalized and fed to that lane's model, which checks
the invariants; the observations are compared across lanes. The first
divergence or broken invariant ends the sequence (what follows it would
compare servers that are already in different states). An operation that no
lane can send (it names a job a shrunk sequence no longer creates) is skipped
everywhere. At the end every connection is closed and the run's functions are
drained, so nothing is left on the servers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .compare import Difference, difference, signature
from .generator import ACTORS, Generator
from .lane import Lane, StepRaw
from .model import Model, Violation
from .names import Names
from .normalize import Normalizer, Observation
from .ops import Op


@dataclass
class Step:
    op: Op
    observations: dict[str, Observation] = field(default_factory=dict)
    violations: dict[str, list[Violation]] = field(default_factory=dict)
    skipped: bool = False


@dataclass
class Finding:
    kind: str  # divergence | invariant
    step: int  # index into Trace.steps
    signature: str
    difference: Difference | None
    violations: dict[str, list[Violation]]


@dataclass
class Trace:
    names: Names
    lanes: list[str]
    steps: list[Step]
    models: dict[str, Model]
    handles: dict[str, dict[int, str]] = field(default_factory=dict)  # lane -> op id -> ${hN}
    finding: Finding | None = None
    elapsed_s: float = 0.0

    @property
    def ops(self) -> list[Op]:
        """The operations that ran, up to and including the finding's."""
        last = self.finding.step if self.finding else len(self.steps) - 1
        return [s.op for s in self.steps[:last + 1] if not s.skipped]


class Lockstep:
    """Runs sequences on a fixed set of lanes; each run in a namespace of its own."""

    def __init__(self, lanes: list[Lane], tag: str) -> None:
        self.lanes = lanes
        self.tag = tag
        self.runs = 0
        self.steps_run = 0

    def fresh_names(self) -> Names:
        self.runs += 1
        return Names(f"{self.tag}{self.runs}")

    def run(self, *, ops: list[Op] | None = None, generator: Generator | None = None,
            ) -> Trace:
        if (ops is None) == (generator is None):
            raise ValueError("give a list of operations or a generator")
        names = self.fresh_names()
        started = time.monotonic()
        normalizers = {lane.name: Normalizer(names) for lane in self.lanes}
        models = {lane.name: Model(list(ACTORS)) for lane in self.lanes}
        trace = Trace(names, [lane.name for lane in self.lanes], [], models)
        try:
            for lane in self.lanes:
                lane.begin(names, list(ACTORS))
            queue = list(ops or [])
            while True:
                if generator is not None:
                    if generator.done():
                        break
                    op = generator.next(models[self.lanes[0].name])
                elif queue:
                    op = queue.pop(0)
                else:
                    break
                step = self._step(op, normalizers, models)
                trace.steps.append(step)
                if not step.skipped:
                    self.steps_run += 1
                    trace.finding = self._finding(len(trace.steps) - 1, step)
                    if trace.finding is not None:
                        break
        finally:
            functions = [names.function(f) for f in ("f1", "f2", "f3", "r1")]
            for lane in self.lanes:
                symbols = normalizers[lane.name].symbols
                trace.handles[lane.name] = {op_id: symbols[h] for op_id, h in lane.handles.items()
                                            if h in symbols}
                lane.end()
                lane.drain(functions)
        trace.elapsed_s = time.monotonic() - started
        return trace

    def _step(self, op: Op, normalizers: dict[str, Normalizer],
              models: dict[str, Model]) -> Step:
        raws: dict[str, StepRaw | None] = {lane.name: lane.send(op) for lane in self.lanes}
        if op.kind == "pause":
            time.sleep(op.seconds)
        for lane in self.lanes:
            raw = raws[lane.name]
            if raw is not None:
                raws[lane.name] = lane.collect(op, raw)
        if all(r is None for r in raws.values()):
            return Step(op, skipped=True)
        step = Step(op)
        for lane in self.lanes:
            raw = raws[lane.name]
            if raw is None:  # this lane lacks the job the others have: a divergence
                step.observations[lane.name] = {op.actor: (("not sent: no such job",),)}
                continue
            obs = normalizers[lane.name].observe(raw)
            step.observations[lane.name] = obs
            found = models[lane.name].apply(op, obs)
            if found:
                step.violations[lane.name] = found
        return step

    @staticmethod
    def _finding(index: int, step: Step) -> Finding | None:
        diff = difference(step.observations) if len(step.observations) > 1 else None
        if diff is not None:
            return Finding("divergence", index, signature(step.op, diff), diff,
                           step.violations)
        if step.violations:
            by_invariant: dict[str, list[str]] = {}
            for lane, found in sorted(step.violations.items()):
                for v in found:
                    by_invariant.setdefault(v.invariant, []).append(lane)
            name, lanes = sorted(by_invariant.items())[0]
            sig = (f"{step.op.trigger()} -> invariant {name} broken on "
                   f"{','.join(sorted(set(lanes)))}")
            return Finding("invariant", index, sig, None, step.violations)
        return None
