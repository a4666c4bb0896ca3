"""log_requests(count=n) must leave Locust's statistics exactly as n log_request calls do.

Run as a script by test_locust_stats.py: importing Locust monkey-patches the
whole process with gevent, which the pytest process must never be.
"""

from __future__ import annotations

import math
import time

from locust.stats import RequestStats

from gearcheck.swarm.locust_stats import log_requests


def _snapshot(stats: RequestStats) -> list[tuple[object, ...]]:
    rows = []
    for entry in (stats.total, stats.get("echo normal bg", "SUBMIT")):
        rows.append((entry.num_requests, entry.num_none_requests, entry.total_response_time,
                     entry.min_response_time, entry.max_response_time,
                     dict(entry.response_times), dict(entry.num_reqs_per_sec),
                     entry.total_content_length, entry.median_response_time,
                     entry.get_response_time_percentile(0.99)))
    return rows


def check_grouped_logging_equals_one_call_per_request() -> None:
    groups = [(0.412, 64, 1), (3.5, 128, 7), (147.0, 64, 250), (0.9, 0, 3)]
    one_by_one = RequestStats(use_response_times_cache=True)
    grouped = RequestStats(use_response_times_cache=True)
    for response_time, length, count in groups:
        for _ in range(count):
            one_by_one.log_request("SUBMIT", "echo normal bg", response_time, length)
        log_requests(grouped, "SUBMIT", "echo normal bg", response_time, length, count)
    # The per-second counters depend on the wall clock: both ran within the same
    # second or two, so compare everything else exactly and the totals per second; a
    # sum of floats differs in its last bit with the order of the additions.
    a, b = _snapshot(one_by_one), _snapshot(grouped)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a[:2] == row_b[:2] and row_a[3:6] == row_b[3:6]
        assert math.isclose(row_a[2], row_b[2], rel_tol=1e-12)
        assert sum(row_a[6].values()) == sum(row_b[6].values()) == 261  # type: ignore[attr-defined]
        assert row_a[7:] == row_b[7:]
    assert grouped.total.num_requests == 261
    assert grouped.total.max_response_time == 147.0


def check_requests_land_in_the_second_they_were_observed() -> None:
    stats = RequestStats(use_response_times_cache=True)
    now = time.time()
    log_requests(stats, "WORK", "f complete", 0.004, 10, 5, now - 2)
    log_requests(stats, "WORK", "f complete", 0.006, 10, 3, now - 1)
    entry = stats.get("f complete", "WORK")
    assert dict(entry.num_reqs_per_sec) == {int(now - 2): 5, int(now - 1): 3}
    assert entry.num_requests == 8 and entry.last_request_timestamp == now - 1
    assert entry.min_response_time == 0.004 and entry.max_response_time == 0.006


if __name__ == "__main__":
    check_grouped_logging_equals_one_call_per_request()
    check_requests_land_in_the_second_they_were_observed()
    print("locust stats checks passed")
