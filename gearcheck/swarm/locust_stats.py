"""Log many identical requests into Locust's statistics in one call.

Strategy: a load generator that sends tens of thousands of jobs a second
cannot afford ``events.request.fire`` per job (about 13 us each: the event
hook, the runner's listener, two ``StatsEntry.log`` calls). The users group
replies that share a request name, a send time and an arrival chunk; those
have exactly the same response time, so ``log_requests`` logs the first one
through Locust's own ``StatsEntry.log`` (which keeps min/max, the per-second
history and the CSV response-time cache right) and adds the remaining
``count - 1`` to the same counters. Locust's figures (request counts, RPS,
percentiles, the HTML and CSV reports, the master's merge) are therefore exact.

What this gives up: listeners on ``events.request`` (plugins) do not see
successful jobs one by one. Failures still go through ``events.request.fire``
per job, so error reporting is unchanged.
"""

from __future__ import annotations

from typing import Any

from locust.stats import bucket_response_time


def log_requests(stats: Any, method: str, name: str, response_time_ms: float,
                 content_length: int, count: int) -> None:
    """As ``count`` calls of ``stats.log_request(method, name, response_time_ms, length)``."""
    extra = count - 1
    rounded = bucket_response_time(response_time_ms) if extra else 0
    for entry in (stats.total, stats.get(name, method)):
        entry.log(response_time_ms, content_length)
        if extra:
            entry.num_requests += extra
            entry.num_reqs_per_sec[int(entry.last_request_timestamp)] += extra
            entry.total_response_time += response_time_ms * extra
            entry.response_times[rounded] += extra
            entry.total_content_length += content_length * extra
