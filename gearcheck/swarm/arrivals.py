"""Open-model stages as arrival times: a rate over time, its integral, and the inverse.

Strategy: rate stages make the rate a piecewise-linear function of time
(hold: flat; ramp: linear from the level before it; spike: flat for the
stage, then back to the level before it). Its integral N(t) is the number of
submissions planned by time t, a piecewise quadratic that ``time_of`` inverts
exactly. A user's arrivals are then points on the N axis mapped back to time:
evenly spaced (a constant process; the k-th arrival at N = k + phase) or
with exponential gaps (a Poisson process with this rate). With a constant
process the number of arrivals in any stage is its integral rounded, so a
replay sends the recorded number of jobs per stage, not a random draw.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .profile import Stage


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    rate0: float
    rate1: float
    before: float  # N at start

    def count(self, t: float) -> float:
        """Arrivals planned from the segment's start to t (t inside the segment)."""
        dt = t - self.start
        length = self.end - self.start
        slope = (self.rate1 - self.rate0) / length if length > 0 else 0.0
        return self.rate0 * dt + slope * dt * dt / 2

    @property
    def total(self) -> float:
        return (self.rate0 + self.rate1) / 2 * (self.end - self.start)

    def time_at(self, n: float) -> float:
        """The time inside the segment by which ``n`` arrivals (from its start) are due."""
        length = self.end - self.start
        slope = (self.rate1 - self.rate0) / length if length > 0 else 0.0
        if abs(slope) < 1e-12:
            return self.start + (n / self.rate0 if self.rate0 > 0 else 0.0)
        # rate0*dt + slope/2*dt^2 = n
        disc = self.rate0 * self.rate0 + 2 * slope * n
        dt = (-self.rate0 + math.sqrt(max(0.0, disc))) / slope
        return self.start + min(max(dt, 0.0), length)


class RateSchedule:
    """Submissions per second over time, from rate stages, scaled by ``scale``."""

    def __init__(self, stages: Sequence[Stage], scale: float = 1.0) -> None:
        self.segments: list[_Segment] = []
        level = 0.0
        t = 0.0
        total = 0.0
        for stage in stages:
            rate = (stage.rate or 0.0) * scale
            start_rate = level if stage.kind == "ramp" else rate
            seg = _Segment(t, t + stage.duration, start_rate, rate, total)
            self.segments.append(seg)
            total += seg.total
            t += stage.duration
            if stage.kind != "spike":
                level = rate
        self.duration = t
        self.total = total

    def rate_at(self, t: float) -> float:
        for seg in self.segments:
            if seg.start <= t < seg.end:
                length = seg.end - seg.start
                return seg.rate0 + (seg.rate1 - seg.rate0) * (t - seg.start) / length
        return 0.0

    def cumulative(self, t: float) -> float:
        """Arrivals planned in [0, t]."""
        for seg in self.segments:
            if t < seg.end:
                return seg.before + (seg.count(t) if t > seg.start else 0.0)
        return self.total

    def time_of(self, n: float) -> float | None:
        """When the n-th arrival (counted from 0, fractional) is due; None past the end."""
        if n > self.total or n < 0:
            return None
        for seg in self.segments:
            if n <= seg.before + seg.total and seg.total > 0:
                return seg.time_at(n - seg.before)
        return None

    def times(self, fraction: float, phase: float, gaps: Iterator[float] | None = None
              ) -> Iterator[float]:
        """Arrival times (seconds from the start) of one user that takes ``fraction`` of
        every arrival: constant spacing from ``phase`` (0..1), or the given gaps (in
        arrivals: exponential with mean 1 for a Poisson process)."""
        if fraction <= 0:
            return
        position = phase
        while True:
            t = self.time_of(position / fraction)
            if t is None:
                return
            yield t
            position += next(gaps) if gaps is not None else 1.0
