"""Replaying a recorded workload: rate-stage users, and how close the replay came.

Strategy: a profile made by ``gearcheck replay-profile`` has open-model
stages (submissions per second over time), one client mix per recorded
(function, foreground/background, priority) with its share of the
submissions and a fixed number of users, and a ``recorded:`` block with the
figures of the recording. ``ReplayClientUser`` is the ordinary client user
with these differences:
  - its arrival plan follows the stages (``arrivals``: its share of the
    integral of the rate, evenly spaced or Poisson, times the profile's
    speed, on one clock per process started when the test starts), and it
    keeps that plan across reconnections;
  - its random draws (payload sizes) are stratified (``StratifiedRandom``),
    so a short replay reproduces the size distribution without the noise of
    independent draws;
  - it notes the payload size of every created job in the process's
    histograms (metric ``payload_bytes``, by request name), which travel to
    the master with the latency ones;
  - a mix with recorded ``payloads`` sends them in order (the job id the
    ledger needs takes their first bytes, or travels as the unique id when
    a payload is shorter than it, as it does for drawn sizes that small).
``fidelity`` then sets the replay's figures next to the recording's (rate
times speed, function mix, background share, priorities, payload size mean
and CDF) with the deviation of each; the ``max_replay_deviation`` threshold
judges the largest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from locust import events

from .arrivals import RateSchedule
from .client import GearmanClientUser
from .collector import Aggregate
from .jobids import make_payload
from .profile import LoadProfile
from .sampling import StratifiedRandom

SIZE_METRIC = "payload_bytes"
DEFAULT_TOLERANCE = 0.05
_FAR_NS = 3600 * 10**9
_QUANTILES = (10.0, 50.0, 90.0, 99.0)

_clock_ns: int | None = None


def clock_start_ns() -> int:
    """The process's replay clock: set when the test starts (or on first use)."""
    global _clock_ns
    if _clock_ns is None:
        _clock_ns = time.perf_counter_ns()
    return _clock_ns


def install_clock() -> None:
    """Restart the replay clock with every test start (Locust's event)."""

    def _start(**_kw: Any) -> None:
        global _clock_ns
        _clock_ns = time.perf_counter_ns()

    events.test_start.add_listener(_start)


class ReplayClientUser(GearmanClientUser):
    """A client user whose arrivals follow the profile's rate stages."""

    abstract = True
    small_payload_ids = True
    _instances: ClassVar[int] = 0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        cls = type(self)
        self.index = cls._instances
        cls._instances += 1
        self._plan: Iterator[int] | None = None
        self.gap_rng = self.rng  # Poisson gaps; sizes draw from the stratified stream
        # As many strata as this user will send jobs (up to 100): a short replay then
        # draws one value from each slice of the size distribution.
        planned = round(self._fraction() * RateSchedule(self.rt.profile.stages,
                                                        self.rt.profile.speed).total)
        self.rng = StratifiedRandom(self.rng.getrandbits(64),
                                    max(1, min(StratifiedRandom.STRATA, planned)))
        self.next_payload = self.rng.randrange(len(self.mix.payloads)) \
            if self.mix.payloads else 0
        if self.mix.payloads:
            self.templates = None  # sizes vary job by job

    def _send_batch(self, count: int, now_ns: int, plan_ns: int) -> None:
        """With recorded payloads, one job at a time, each the next recorded payload
        with the swarm's job id over its first bytes (or as its unique id when the
        payload is shorter than the id)."""
        payloads = self.mix.payloads
        if not payloads:
            super()._send_batch(count, now_ns, plan_ns)
            return
        for _ in range(count):
            body = payloads[self.next_payload % len(payloads)]
            self.next_payload += 1
            head = len(make_payload(self.origin, self.seq, False, 0, b""))
            self.const_size = len(body)
            self.filler = body[head:] if len(body) > head else body
            super()._send_batch(1, now_ns, plan_ns)

    def _arrival_plan(self, scale: float = 1.0) -> Iterator[int]:
        # One plan for the user's life (the rate stages set the rates; no capacity scale):
        # a loop restarted after a lost connection goes on where it was (what fell due
        # meanwhile is sent late), it never starts over.
        if self._plan is None:
            self._plan = self._planned_times()
        return self._plan

    def _planned_times(self) -> Iterator[int]:
        profile = self.rt.profile
        mix = self.mix
        users = mix.users or 1
        schedule = RateSchedule(profile.stages, profile.speed)
        fraction = self._fraction()
        phase = ((self.index % users) + 0.5) / users
        gaps = _exponential(self.gap_rng) if mix.poisson else None
        start = clock_start_ns()
        for t in schedule.times(fraction, phase, gaps):
            yield start + int(t * 1e9)
        while True:  # the schedule is over: nothing more to send
            yield time.perf_counter_ns() + _FAR_NS

    def _fraction(self) -> float:
        """The share of all planned arrivals this user sends."""
        shares = sum(c.share for c in self.rt.profile.clients)
        return self.mix.share / shares / (self.mix.users or 1) if shares > 0 else 0.0

    def _record_created(self, groups: dict[Any, int], now_ns: int, second: int,
                        wall: float) -> None:
        super()._record_created(groups, now_ns, second, wall)
        record = self.m.latency.record
        for run, n in groups.items():
            record(SIZE_METRIC, run.name, run.size, second, n)


def _exponential(rng: Any) -> Iterator[float]:
    while True:
        yield rng.expovariate(1.0)


# -- fidelity ------------------------------------------------------------------------

