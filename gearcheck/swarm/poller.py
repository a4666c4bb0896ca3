"""The server's own view during a run: queue depth and workers per function.

Strategy: a greenlet on the Locust master (or the single local process) opens
one admin connection and sends ``status`` every ``interval`` seconds,
keeping (time, function -> queued, running, workers) for the profile's
functions. The admin protocol is the only metrics surface gearmand has, so
this is what a run's report can show of the server side. A failed poll is
recorded as a gap (with the error), never fatal: the load goes on.
"""

from __future__ import annotations

import time
from typing import Any

import gevent

from ..protocol import AdminReplyError, parse_status
from ..wire import Address, Connection, WireError


class StatusPoller:
    def __init__(self, address: Address, functions: list[str], interval: float = 0.5) -> None:
        self.address = address
        self.functions = set(functions)
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self.errors = 0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def poll_once(self) -> dict[str, Any] | None:
        try:
            with Connection.open(self.address, timeout=3.0) as conn:
                return self._sample(conn)
        except (OSError, WireError, AdminReplyError):
            return None

    def _sample(self, conn: Connection) -> dict[str, Any]:
        status = parse_status(conn.admin("status"))
        rows = {name: [s.total, s.running, s.workers] for name, s in status.items()
                if name in self.functions}
        sample = {"t": time.time(), "functions": rows,
                  "queued": sum(r[0] - r[1] for r in rows.values()),
                  "running": sum(r[1] for r in rows.values()),
                  "workers": sum(r[2] for r in rows.values())}
        self.samples.append(sample)
        return sample

    @property
    def last(self) -> dict[str, Any] | None:
        return self.samples[-1] if self.samples else None

    def _run(self) -> None:
        conn: Connection | None = None
        while True:
            try:
                if conn is None:
                    conn = Connection.open(self.address, timeout=3.0)
                self._sample(conn)
            except (OSError, WireError, AdminReplyError) as exc:
                self.errors += 1
                self.samples.append({"t": time.time(), "error": str(exc)})
                if conn is not None:
                    conn.close()
                conn = None
            gevent.sleep(self.interval)
