"""Log many identical requests into Locust's statistics in one call.

Strategy: a load generator that sends tens of thousands of jobs a second
cannot afford ``events.request.fire`` per job (about 13 us each: the event
hook, the runner's listener, two ``StatsEntry.log`` calls). The swarm counts
identical observations (same request name, response time, length and wall-clock
second: ``collector.Measurements.observe``) and ``log_requests`` adds them to
both entries Locust keeps (the request's and the total) exactly as ``count``
calls of ``StatsEntry.log`` at wall time ``now`` would: request count, the
per-second counts behind RPS and the CSV history, the response-time cache,
total and min/max response time, the bucketed response times, content length.
Locust's figures (request counts, RPS, percentiles, the HTML and CSV reports,
the master's merge) are therefore exact; a test compares them with one call
per request.

What this gives up: listeners on ``events.request`` (plugins) do not see
successful jobs one by one. Failures still go through ``events.request.fire``
per job, so error reporting is unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from locust.stats import bucket_response_time


def log_requests(stats: Any, method: str, name: str, response_time_ms: float,
                 content_length: int, count: int, now: float | None = None) -> None:
    """As ``count`` calls of ``stats.log_request(method, name, response_time_ms, length)``
    made at wall-clock time ``now`` (default: now)."""
    if now is None:
        now = time.time()
    second = int(now)
    rounded = bucket_response_time(response_time_ms)
    total_time = response_time_ms * count
    for entry in (stats.total, stats.get(name, method)):
        last = entry.last_request_timestamp
        if last and second > int(last):
            if entry.use_response_times_cache:
                entry._cache_response_times(second - 1)
            entry.last_request_timestamp = now
        elif not last or now > last:
            entry.last_request_timestamp = now
        entry.num_requests += count
        entry.num_reqs_per_sec[second] += count
        entry.total_response_time += total_time
        low = entry.min_response_time
        if low is None or response_time_ms < low:
            entry.min_response_time = response_time_ms
        if response_time_ms > entry.max_response_time:
            entry.max_response_time = response_time_ms
        entry.response_times[rounded] += count
        entry.total_content_length += content_length * count