def replayed_figures(profile: LoadProfile, agg: Aggregate) -> dict[str, Any]:
    """What the replay submitted: rate, mix, background share, priorities, sizes."""
    by_name: dict[str, int] = {}
    for (metric, name), hist in agg.latency.by_name.items():
        if metric == SIZE_METRIC and hist.get_total_count():
            by_name[name] = by_name.get(name, 0) + hist.get_total_count()
    created = sum(by_name.values())
    functions: dict[str, float] = {}
    priorities: dict[str, float] = {}
    background = 0
    for name, n in by_name.items():
        function, priority, mode = name.rsplit(" ", 2)
        functions[function] = functions.get(function, 0) + n
        priorities[priority] = priorities.get(priority, 0) + n
        background += n if mode == "bg" else 0
    sizes = agg.latency.combined(SIZE_METRIC)
    submitted = agg.totals().get("submitted", 0)
    out: dict[str, Any] = {
        "duration_s": profile.duration, "submissions": submitted,
        "rate_per_s": submitted / profile.duration if profile.duration else 0.0,
        "functions": _shares(functions), "priorities": _shares(priorities),
        "background": background / created if created else 0.0,
    }
    if sizes is not None:
        out["payload_bytes"] = {"mean": sizes.get_mean_value(),
                                **{f"p{q:g}": sizes.get_value_at_percentile(q)
                                   for q in _QUANTILES}}
    return out


def fidelity(profile: LoadProfile, agg: Aggregate) -> dict[str, Any] | None:
    """The replay next to the recording, figure by figure (None: not a replay)."""
    recorded = profile.recorded
    if not recorded:
        return None
    replayed = replayed_figures(profile, agg)
    rows: list[dict[str, Any]] = []

    def row(figure: str, rec: Any, expected: Any, got: Any, deviation: float,
            how: str) -> None:
        rows.append({"figure": figure, "recorded": rec, "expected": expected,
                     "replayed": got, "deviation": round(deviation, 4), "measure": how})

    expected_rate = float(recorded["rate_per_s"]) * profile.speed
    row("rate (submissions/s)", recorded["rate_per_s"], round(expected_rate, 3),
        round(replayed["rate_per_s"], 3), _relative(expected_rate, replayed["rate_per_s"]),
        "relative")
    rec_functions = _shares(recorded["functions"])
    row("function mix", rec_functions, rec_functions, replayed["functions"],
        _total_variation(rec_functions, replayed["functions"]), "total variation")
    if "background" in recorded:
        rec_bg = float(recorded["background"])
        row("background share", rec_bg, rec_bg, round(replayed["background"], 4),
            abs(rec_bg - replayed["background"]), "absolute")
    if recorded.get("priorities"):
        rec_prio = _shares(recorded["priorities"])
        row("priority mix", rec_prio, rec_prio, replayed["priorities"],
            _total_variation(rec_prio, replayed["priorities"]), "total variation")
    rec_sizes = recorded.get("payload_bytes") or {}
    got_sizes = replayed.get("payload_bytes") or {}
    if "mean" in rec_sizes:
        got = got_sizes.get("mean")
        row("payload bytes mean", rec_sizes["mean"], rec_sizes["mean"],
            None if got is None else round(got, 1),
            1.0 if got is None else _size_deviation(rec_sizes["mean"], got), "relative")
    if recorded.get("payload_cdf"):
        hist = agg.latency.combined(SIZE_METRIC)
        quantiles = {k: v for k, v in rec_sizes.items() if k != "mean"}
        got_q = {k: v for k, v in got_sizes.items() if k != "mean"}
        row("payload size distribution", quantiles, quantiles, got_q,
            1.0 if hist is None else _cdf_distance(recorded["payload_cdf"], hist),
            "largest CDF difference")
    tolerance = profile.thresholds.max_replay_deviation
    limit = DEFAULT_TOLERANCE if tolerance is None else tolerance
    worst = max((r["deviation"] for r in rows), default=0.0)
    return {"speed": profile.speed, "tolerance": limit, "rows": rows,
            "max_deviation": worst, "within_tolerance": worst <= limit,
            "recorded": recorded, "replayed": replayed}


def _shares(weights: dict[str, Any]) -> dict[str, float]:
    total = sum(float(v) for v in weights.values())
    return {k: round(float(v) / total, 4) for k, v in sorted(weights.items())} if total else {}


def _relative(expected: float, got: float) -> float:
    return abs(got - expected) / expected if expected else (0.0 if not got else 1.0)


def _size_deviation(expected: float, got: float) -> float:
    # A byte either way is the resolution of a size drawn from a distribution.
    return max(0.0, abs(got - expected) - 1.0) / max(float(expected), 1.0)


def _cdf_distance(points: list[list[float]], hist: Any) -> float:
    """The largest difference between the recorded CDF and the replay's at the recorded
    points (a Kolmogorov-Smirnov distance on those values)."""
    total = hist.get_total_count()
    buckets = [(hist.get_lowest_equivalent_value(item.value_iterated_to),
                item.count_at_value_iterated_to) for item in hist.get_recorded_iterator()]
    worst = 0.0
    for value, recorded_fraction in points:
        at_or_below = sum(n for low, n in buckets if low <= max(value, 1))
        worst = max(worst, abs(at_or_below / total - recorded_fraction))
    return worst


def _total_variation(a: dict[str, float], b: dict[str, float]) -> float:
    keys = set(a) | set(b)
    return sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys) / 2
