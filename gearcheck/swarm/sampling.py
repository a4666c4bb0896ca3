"""Random draws that follow their distribution closely even over a few hundred jobs.

Strategy: stratified sampling. ``random()`` hands out one value from each
1/STRATA slice of [0, 1) per STRATA draws, in shuffled order; everything built on
``random()`` (``choices`` by weight, ``expovariate``, sizes from a CDF) inherits
the evenness. No Locust import, so tests use it without gevent's monkey-patching.
"""

from __future__ import annotations

import random


class StratifiedRandom(random.Random):
    """``random()`` in shuffled strata: every ``STRATA`` draws take one value from each
    1/STRATA slice of [0, 1), so what is drawn through it (a size from a distribution, a
    choice by weight) follows the distribution closely even over a few hundred jobs,
    instead of with the sampling noise of independent draws."""

    STRATA = 100

    def __init__(self, seed: int, strata: int = STRATA) -> None:
        self._base = random.Random(seed)  # shuffles the deck and places each draw in its slice
        self._strata = strata
        self._deck: list[int] = []
        super().__init__(seed)

    def random(self) -> float:
        if not self._deck:
            self._deck = list(range(self._strata))
            self._base.shuffle(self._deck)
        return (self._deck.pop() + self._base.random()) / self._strata
