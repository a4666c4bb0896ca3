"""Delta debugging over operations: the shortest sequence that still gives the same finding.

Strategy: Zeller's ddmin over the operations before the one that shows the
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

import time
from collections.abc import Callable
from dataclasses import dataclass

from .ops import Op
from .replay import Trace

Replay = Callable[[list[Op]], Trace]


@dataclass
class ShrinkResult:
    trace: Trace
    trials: int
    complete: bool  # False when the budget ran out first


class _OutOfBudget(Exception):
    pass


def shrink(trace: Trace, replay: Replay, *, max_trials: int = 200,
           deadline_s: float = 30.0) -> ShrinkResult:
    assert trace.finding is not None
    wanted = trace.finding.signature
    deadline = time.monotonic() + deadline_s
    trials = 0
    best = trace

    def attempt(candidate: list[Op]) -> bool:
        nonlocal trials, best
        if trials >= max_trials or time.monotonic() > deadline:
            raise _OutOfBudget
        trials += 1
        result = replay(candidate)
        if result.finding is not None and result.finding.signature == wanted:
            best = result
            return True
        return False

    try:
        _ddmin(best.ops, attempt, lambda: best.ops)
        progress = True
        while progress:
            progress = False
            ops = best.ops
            for i in range(len(ops) - 2, -1, -1):
                if i < len(best.ops) - 1 and attempt(best.ops[:i] + best.ops[i + 1:]):
                    progress = True
        return ShrinkResult(best, trials, True)
    except _OutOfBudget:
        return ShrinkResult(best, trials, False)


def _ddmin(ops: list[Op], attempt: Callable[[list[Op]], bool],
           current: Callable[[], list[Op]]) -> None:
    n = 2
    while True:
        ops = current()
        body, last = ops[:-1], ops[-1:]
        if len(body) < 2:
            return
        chunk = max(1, len(body) // n)
        reduced = False
        for start in range(0, len(body), chunk):
            if attempt(body[:start] + body[start + chunk:] + last):
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                return
            n = min(len(body), n * 2)
