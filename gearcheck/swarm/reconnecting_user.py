"""What the swarm's client and worker users share: one connection, reopened after a loss.

Strategy: a Locust user here is one greenlet driving one ``wire.Connection``.
This base class holds what both kinds need from the process's runtime (its
measurements, Locust's request event and statistics, a per-user random
generator seeded from the profile) and runs the user's loop so that a broken
connection is counted (an error in the measurements and a CONNECTION request
failure in Locust), handed to ``_connection_lost`` for the subclass's
bookkeeping, closed, and opened again half a second later through
``on_start``. Subclasses write ``on_start`` (open and set up the connection)
and the loop itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import User, constant

from ..protocol import ProtocolError
from ..wire import Connection, WireError
from .runtime import current

_CONNECT_TIMEOUT_S = 10.0
_RECONNECT_PAUSE_S = 0.5


class ReconnectingUser(User):
    """A Locust user with one Gearman connection that survives connection losses."""

    abstract = True
    wait_time = constant(0)
    role: ClassVar[str]  # "client" or "worker": names its connection errors
    seed_scale: ClassVar[int] = 1  # keeps client and worker random streams apart

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        rt = current()
        self.rt = rt
        self.m = rt.measurements
        self.fire = environment.events.request.fire
        self.stats = environment.stats
        self.m.stats = environment.stats
        self.rng = random.Random(None if rt.profile.seed is None else
                                 rt.profile.seed * self.seed_scale + id(self) % 100_000)
        self.conn: Connection | None = None

    def _open(self) -> Connection:
        return Connection.open(self.rt.address, timeout=_CONNECT_TIMEOUT_S)

    def _connection_lost(self) -> None:
        """Bookkeeping for what the lost connection had in flight (none by default)."""

    def _run_reconnecting(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except (OSError, WireError, ProtocolError) as exc:
            self.m.error(f"{self.role} connection: {type(exc).__name__}")
            self.fire(request_type="CONNECTION", name=self.role, response_time=0,
                      response_length=0, exception=exc, context={})
            self._connection_lost()
            if self.conn is not None:
                self.conn.close()
            gevent.sleep(_RECONNECT_PAUSE_S)
            self.on_start()
