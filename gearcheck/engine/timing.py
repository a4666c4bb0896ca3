"""Deadlines scaled to the server's measured ECHO round trip, with a grace period.

Strategy: a wait has a *deadline* (the scenario's timeout, or the run's
default, plus a multiple of the ECHO round trip measured at run start, so a
remote server over a slow link gets proportionally more time) and a *grace*
period after it. An answer inside the deadline is on time; an answer inside
the grace period is LATE (a FAIL with failure_kind LATE, evidence saying how
late); nothing by the end of the grace period is a TIMEOUT. Silence windows
stretch with the round trip in the same way, so "nothing arrives for 0.2 s"
still means something on a slow link.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    rtt_s: float = 0.0005  # measured ECHO round trip
    default_timeout_s: float = 2.0  # a wait's deadline when the scenario names none
    rtt_multiple: float = 20.0  # deadline += rtt_multiple * rtt
    grace_factor: float = 1.0  # grace = deadline * grace_factor

    def deadline(self, requested_s: float | None = None) -> float:
        base = self.default_timeout_s if requested_s is None else requested_s
        return base + self.rtt_multiple * self.rtt_s

    def grace(self, deadline_s: float) -> float:
        return deadline_s * self.grace_factor

    def silence(self, window_s: float) -> float:
        return window_s + 10 * self.rtt_s

    def describe(self) -> dict[str, float]:
        return {"rtt_us": round(self.rtt_s * 1e6, 1),
                "default_timeout_s": self.default_timeout_s,
                "rtt_multiple": self.rtt_multiple, "grace_factor": self.grace_factor}
