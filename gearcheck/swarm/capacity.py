"""Capacity at a latency target: the highest offered rate a server holds.

Strategy (what wrk2 users do by hand, done stage by stage): the clients run an
open model, so the offered rate does not bend to the server's latency. The
search starts at ``start_rate`` jobs/s and multiplies it by ``growth`` after
every step that held, until a step breaks the target (if the first one does,
it halves the rate until one holds); then it halves the gap between the best
rate that held and the lowest that broke, ``refine`` times.
A step holds when, over its measured window (the step less its first second,
while the rate settles): the SLO's percentile of its metric is within the
limit, no errors occurred, the server kept up (completions at least
``KEEP_UP`` of what was sent) and the generator did (it sent at least
``KEEP_UP`` of the rate it was asked to offer; below that the generator, not
the server, is the limit and the search stops saying so). Sends that started
late (a busy machine delays a greenlet) are still sent, in a burst, and
counted: ``late_ratio`` in each step. Every step's figures go in
summary.json (``capacity.steps``) and capacity.png plots latency against
achieved throughput: the knee.

``parse_slo`` reads the target: ``"result p99 < 10ms"`` (metric ``created``,
``result``, ``result_intended`` or ``work``; ``<`` or ``<=``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .latency import METRICS, new_histogram
from .units import parse_duration

KEEP_UP = 0.95
_SLO = re.compile(r"^\s*(?P<metric>[a-z_]+)\s+p(?P<p>[0-9]+(?:\.[0-9]+)?)\s*(?P<op><=|<)"
                  r"\s*(?P<limit>\S+)\s*$")


@dataclass(frozen=True)
class Slo:
    metric: str
    percentile: float
    limit_s: float
    text: str

    def label(self) -> str:
        return f"{self.metric} p{self.percentile:g} < {self.limit_s * 1e3:g} ms"


def parse_slo(text: str) -> Slo:
    """``"result p99 < 10ms"`` -> Slo; ValueError naming what is wrong."""
    match = _SLO.match(text)
    if not match:
        raise ValueError(f"SLO {text!r} does not parse: write e.g. \"result p99 < 10ms\" "
                         f"(metric, percentile, < or <=, duration)")
    metric = match["metric"]
    if metric not in METRICS:
        raise ValueError(f"SLO {text!r}: unknown metric {metric!r} "
                         f"(one of {', '.join(METRICS)})")
    percentile = float(match["p"])
    if not 0 < percentile <= 100:
        raise ValueError(f"SLO {text!r}: percentile p{match['p']} is not in (0, 100]")
    limit = parse_duration(match["limit"])
    if limit <= 0:
        raise ValueError(f"SLO {text!r}: the limit must be above zero")
    return Slo(metric, percentile, limit, text.strip())


@dataclass(frozen=True)
class CapacitySettings:
    slo: Slo
    start_rate: float = 200.0  # jobs/s offered in the first step
    growth: float = 1.5  # multiplier after a step that held
    step_s: float = 5.0  # seconds per step (its first second is not measured)
    refine: int = 3  # halvings between the best good and the lowest bad rate
    max_steps: int = 30


@dataclass
class CapacitySearch:
    """Which rate to offer next, from the verdicts of the steps so far (no I/O)."""

    settings: CapacitySettings
    steps: list[dict[str, Any]] = field(default_factory=list)
    best: float | None = None  # highest offered rate that held
    worst: float | None = None  # lowest offered rate that broke
    refinements: int = 0
    stop_reason: str | None = None

    @property
    def rate(self) -> float:
        """The rate the current step offers."""
        if self.worst is None:
            if self.best is None:
                return self.settings.start_rate
            return self.best * self.settings.growth
        if self.best is None:  # even the first rate broke: come down until one holds
            return self.worst / 2
        return (self.best + self.worst) / 2

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    def record(self, step: dict[str, Any]) -> None:
        """One finished step (``held``, ``offered_rate`` and its figures)."""
        self.steps.append(step)
        rate = step["offered_rate"]
        if step.get("generator_limited"):
            self.stop_reason = ("the generator could not offer this rate (late sends "
                                f"{step['late_ratio']:.0%}, sent {step['submitted_rate']:,.0f} of "
                                f"{rate:,.0f}/s): add Locust processes")
            return
        bracketed = self.best is not None and self.worst is not None
        if step["held"]:
            self.best = max(self.best or 0.0, rate)
        else:
            self.worst = min(self.worst or rate, rate)
        if bracketed:
            self.refinements += 1  # every step inside the bracket halves it
        if self.refinements >= self.settings.refine:
            self.stop_reason = "narrowed in"
        elif self.best is None and self.worst is not None and self.worst < 2:
            self.stop_reason = "not even 2 jobs/s held the target"
        elif len(self.steps) >= self.settings.max_steps:
            self.stop_reason = f"{self.settings.max_steps} steps"

    def result(self) -> dict[str, Any]:
        held = [s for s in self.steps if s["held"]]
        top = max(held, key=lambda s: s["offered_rate"]) if held else None
        return {
            "slo": self.settings.slo.text, "slo_label": self.settings.slo.label(),
            "capacity_rate": top["offered_rate"] if top else None,
            "capacity_throughput": top["achieved_rate"] if top else None,
            "lowest_rate_that_broke": self.worst,
            "stop_reason": self.stop_reason, "steps": self.steps,
        }


def evaluate_step(agg: Any, slo: Slo, offered_rate: float, start: int, end: int,
                  worker_users: int) -> dict[str, Any]:
    """A step's figures over the whole seconds [start, end) of the merged ``Aggregate``."""
    seconds = range(start, end)
    window = max(1, end - start)
    counts: dict[str, int] = {}
    for s in seconds:
        for kind, n in agg.per_second.get(s, {}).items():
            counts[kind] = counts.get(kind, 0) + n
    hist = new_histogram(2)
    for s in seconds:
        part = agg.latency.by_second.get((slo.metric, s))
        if part is not None:
            hist.add(part)
    samples = hist.get_total_count()
    latency_us = hist.get_value_at_percentile(slo.percentile) if samples else None
    submitted = counts.get("submitted", 0)
    done_kind = "executed" if worker_users else "created"
    achieved = counts.get(done_kind, 0) / window
    late = counts.get("late", 0)
    errors = counts.get("errors", 0)
    late_ratio = late / submitted if submitted else 0.0
    within = latency_us is not None and latency_us <= slo.limit_s * 1e6
    kept_up = achieved >= KEEP_UP * (submitted / window) if submitted else False
    # Sent short of the rate while the server kept up with what it got: the generator's limit
    # (a server that falls behind fills the clients' windows and breaks the step instead).
    generator_limited = kept_up and submitted / window < KEEP_UP * offered_rate
    return {
        "offered_rate": round(offered_rate, 1), "submitted_rate": round(submitted / window, 1),
        "achieved_rate": round(achieved, 1), "window_s": window,
        f"{slo.metric}_p{slo.percentile:g}_us": latency_us, "latency_us": latency_us,
        "samples": samples, "errors": errors, "late_ratio": round(late_ratio, 4),
        "kept_up": kept_up, "within_slo": within,
        "generator_limited": generator_limited,
        "held": within and kept_up and errors == 0 and not generator_limited,
    }
