"""Writing replies: one flush per event-loop turn, after the queue commit.

Strategy: sessions never write to their transport directly. ``send`` appends
to the session's buffer and marks the session dirty here; the first mark of a
turn schedules ``flush`` with ``call_soon``. ``flush`` first commits the
persistent queue (group commit: every background job accepted this turn, from
every connection, in one transaction), then writes each dirty session's
buffer with a single ``transport.write`` of the joined bytes. So a JOB_CREATED
can never reach a client before its job is on disk, and a pipelined burst of
requests costs one write and one commit, not one per packet.

If the commit fails, the replies of this turn cannot be trusted (they may
acknowledge jobs that are not on disk): the affected connections are closed
without them, and the error is logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from .persistence import PersistenceError, SqliteQueue

log = logging.getLogger("gearcheck.refserver")


class Flushable(Protocol):
    """A connection with replies to write."""

    def flush(self) -> None:
        """Write what is buffered in one ``transport.write``."""

    def abort_output(self) -> None:
        """Drop what is buffered and close the connection at once."""


class Outbox:
    def __init__(self, loop: asyncio.AbstractEventLoop, queue: SqliteQueue | None) -> None:
        self.loop = loop
        self.queue = queue
        self._dirty: list[Flushable] = []
        self._scheduled = False

    def mark(self, session: Flushable) -> None:
        self._dirty.append(session)
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        queue = self.queue
        if queue is not None and queue.pending:
            try:
                queue.commit()
            except PersistenceError as exc:
                log.critical("%s; closing %d connection(s) without their replies",
                             exc, len(dirty))
                for session in dirty:
                    session.abort_output()
                return
        for session in dirty:
            session.flush()
