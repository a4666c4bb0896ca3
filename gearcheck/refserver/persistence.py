"""Background jobs on disk: a SQLite file in WAL mode, written by group commit.

Strategy: the broker records inserts and deletes in memory as they happen
(``add`` / ``remove``); ``commit`` writes everything recorded since the last
commit in one transaction. The server calls ``commit`` once per event-loop
turn, *before* it writes any reply of that turn to a socket, so a
JOB_CREATED for a background job never leaves the process before its row is
committed, while a burst of pipelined submissions costs one transaction, not
one per job. A job added and removed within the same turn never touches disk.

WAL with ``synchronous=NORMAL`` makes a commit durable against the process
being killed (kill -9): the transaction is in the WAL file, in the OS, when
``commit`` returns. ``--queue-sync full`` adds an fsync per commit for power
loss. ``load`` returns the surviving rows in (priority, id) order, which is
the order they were queued in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gearcheck_queue (
    id INTEGER PRIMARY KEY,
    function BLOB NOT NULL,
    unique_key BLOB NOT NULL,
    priority INTEGER NOT NULL,
    data BLOB NOT NULL,
    reducer BLOB NOT NULL,
    when_to_run INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class StoredJob:
    id: int
    function: bytes
    unique: bytes
    priority: int
    data: bytes
    reducer: bytes
    when: int


class PersistenceError(RuntimeError):
    """The queue file cannot be opened or written."""


class SqliteQueue:
    def __init__(self, path: Path, *, synchronous: str = "normal") -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            self.db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise PersistenceError(f"cannot open queue file {path}: {exc}") from exc
        self._inserts: dict[int, tuple[int, bytes, bytes, int, bytes, bytes, int]] = {}
        self._deletes: list[tuple[int]] = []

    @property
    def pending(self) -> bool:
        return bool(self._inserts or self._deletes)

    def add(self, job_id: int, function: bytes, unique: bytes, priority: int, data: bytes,
            reducer: bytes, when: int) -> None:
        self._inserts[job_id] = (job_id, function, unique, priority, data, reducer, when)

    def remove(self, job_id: int) -> None:
        if self._inserts.pop(job_id, None) is None:
            self._deletes.append((job_id,))

    def commit(self) -> None:
        inserts, self._inserts = self._inserts, {}
        deletes, self._deletes = self._deletes, []
        db = self.db
        db.execute("BEGIN")
        try:
            if inserts:
                db.executemany("INSERT OR REPLACE INTO gearcheck_queue VALUES (?,?,?,?,?,?,?)",
                               inserts.values())
            if deletes:
                db.executemany("DELETE FROM gearcheck_queue WHERE id=?", deletes)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise PersistenceError(f"writing queue file {self.path} failed: {exc}") from exc

    def load(self) -> Iterator[StoredJob]:
        rows = self.db.execute(
            "SELECT id, function, unique_key, priority, data, reducer, when_to_run "
            "FROM gearcheck_queue ORDER BY priority, id")
        for row in rows:
            yield StoredJob(*row)

    def close(self) -> None:
        try:
            if self.pending:
                self.commit()
        finally:
            self.db.close()
