"""A load profile's stages -> a Locust ``LoadTestShape``, then drain and flush.

Strategy: the stages give the number of *client* users over time (ramp:
linear to ``users``; hold: keep the level; spike: jump to ``users`` for the
stage, then back). Worker users have ``fixed_count`` and are always spawned
first, so each tick asks Locust for workers + clients. When the stages are
over, the shape keeps the users alive while the controller drains (clients
stop submitting, workers empty the queue) and collects every process's final
figures; only then does ``tick`` return None and Locust stops.
"""

from __future__ import annotations

from typing import Protocol

from locust import LoadTestShape

from .profile import LoadProfile
from .stages import clients_at, spawn_rate_at


class EndOfRun(Protocol):
    def finishing(self, seconds_after_load: float) -> bool:
        """True while the drain or the final flush is still going on."""

    def searching(self, t: float) -> bool:
        """Capacity mode: True while the search still has steps to run."""


class ProfileShape(LoadTestShape):
    """Subclassed by the locustfile with ``profile`` and ``controller`` set."""

    abstract = True
    profile: LoadProfile
    controller: EndOfRun
    _last_total = 0

    _load_over_at: float | None = None

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        profile = self.profile
        if profile.capacity is not None:  # the users stay; the controller sets their rate
            if self._load_over_at is None:
                if self.controller.searching(t):
                    total = profile.worker_users + profile.max_client_users
                    return total, max(profile.spawn_rate, float(total))
                self._load_over_at = t
            self._last_total = profile.worker_users + profile.max_client_users
            if self.controller.finishing(t - self._load_over_at):
                return self._last_total, profile.spawn_rate
            return None
        clients = clients_at(self.profile, t)
        if clients is not None:
            self._last_total = self.profile.worker_users + clients
            return self._last_total, spawn_rate_at(self.profile, t)
        if self.controller.finishing(t - self.profile.duration):
            return self._last_total, self.profile.spawn_rate
        return None
