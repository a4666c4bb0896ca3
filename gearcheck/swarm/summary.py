"""summary.json: the run's figures in one versioned document.

Strategy: built once, on the master, from the merged ``Aggregate`` and the
poller's samples. Throughput is counted over the seconds in which clients
submitted (the load window, not the drain): ``jobs_per_s`` is worker
executions per second when the profile has workers, else JOB_CREATED per
second (an enqueue-only run). Latency comes from the HDR histograms, overall
and per request name, in microseconds. The thresholds are evaluated last,
against this same document, and ``passed`` is their conjunction.
"""

from __future__ import annotations

from typing import Any

from .collector import Aggregate
from .latency import METRICS, describe
from .profile import LoadProfile
from .thresholds import evaluate

SCHEMA_VERSION = 1


def build_summary(profile: LoadProfile, server: str, agg: Aggregate,
                  queued_at_end: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    seconds = sorted(agg.per_second)
    totals = agg.totals()
    load_secs = [s for s in seconds if agg.per_second[s].get("submitted")]
    if load_secs:
        window = max(1, load_secs[-1] - load_secs[0] + 1)
        counted = [agg.per_second[s] for s in range(load_secs[0], load_secs[-1] + 1)
                   if s in agg.per_second]
    else:
        window, counted = 1, []

    def rate(kind: str) -> float:
        return round(sum(c.get(kind, 0) for c in counted) / window, 1)

    invariants = agg.ledger.verdict(queued_at_end)
    submissions = totals.get("submitted", 0)
    fg = invariants["foreground"]
    error_count = sum(agg.errors.values()) + fg["fail"] + fg["exception"]
    t0 = seconds[0] if seconds else 0
    over_time = []
    for s in seconds:
        row: dict[str, Any] = {"t": s - t0, **agg.per_second[s]}
        for metric in ("created", "result", "result_intended"):
            hist = agg.latency.by_second.get((metric, s))
            if hist is not None and hist.get_total_count():
                row[f"{metric}_p50_us"] = hist.get_value_at_percentile(50)
                row[f"{metric}_p90_us"] = hist.get_value_at_percentile(90)
                row[f"{metric}_p99_us"] = hist.get_value_at_percentile(99)
        over_time.append(row)
    server_series = [
        {"t": round(x["t"] - t0, 2), "queued": x["queued"], "running": x["running"],
         "workers": x["workers"]}
        for x in agg.server_samples if "error" not in x]
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "profile": {"name": profile.name, "path": profile.path,
                    "description": profile.description, "duration_s": profile.duration,
                    "stages": [s.__dict__ for s in profile.stages],
                    "worker_users": profile.worker_users,
                    "max_client_users": profile.max_client_users},
        "server": server,
        "window_s": window,
        "window": {"start_epoch_s": load_secs[0] if load_secs else None,
                   "end_epoch_s": load_secs[-1] + 1 if load_secs else None},
        "epoch_s": t0,
        "counts": dict(totals),
        "throughput": {
            "jobs_per_s": rate("executed") if profile.worker_users else rate("created"),
            "submitted_per_s": rate("submitted"), "created_per_s": rate("created"),
            "results_per_s": rate("results"), "executed_per_s": rate("executed"),
        },
        "latency": {
            metric: {"all": describe(agg.latency.combined(metric)),
                     "by_name": {n: describe(agg.latency.combined(metric, n))
                                 for n in agg.latency.names(metric)}}
            for metric in METRICS
        },
        "open_model": {"late_sends": totals.get("late", 0),
                       "late_ratio": round(totals.get("late", 0) / submissions, 6)
                       if submissions else 0.0},
        "errors": {"by_kind": dict(agg.errors), "count": error_count,
                   "ratio": round(error_count / submissions, 6) if submissions else 0.0},
        "invariants": invariants,
        "server_status": {"samples": server_series, "queued_at_end": queued_at_end,
                          "poll_errors": sum(1 for x in agg.server_samples if "error" in x),
                          "max_queued": max((x["queued"] for x in server_series), default=0)},
        "over_time": over_time,
        "processes_reporting": sorted(agg.final_reports),
    }
    if extra:
        summary.update(extra)
    rows = evaluate(profile.thresholds, agg.latency, summary)
    summary["thresholds"] = rows
    summary["passed"] = all(r["passed"] for r in rows)
    return summary
