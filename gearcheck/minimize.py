"""Delta debugging: the smallest part of a failing input that still fails, within a budget.

Strategy: Zeller's ddmin over any sliceable sequence (a list of jobs, of
operations, the bytes of a payload): remove ever smaller chunks while the test
still holds, until no single element can go (1-minimal). Every test is a real
replay somewhere (a server, a database), so a ``Budget`` bounds the whole
search by a trial count and a deadline; ``spend`` raises ``OutOfBudget`` when
either runs out, and the caller keeps the smallest input found so far. A test
may learn that a candidate shrinks further on its own (a replay that fails
earlier than the last element); ``settle`` gives ddmin what to continue from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, Self, TypeVar


class Sliceable(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: slice, /) -> Self: ...
    def __add__(self, other: Self, /) -> Self: ...


S = TypeVar("S", bound=Sliceable)


class OutOfBudget(Exception):
    """The trials or the time for a search ran out."""


class Budget:
    def __init__(self, max_trials: int, seconds: float) -> None:
        self.max_trials = max_trials
        self.deadline = time.monotonic() + seconds
        self.trials = 0

    def spend(self) -> None:
        """Count one trial; ``OutOfBudget`` when none is left."""
        if self.trials >= self.max_trials or time.monotonic() > self.deadline:
            raise OutOfBudget
        self.trials += 1


def ddmin(items: S, test: Callable[[S], bool], *,
          settle: Callable[[S], S] | None = None, keep_one: bool = True) -> S:
    """A 1-minimal part of ``items`` for which ``test`` holds (``test(items)`` is assumed).

    ``settle(candidate)`` is what to continue from after ``candidate`` passed (default:
    the candidate itself). With ``keep_one`` false, an empty remainder is tried too.
    """
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        reduced = False
        for start in range(0, len(items), chunk):
            complement = items[:start] + items[start + chunk:]
            if test(complement):
                items = settle(complement) if settle else complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(items), n * 2)
    if not keep_one and len(items) == 1 and test(items[:0]):
        return items[:0]
    return items
