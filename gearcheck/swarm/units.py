"""Durations, byte sizes and random distributions as profiles spell them.

Strategy: a profile says ``500us``, ``2ms``, ``20s``, ``64KiB`` or a bare number
(seconds, bytes). These parsers turn text into floats/ints and raise ValueError
with the offending text; the profile loader adds the file and line. A
``Distribution`` is a frozen description (kind + parameters) with a ``sample``
method bound to a ``random.Random``, so every user draws from its own seeded
generator and nothing here keeps global state.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s|m|h)?\s*$")
_DURATION_SCALE = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
                   None: 1.0}
_SIZE = re.compile(r"^\s*([0-9]+)\s*(B|KB|KiB|MB|MiB)?\s*$")
_SIZE_SCALE = {None: 1, "B": 1, "KB": 1000, "KiB": 1024, "MB": 1000_000, "MiB": 1 << 20}


def parse_duration(value: object) -> float:
    """Seconds, from a number (seconds) or text such as '250us', '5ms', '20s', '2m'."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (write e.g. 500us, 2ms, 20s, 1m)")
    return float(match.group(1)) * _DURATION_SCALE[match.group(2)]


def parse_size(value: object) -> int:
    """Bytes, from an integer or text such as '512', '64KiB', '1MiB'."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size {value} is negative")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size (write e.g. 512, 64KiB, 1MiB)")
    return int(match.group(1)) * _SIZE_SCALE[match.group(2)]


@dataclass(frozen=True)
class Distribution:
    """constant | uniform | exponential | normal | choice | empirical, over seconds or bytes.

    ``empirical`` is a measured distribution given by points of its inverse CDF
    (probability, value), from probability 0 to 1; values between two points
    are interpolated linearly, so each point is a quantile of what is drawn.
    """

    kind: str
    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    stddev: float = 0.0
    choices: tuple[tuple[float, float], ...] = field(default=())  # (value, weight)
    points: tuple[tuple[float, float], ...] = field(default=())  # (probability, value)

    def sample(self, rng: random.Random) -> float:
        kind = self.kind
        if kind == "constant":
            return self.value
        if kind == "uniform":
            return rng.uniform(self.low, self.high)
        if kind == "exponential":
            return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0
        if kind == "normal":
            return max(0.0, rng.gauss(self.mean, self.stddev))
        if kind == "empirical":
            return self._inverse_cdf(rng.random())
        values = [c[0] for c in self.choices]
        weights = [c[1] for c in self.choices]
        return rng.choices(values, weights)[0]

    @functools.cached_property
    def _probabilities(self) -> list[float]:
        return [p for p, _ in self.points]

    def _inverse_cdf(self, u: float) -> float:
        points = self.points
        i = bisect.bisect_right(self._probabilities, u)
        if i <= 0:
            return points[0][1]
        if i >= len(points):
            return points[-1][1]
        (p0, v0), (p1, v1) = points[i - 1], points[i]
        return v0 if p1 <= p0 else v0 + (v1 - v0) * (u - p0) / (p1 - p0)

    @property
    def expected(self) -> float:
        if self.kind == "constant":
            return self.value
        if self.kind == "empirical":
            return sum((p1 - p0) * (v0 + v1) / 2
                       for (p0, v0), (p1, v1) in itertools.pairwise(self.points))
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        if self.kind in ("exponential", "normal"):
            return self.mean
        total = sum(w for _, w in self.choices)
        return sum(v * w for v, w in self.choices) / total if total else 0.0

    def describe(self) -> dict[str, object]:
        if self.kind == "constant":
            return {"dist": "constant", "value": self.value}
        if self.kind == "uniform":
            return {"dist": "uniform", "min": self.low, "max": self.high}
        if self.kind == "exponential":
            return {"dist": "exponential", "mean": self.mean}
        if self.kind == "normal":
            return {"dist": "normal", "mean": self.mean, "stddev": self.stddev}
        if self.kind == "empirical":
            return {"dist": "empirical", "points": [list(p) for p in self.points]}
        return {"dist": "choice", "values": [list(c) for c in self.choices]}


def parse_distribution(spec: object, parse_one: Callable[[object], float]) -> Distribution:
    """A distribution from a scalar (constant) or a mapping with a ``dist`` key.

    ``parse_one`` converts one value (``parse_duration`` or ``parse_size``).
    """
    conv = parse_one
    if not isinstance(spec, dict):
        return Distribution("constant", value=float(conv(spec)))
    kind = spec.get("dist", "constant")
    if kind == "constant":
        return Distribution("constant", value=float(conv(spec["value"])))
    if kind == "uniform":
        low, high = float(conv(spec["min"])), float(conv(spec["max"]))
        if high < low:
            raise ValueError(f"uniform: max {spec['max']!r} is below min {spec['min']!r}")
        return Distribution("uniform", low=low, high=high)
    if kind == "exponential":
        return Distribution("exponential", mean=float(conv(spec["mean"])))
    if kind == "normal":
        return Distribution("normal", mean=float(conv(spec["mean"])),
                            stddev=float(conv(spec["stddev"])))
    if kind == "choice":
        pairs = tuple((float(conv(v)), float(w))
                      for v, w in spec["values"].items())
        if not pairs or not any(w > 0 for _, w in pairs) or any(
                w < 0 or math.isnan(w) for _, w in pairs):
            raise ValueError("choice: needs at least one positive weight")
        return Distribution("choice", choices=pairs)
    if kind == "empirical":
        return Distribution("empirical", points=_points(spec["points"], conv))
    raise ValueError(f"unknown distribution {kind!r}")


def _points(raw: object, conv: object) -> tuple[tuple[float, float], ...]:
    """(probability, value) points of an empirical distribution, checked."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise ValueError("empirical: 'points' needs at least two [probability, value] pairs")
    points: list[tuple[float, float]] = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError(f"empirical: {item!r} is not a [probability, value] pair")
        prob = float(item[0])
        value = float(conv(item[1]))  # type: ignore[operator]
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"empirical: probability {item[0]!r} is not between 0 and 1")
        if points and (prob < points[-1][0] or value < points[-1][1]):
            raise ValueError(f"empirical: point {item!r} goes back (probabilities and values "
                             f"must not decrease)")
        points.append((prob, value))
    if points[0][0] != 0.0 or points[-1][0] != 1.0:
        raise ValueError("empirical: the first point's probability must be 0 and the last's 1")
    return tuple(points)
