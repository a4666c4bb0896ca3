"""Microsecond latency histograms that merge across Locust processes.

Strategy: one HdrHistogram (1 us .. 10 min, 3 significant digits) per
(metric, request name), plus a coarser one per (metric, wall-clock second) for
percentiles over time. Values are recorded in integer microseconds, from
``perf_counter_ns`` differences taken by the users. ``export`` encodes every
histogram touched since the last export (HdrHistogram's compressed base64
form) and resets it, so a Locust worker ships deltas in ``report_to_master``;
``merge`` decodes and adds them on the master. Metrics:
  created         submit -> JOB_CREATED
  result          submit -> final WORK_COMPLETE/FAIL/EXCEPTION (foreground)
  result_intended intended send time -> final result (open model, CO-free)
  work            JOB_ASSIGN -> result sent, in the worker
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 600_000_000
DIGITS = 3
SECOND_DIGITS = 2
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
METRICS = ("created", "result", "result_intended", "work")


def new_histogram(digits: int = DIGITS) -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, digits)


class LatencyBank:
    """Histograms keyed by (metric, name) and by (metric, second)."""

    def __init__(self) -> None:
        self.by_name: dict[tuple[str, str], HdrHistogram] = {}
        self.by_second: dict[tuple[str, int], HdrHistogram] = {}

    def record(self, metric: str, name: str, micros: int, second: int, count: int = 1) -> None:
        """``count`` observations of ``micros`` (a group of replies that shared a send
        time and an arrival chunk is recorded once)."""
        if micros < LOWEST_US:
            micros = LOWEST_US
        elif micros > HIGHEST_US:
            micros = HIGHEST_US
        key = (metric, name)
        hist = self.by_name.get(key)
        if hist is None:
            hist = self.by_name[key] = new_histogram()
        hist.record_value(micros, count)
        skey = (metric, second)
        shist = self.by_second.get(skey)
        if shist is None:
            shist = self.by_second[skey] = new_histogram(SECOND_DIGITS)
        shist.record_value(micros, count)

    # -- shipping ------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """Encoded deltas since the last export; the local histograms restart empty."""
        out = {
            "by_name": [[m, n, h.encode()] for (m, n), h in self.by_name.items()
                        if h.get_total_count()],
            "by_second": [[m, s, h.encode()] for (m, s), h in self.by_second.items()
                          if h.get_total_count()],
        }
        self.by_name.clear()
        self.by_second.clear()
        return out

    def merge(self, data: dict[str, Any]) -> None:
        for metric, name, blob in data.get("by_name", []):
            key = (metric, name)
            if key not in self.by_name:
                self.by_name[key] = new_histogram()
            self.by_name[key].add(HdrHistogram.decode(blob))
        for metric, second, blob in data.get("by_second", []):
            key = (metric, int(second))
            if key not in self.by_second:
                self.by_second[key] = new_histogram(SECOND_DIGITS)
            self.by_second[key].add(HdrHistogram.decode(blob))

    # -- reading ---------------------------------------------------------------
    def combined(self, metric: str, name: str | None = None) -> HdrHistogram | None:
        parts = [h for (m, n), h in self.by_name.items()
                 if m == metric and (name is None or n == name) and h.get_total_count()]
        if not parts:
            return None
        total = new_histogram()
        for h in parts:
            total.add(h)
        return total

    def names(self, metric: str) -> list[str]:
        return sorted(n for (m, n), h in self.by_name.items() if m == metric
                      and h.get_total_count())


def describe(hist: HdrHistogram | None) -> dict[str, Any]:
    """count, min, mean, p50/p90/p99/p99.9, max, all in microseconds."""
    if hist is None or not hist.get_total_count():
        return {"count": 0}
    out: dict[str, Any] = {"count": hist.get_total_count(), "min_us": hist.get_min_value(),
                           "mean_us": round(hist.get_mean_value(), 1)}
    for p in PERCENTILES:
        out[f"p{p:g}_us"] = hist.get_value_at_percentile(p)
    out["max_us"] = hist.get_max_value()
    return out
