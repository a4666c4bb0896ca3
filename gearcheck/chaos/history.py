"""The history of a chaos run: one JSON object per line, every event with its time.

Strategy: each process that takes part (the runner with its client threads,
every worker process) appends to its own file through a ``HistoryWriter``,
one line per event, flushed at once so a kill -9 of a worker loses nothing
it wrote. Times are seconds since the run started on the system-wide
monotonic clock (CLOCK_MONOTONIC is shared by every process on the machine),
so events from different processes compare. ``merge`` sorts the files into
one history.jsonl; the checker reads only that file.

Event types (``type``) and their fields (byte strings are hex):
  run        seed, target, backend, nemeses, plan summary (the first line)
  submit     client, conn, inc, job, fn, uniq, size, prio, bg, epoch, dd (payload digest)
  ack        client, job, handle, inc            (JOB_CREATED received)
  refused    client, job, code, text             (an ERROR reply: definitely not queued)
  unknown    client, job, why                    (in flight when the connection died)
  result     client, job, handle, kind, got      (WORK_COMPLETE/FAIL/EXCEPTION to a client;
             got names the job the worker ran: its token, or ~digest)
  orphaned   client, job, why                    (a foreground job whose client went away)
  unresolved client, job                         (a foreground job still without a result
                                                  when the drain ended, its client connected)
  cancel     client, job, handle, ok
  grab       worker, inc, handle, fn, uniq, job, dd, size   (JOB_ASSIGN_UNIQ received)
  complete   worker, handle, job                 (WORK_COMPLETE sent)
  confirmed  worker, handle, job                 (the server answered the ECHO after it)
  nemesis    name, phase (start|end), detail, began (when its action started)
  server     inc, state (up|down), how
  phase      name (workload|drain|done)
  note       text
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

Event = dict[str, Any]


class HistoryWriter:
    """Appends events to one JSON-lines file; safe to share between threads."""

    def __init__(self, path: Path, t0: float) -> None:
        self.path = path
        self.t0 = t0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def write(self, type_: str, **fields: Any) -> float:
        t = self.now()
        line = json.dumps({"t": round(t, 6), "type": type_, **fields}, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        return t

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


def read_events(path: Path) -> Iterator[Event]:
    """The events of one file; a torn last line (the writer was killed mid-write) is skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def merge(parts: list[Path], out: Path) -> list[Event]:
    """All events of ``parts`` in time order (a stable sort keeps each file's own order)."""
    events: list[Event] = []
    for part in parts:
        if part.exists():
            events.extend(read_events(part))
    events.sort(key=lambda e: float(e["t"]))
    with open(out, "w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, separators=(",", ":")) + "\n")
    return events


def load(path: Path) -> list[Event]:
    return list(read_events(path))
