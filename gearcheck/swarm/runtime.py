"""What every user in this Locust process shares: the profile, the server, the
measurements.

Strategy: Locust builds users with only ``environment``; the locustfile calls
``configure`` once at import (from GEARCHECK_PROFILE / GEARCHECK_SERVER or
``--profile``/``--gearman-server`` on the command line), and the users read
``current()``. One process, one run: a plain module-level holder is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..wire import Address
from .collector import Measurements
from .profile import LoadProfile


@dataclass
class Runtime:
    profile: LoadProfile
    address: Address
    measurements: Measurements
    _pool: Any = None

    def worker_pool(self) -> Any:
        """The process's ``WorkerPool`` (made on first use, by the first worker user)."""
        if self._pool is None:
            from .worker_pool import WorkerPool

            self._pool = WorkerPool(self.measurements)
        return self._pool


_current: Runtime | None = None


def configure(profile: LoadProfile, address: Address) -> Runtime:
    global _current
    _current = Runtime(profile, address, Measurements())
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("gearcheck.swarm is not configured: gearcheck/swarm/locustfile.py "
                           "sets it up "
                           "from GEARCHECK_PROFILE (a profile path) and GEARCHECK_SERVER")
    return _current
