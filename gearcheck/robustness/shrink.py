"""Delta debugging: the smallest input that still reproduces a finding.

Strategy: ddmin (gearcheck.minimize) over the payload bytes (remove ever smaller chunks
while the finding still reproduces), after first trying the cheap structural
simplifications (one connection instead of many, one write instead of a
dribble). Every trial replays the input against a real server, so the whole
search is bounded by a trial count and a deadline; when either runs out the
smallest input found so far is the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..minimize import Budget, OutOfBudget, ddmin
from .fuzz_exec import FuzzInput

Reproduces = Callable[[FuzzInput], bool]


@dataclass
class ShrinkResult:
    smallest: FuzzInput
    trials: int
    complete: bool  # False when the budget ran out before ddmin converged


def shrink(inp: FuzzInput, reproduces: Reproduces, *, max_trials: int = 200,
           deadline_s: float = 30.0) -> ShrinkResult:
    budget = Budget(max_trials, deadline_s)
    best = inp

    def test(candidate: FuzzInput) -> bool:
        nonlocal best
        budget.spend()
        if reproduces(candidate):
            best = candidate
            return True
        return False

    try:
        for change in ({"connections": 1}, {"chunk_size": 0}, {"ending": "close"}):
            candidate = best.smaller(**change)
            if candidate != best:
                test(candidate)
        start = best
        ddmin(start.payload, lambda data: test(start.smaller(payload=data)))
        return ShrinkResult(best, budget.trials, True)
    except OutOfBudget:
        return ShrinkResult(best, budget.trials, False)
