"""Cases that share nothing run at the same time; cases that need the server alone run alone.

Strategy: every case works under its own generated names (``${fn}`` carries the
run id and the case id), so most cases cannot see each other on one server and
can run side by side; what limits a suite against a distant server is round
trips, not work. Before pytest's loop starts, the run hands every shareable
case to a pool of threads, in collection order; pytest then walks its items in
the same order and each item waits for its own case, so output, reports and
outcomes are as in a serial run. A case that says it needs the server to itself
(``exclusive:`` in its YAML, with the reason) is put after all the shareable
ones and runs in the main thread when pytest reaches it, when nothing else runs.
When pytest stops early (``-x``), cases not yet started are cancelled.

Only without xdist: an xdist worker runs the subset its controller sends, one
at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..engine.loader import Scenario
from ..results import CaseResult


def runs_alone(scenario: Scenario) -> bool:
    return bool(scenario.exclusive)


def order_for_concurrency(scenarios: list[Scenario]) -> list[Scenario]:
    """Shareable cases first, then the ones that run alone; each group in its own order."""
    return [s for s in scenarios if not runs_alone(s)] + [s for s in scenarios if runs_alone(s)]


class CaseScheduler:
    """Runs shareable cases ahead on ``jobs`` threads; hands each result over when asked."""

    def __init__(self, execute: Callable[[Scenario], CaseResult], jobs: int) -> None:
        self.execute = execute
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gearcheck-case")
        self.ahead: dict[int, Future[CaseResult]] = {}

    def start(self, scenarios: list[Scenario]) -> None:
        for scenario in scenarios:
            if not runs_alone(scenario):
                self.ahead[id(scenario)] = self.pool.submit(self.execute, scenario)

    def result(self, scenario: Scenario) -> CaseResult:
        future = self.ahead.pop(id(scenario), None)
        if future is None:  # runs alone: everything submitted before it has been awaited
            return self.execute(scenario)
        return future.result()

    def close(self) -> None:
        """Cancel what has not started; wait for what has (each case has its deadlines)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.ahead.clear()
