"""Delta debugging over operations: the shortest sequence that still gives the same finding.

Strategy: ddmin (gearcheck.minimize) over the operations before the one that shows the
finding (that last one always stays), then single-operation removal until
nothing more can go. A candidate reproduces when replaying it on every
server gives a first finding with the same signature; it then shrinks to the
operations up to that finding. Operations keep their ids, so a result or a
cancel whose submission was removed is skipped by the lanes rather than
pointed at another job. Every trial is a real replay on the live servers, so
the search is bounded by a trial count and a deadline; when either runs out
the smallest sequence found so far is the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..minimize import Budget, OutOfBudget, ddmin
from .ops import Op
from .replay import Trace

Replay = Callable[[list[Op]], Trace]


@dataclass
class ShrinkResult:
    trace: Trace
    trials: int
    complete: bool  # False when the budget ran out first


def shrink(trace: Trace, replay: Replay, *, max_trials: int = 200,
           deadline_s: float = 30.0) -> ShrinkResult:
    assert trace.finding is not None
    wanted = trace.finding.signature
    budget = Budget(max_trials, deadline_s)
    best = trace

    def attempt(candidate: list[Op]) -> bool:
        nonlocal best
        budget.spend()
        result = replay(candidate)
        if result.finding is not None and result.finding.signature == wanted:
            best = result
            return True
        return False

    try:
        # the operation that shows the finding always stays; a replay that finds it
        # earlier shrinks the sequence to that point by itself (settle)
        ddmin(best.ops[:-1], lambda body: attempt(body + best.ops[-1:]),
              settle=lambda _body: best.ops[:-1])
        progress = True
        while progress:
            progress = False
            ops = best.ops
            for i in range(len(ops) - 2, -1, -1):
                if i < len(best.ops) - 1 and attempt(best.ops[:i] + best.ops[i + 1:]):
                    progress = True
        return ShrinkResult(best, budget.trials, True)
    except OutOfBudget:
        return ShrinkResult(best, budget.trials, False)
