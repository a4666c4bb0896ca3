"""How many client users a profile's stages ask for at a moment, and how fast to spawn them.

Strategy: plain arithmetic over ``LoadProfile.stages``, with no Locust import, so
the shape that drives Locust and the tests that check the arithmetic share it
(importing Locust monkey-patches the whole process with gevent).
ramp: linear to ``users``; hold: keep the level; spike: ``users`` for the stage,
then back to the level before it.
"""

from __future__ import annotations

from .profile import LoadProfile


def clients_at(profile: LoadProfile, t: float) -> int | None:
    """Client users the stages ask for at ``t`` seconds; None once they are over."""
    level = 0
    start = 0.0
    for stage in profile.stages:
        end = start + stage.duration
        if t < end:
            if stage.kind == "ramp" and stage.rate is None:  # rate stages keep their users
                frac = (t - start) / stage.duration if stage.duration else 1.0
                return round(level + (stage.users - level) * frac)
            return stage.users  # spike: for the stage; hold: the level it keeps
        if stage.kind != "spike":
            level = stage.users
        start = end
    return None


def spawn_rate_at(profile: LoadProfile, t: float) -> float:
    start = 0.0
    previous = 0
    for stage in profile.stages:
        end = start + stage.duration
        if t < end:
            if stage.spawn_rate:
                return stage.spawn_rate
            if stage.kind == "ramp" and stage.duration:
                # Fast enough to follow the ramp between two ticks, never slower
                # than the profile's spawn_rate.
                return max(profile.spawn_rate, abs(stage.users - previous) / stage.duration * 2)
            return max(profile.spawn_rate, float(profile.worker_users + stage.users))
        if stage.kind != "spike":
            previous = stage.users
        start = end
    return profile.spawn_rate
