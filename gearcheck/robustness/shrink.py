"""Delta debugging: the smallest input that still reproduces a finding.

Strategy: Zeller's ddmin over the payload bytes (remove ever smaller chunks
while the finding still reproduces), after first trying the cheap structural
simplifications (one connection instead of many, one write instead of a
dribble). Every trial replays the input against a real server, so the whole
search is bounded by a trial count and a deadline; when either runs out the
smallest input found so far is the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .fuzz_exec import FuzzInput

Reproduces = Callable[[FuzzInput], bool]


@dataclass
class ShrinkResult:
    smallest: FuzzInput
    trials: int
    complete: bool  # False when the budget ran out before ddmin converged


def shrink(inp: FuzzInput, reproduces: Reproduces, *, max_trials: int = 200,
           deadline_s: float = 30.0) -> ShrinkResult:
    deadline = time.monotonic() + deadline_s
    trials = 0

    def test(candidate: FuzzInput) -> bool:
        nonlocal trials
        if trials >= max_trials or time.monotonic() > deadline:
            raise _OutOfBudget
        trials += 1
        return reproduces(candidate)

    best = inp
    try:
        for change in ({"connections": 1}, {"chunk_size": 0}, {"ending": "close"}):
            candidate = best.smaller(**change)
            if candidate != best and test(candidate):
                best = candidate
        best = _ddmin(best, test)
        return ShrinkResult(best, trials, True)
    except _OutOfBudget:
        return ShrinkResult(best, trials, False)


class _OutOfBudget(Exception):
    pass


def _ddmin(inp: FuzzInput, test: Reproduces) -> FuzzInput:
    data = inp.payload
    n = 2
    while len(data) >= 2:
        chunk = max(1, len(data) // n)
        reduced = False
        for start in range(0, len(data), chunk):
            complement = data[:start] + data[start + chunk:]
            if test(inp.smaller(payload=complement)):
                data = complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(data), n * 2)
    return inp.smaller(payload=data)
