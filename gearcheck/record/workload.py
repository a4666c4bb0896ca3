"""The figures of a recorded workload, and measured values as profile distributions.

Strategy: plain statistics over the jobs a trace holds. ``quantile`` is the
usual linear interpolation between order statistics (for the distribution
points a replay samples from); the summary figures use the nearest rank, as
the swarm's HDR histograms do, so a replay's figures are read the same way. A list of measured
values becomes the smallest profile distribution that reproduces it: one
value is a constant; up to ``CHOICE_LIMIT`` distinct values are a ``choice``
weighted by how often each occurred (exact); more become an ``empirical``
distribution whose points are the measured quantiles at ``POINTS`` (with the
tails kept: 1%, 0.1%, the minimum and the maximum), which the swarm samples
by interpolating between them. ``figures`` is the summary the load report
compares a replay with: rate, function mix, background share, priority mix
the payload size quantiles, and the payload size CDF at those quantiles
(the replay is judged by its largest CDF difference there, which works for
sizes drawn from a few values as well as for a continuous spread).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .jobs import Submission, Workload

CHOICE_LIMIT = 16
POINTS = (0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99,
          0.999, 1.0)
SUMMARY_QUANTILES = (10, 50, 90, 99)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated linearly."""
    if not ordered:
        return 0.0
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The value of rank q*n rounded (at least 1): how HdrHistogram reads a percentile."""
    if not ordered:
        return 0.0
    return ordered[max(1, int(q * len(ordered) + 0.5)) - 1]


def summary_numbers(values: Sequence[float], scale: float = 1.0,
                    digits: int = 1) -> dict[str, float]:
    """mean and p10/p50/p90/p99 (times ``scale``), for the recorded block."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {"mean": round(sum(ordered) / len(ordered) * scale, digits)}
    for q in SUMMARY_QUANTILES:
        out[f"p{q}"] = round(nearest_rank(ordered, q / 100) * scale, digits)
    return out


def cdf_points(values: Sequence[float]) -> list[list[float]]:
    """[value, fraction of the values at or below it] at the POINTS quantiles."""
    ordered = sorted(values)
    out: list[list[float]] = []
    for p in POINTS:
        v = nearest_rank(ordered, p) if p > 0 else ordered[0]
        if out and out[-1][0] == v:
            continue
        out.append([v, round(bisect.bisect_right(ordered, v) / len(ordered), 6)])
    return out


def size_distribution(sizes: Sequence[int]) -> int | dict[str, Any]:
    """Payload or result sizes as a profile ``size_dist``."""
    counts = Counter(sizes)
    if len(counts) == 1:
        return next(iter(counts))
    if len(counts) <= CHOICE_LIMIT:
        return {"dist": "choice", "values": {str(v): n for v, n in sorted(counts.items())}}
    ordered = sorted(sizes)
    return {"dist": "empirical",
            "points": _points(ordered, lambda q: round(quantile(ordered, q)))}


def duration_distribution(seconds: Sequence[float]) -> str | dict[str, Any]:
    """Service times as a profile ``duration_dist`` (microsecond resolution)."""
    micros = [max(0, round(s * 1e6)) for s in seconds]
    counts = Counter(micros)
    if len(counts) == 1:
        return f"{next(iter(counts))}us"
    if len(counts) <= CHOICE_LIMIT:
        return {"dist": "choice", "values": {f"{v}us": n for v, n in sorted(counts.items())}}
    ordered = sorted(micros)
    return {"dist": "empirical",
            "points": _points(ordered, lambda q: f"{round(quantile(ordered, q))}us")}


def _points(ordered: Sequence[float], value: Any) -> list[list[Any]]:
    # Only the points the data resolve (at least one value per step), and none twice.
    n = len(ordered)
    points: list[list[Any]] = []
    for p in POINTS:
        if 0.0 < p < 1.0 and min(p, 1 - p) * n < 1:
            continue
        points.append([p, value(p)])
    return points


def shares(counter: Counter[str]) -> dict[str, float]:
    total = sum(counter.values())
    return {k: round(v / total, 6) for k, v in sorted(counter.items())} if total else {}


def arrival_window(submissions: Sequence[Submission]) -> tuple[float, float]:
    """(first submission, end of the window the submissions fill).

    The last arrival is inside the window, so it ends one mean gap after it;
    a single submission gets a one-second window.
    """
    times = sorted(s.t for s in submissions)
    if not times:
        return 0.0, 0.0
    if len(times) == 1:
        return times[0], times[0] + 1.0
    gap = (times[-1] - times[0]) / (len(times) - 1)
    return times[0], times[-1] + gap


def figures(work: Workload) -> dict[str, Any]:
    """The recording's figures (the ``recorded:`` block of a replay profile)."""
    subs = [s for s in work.submissions if not s.rejected]
    first, end = arrival_window(subs)
    duration = end - first
    executions = [e for e in work.executions if e.done_t is not None]
    latencies = [s.result_t - s.t for s in subs if s.result_t is not None]
    out: dict[str, Any] = {
        "source": work.trace.path,
        "recorded_at": str(work.trace.header.get("recorded_at", "")),
        "duration_s": round(duration, 6),
        "submissions": len(subs),
        "rate_per_s": round(len(subs) / duration, 6) if duration > 0 else 0.0,
        "functions": shares(Counter(s.function for s in subs)),
        "background": round(sum(s.background for s in subs) / len(subs), 6) if subs else 0.0,
        "priorities": shares(Counter(s.priority for s in subs)),
        "payload_bytes": summary_numbers([s.size for s in subs]),
        "payload_cdf": cdf_points([s.size for s in subs]) if subs else {},
        "result_bytes": summary_numbers([e.result_size for e in executions
                                         if e.outcome != "fail"]),
        "service_time_ms": summary_numbers([e.service_time or 0.0 for e in executions],
                                           1e3, 3),
        "fg_latency_ms": summary_numbers(latencies, 1e3, 3),
        "client_connections": sum(1 for c in work.connections.values() if c.submitted),
        "worker_connections": sum(1 for c in work.connections.values() if c.registered),
    }
    return {k: v for k, v in out.items() if v != {}}
