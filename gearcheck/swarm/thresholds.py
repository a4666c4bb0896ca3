"""Pass or fail for each of a profile's thresholds, read from a finished summary.

Strategy: every threshold becomes one row {threshold, limit, actual, passed}
so the report shows what was asked, what happened and the verdict side by
side. Latency thresholds read the merged HDR histograms (microseconds, not
Locust's whole-millisecond buckets); a latency threshold with no samples
fails, since a run that measured nothing proves nothing.
"""

from __future__ import annotations

from typing import Any

from .latency import LatencyBank
from .profile import Thresholds


def evaluate(thresholds: Thresholds, bank: LatencyBank, summary: dict[str, Any]
             ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    capacity = summary.get("capacity")
    if capacity is not None:
        # A capacity search breaks its latency target on purpose: what must hold is that
        # some rate held, and the invariants at every rate.
        found = capacity["capacity_rate"]
        rows.append({"threshold": f"a rate held {capacity['slo_label']}", "limit": None,
                     "actual": found, "passed": found is not None,
                     "note": capacity["stop_reason"]})
        thresholds = Thresholds(max_lost=thresholds.max_lost,
                                max_duplicated=thresholds.max_duplicated,
                                max_protocol_defects=thresholds.max_protocol_defects)
    for lt in thresholds.latency:
        hist = bank.combined(lt.metric, lt.name)
        limit_us = lt.max_seconds * 1e6
        if hist is None or not hist.get_total_count():
            rows.append({"threshold": lt.label(), "limit_us": limit_us, "actual_us": None,
                         "passed": False, "note": "no samples"})
            continue
        actual = hist.get_value_at_percentile(lt.percentile)
        rows.append({"threshold": lt.label(), "limit_us": limit_us, "actual_us": actual,
                     "passed": actual <= limit_us})
    if thresholds.max_error_ratio is not None:
        actual = summary["errors"]["ratio"]
        rows.append({"threshold": f"error ratio <= {thresholds.max_error_ratio:g}",
                     "limit": thresholds.max_error_ratio, "actual": actual,
                     "passed": actual <= thresholds.max_error_ratio})
    if thresholds.min_throughput is not None:
        actual = summary["throughput"]["jobs_per_s"]
        rows.append({"threshold": f"throughput >= {thresholds.min_throughput:g} jobs/s",
                     "limit": thresholds.min_throughput, "actual": actual,
                     "passed": actual >= thresholds.min_throughput})
    inv = summary["invariants"]
    if thresholds.max_lost is not None:
        rows.append({"threshold": f"lost jobs <= {thresholds.max_lost}",
                     "limit": thresholds.max_lost, "actual": inv["lost"],
                     "passed": inv["lost"] <= thresholds.max_lost})
    if thresholds.max_duplicated is not None:
        rows.append({"threshold": f"duplicated jobs <= {thresholds.max_duplicated}",
                     "limit": thresholds.max_duplicated, "actual": inv["duplicated"],
                     "passed": inv["duplicated"] <= thresholds.max_duplicated})
    if thresholds.max_replay_deviation is not None:
        replay = summary.get("replay") or {}
        actual = replay.get("max_deviation")
        rows.append({"threshold": f"replay deviation from the recording <= "
                                  f"{thresholds.max_replay_deviation:.1%}",
                     "limit": thresholds.max_replay_deviation, "actual": actual,
                     "passed": actual is not None
                     and actual <= thresholds.max_replay_deviation})
    if thresholds.max_protocol_defects is not None:
        kinds = {k: v for k, v in inv["defects"].items() if k not in ("lost", "duplicated")}
        rows.append({"threshold": f"protocol defects <= {thresholds.max_protocol_defects}",
                     "limit": thresholds.max_protocol_defects,
                     "actual": inv["protocol_defects"],
                     "passed": inv["protocol_defects"] <= thresholds.max_protocol_defects,
                     **({"note": ", ".join(f"{k} {v}" for k, v in kinds.items())}
                        if kinds else {})})
    if thresholds.max_late_ratio is not None:
        actual = summary["open_model"]["late_ratio"]
        rows.append({"threshold": f"late sends ratio <= {thresholds.max_late_ratio:g}",
                     "limit": thresholds.max_late_ratio, "actual": actual,
                     "passed": actual <= thresholds.max_late_ratio})
    return rows
