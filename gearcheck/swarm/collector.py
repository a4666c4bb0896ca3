"""One process's measurements, and their merge on the master.

Strategy: every Locust process owns one ``Measurements`` (latency histograms,
ledger entries, per-second counters, error counts) that the users write into
without locks (gevent: one thread). Latencies go through ``observe``, which
counts identical observations (metric, request, microseconds, length) within
one wall-clock second and writes them to the HDR histograms and Locust's
statistics when the second ends, before an export, or every half second
(``flush_observations``): a worker with no service time reports a few distinct
microsecond values per second for thousands of jobs, and every one of them
still lands in both, in its own second, with its exact count. ``export`` hands
over everything since the previous export as plain msgpack-able data; Locust
carries it in ``report_to_master`` (every few seconds) and a final flush
message. The master (or, in a single-process run, the same process) folds the
exports into one ``Aggregate``, which also keeps the server-side samples from
the poller. The same code path runs in both modes, so a local run tests the
merge too.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from .latency import LatencyBank
from .ledger import Ledger, LedgerDelta

# (metric, Locust request type or "" for HDR only, name, microseconds, length)
_Key = tuple[str, str, str, int, int]


class Measurements:
    """Written by this process's users; exported as deltas."""

    def __init__(self) -> None:
        self.latency = LatencyBank()
        self.ledger = LedgerDelta()
        self.per_second: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.draining = False  # set by the master's drain message: clients stop submitting
        self.in_flight = 0  # submissions this process still waits on
        self.rate_scale = 1.0  # open-model rates times this (capacity mode: set per step)
        self.clients: set[Any] = set()  # live client users (``finish`` at the flush)
        self.stats: Any = None  # Locust's RequestStats (set by the first user)
        self._pending: dict[_Key, int] = {}
        self._pending_second = 0
        self._pending_wall = 0.0

    def observe(self, metric: str, method: str, name: str, micros: int, size: int,
                count: int, wall: float) -> None:
        """``count`` observations of ``micros`` at wall time ``wall``, for the HDR
        histogram ``metric`` and (unless ``method`` is "") Locust's entry (method, name)."""
        second = int(wall)
        if second != self._pending_second:
            self.flush_observations()
            self._pending_second = second
        self._pending_wall = wall
        key = (metric, method, name, micros, size)
        pending = self._pending
        pending[key] = pending.get(key, 0) + count

    def flush_observations(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = {}
        second, wall = self._pending_second, self._pending_wall
        record = self.latency.record
        stats = self.stats
        if stats is not None:  # inside Locust; importing it elsewhere would monkey-patch
            from .locust_stats import log_requests
        for (metric, method, name, micros, size), n in pending.items():
            record(metric, name, micros, second, n)
            if method and stats is not None:
                log_requests(stats, method, name, micros / 1000, size, n, wall)

    def finish_clients(self) -> None:
        """The run is over: every client hands what it still waits for to the ledger."""
        for user in list(self.clients):
            user.finish()

    def tick(self, kind: str, n: int = 1, now: float | None = None) -> None:
        self.per_second[int(now if now is not None else time.time())][kind] += n

    def error(self, kind: str, now: float | None = None) -> None:
        self.errors[kind] += 1
        self.tick("errors", 1, now)

    def export(self) -> dict[str, Any]:
        self.flush_observations()
        out = {
            "latency": self.latency.export(),
            "ledger": self.ledger.export(),
            "per_second": [[s, dict(c)] for s, c in self.per_second.items()],
            "errors": dict(self.errors),
        }
        self.per_second = defaultdict(Counter)
        self.errors = Counter()
        return out


class Aggregate:
    """The whole run's figures, merged from every process's exports."""

    def __init__(self) -> None:
        self.latency = LatencyBank()
        self.ledger = Ledger()
        self.per_second: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.server_samples: list[dict[str, Any]] = []
        self.final_reports: set[str] = set()
        self.reports = 0

    def merge(self, data: dict[str, Any], source: str = "local") -> None:
        self.reports += 1
        self.latency.merge(data.get("latency", {}))
        self.ledger.merge(data.get("ledger", {}))
        for second, counts in data.get("per_second", []):
            self.per_second[int(second)].update(counts)
        self.errors.update(data.get("errors", {}))
        if data.get("final"):
            self.final_reports.add(source)

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.per_second.values():
            total.update(counts)
        return total
