"""How far a long run has got, for a person at a terminal and for a CI log.

Strategy: one small object counts what is done (and how each thing ended) and
shows it two ways. On a terminal, a rich progress bar on stderr, redrawn in
place. Without one (a pipe, a CI log), nothing can be redrawn, so a background
thread writes one plain, complete line at least every ``every`` seconds, even
while nothing finishes (a long case, a slow server), and one last line at the
end: ``conformance: 120/331 cases (118 PASS, 2 FAIL) after 10 s``. Counting is
thread-safe; the caller may advance from worker threads.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, label: str, total: int | None, *, unit: str = "", every: float = 10.0,
                 stream: TextIO | None = None, terminal: bool | None = None,
                 enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.every = every
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.enabled = enabled
        self.done = 0
        self.outcomes: Counter[str] = Counter()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    # -- counting ---------------------------------------------------------------------
    def advance(self, n: int = 1, outcome: str | None = None) -> None:
        with self._lock:
            self.done += n
            if outcome:
                self.outcomes[outcome] += n
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, outcomes=self._outcome_text())

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def line(self) -> str:
        with self._lock:
            done, outcomes = self.done, self._outcome_text()
        of = f"/{self.total}" if self.total is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        extra = f" ({outcomes})" if outcomes else ""
        elapsed = time.monotonic() - self.started
        return f"{self.label}: {done}{of}{unit}{extra} after {elapsed:.0f} s"

    def _outcome_text(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.outcomes.most_common())

    # -- showing ----------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        if self.terminal:
            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[outcomes]}"), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, outcomes="")
        else:
            self._thread = threading.Thread(target=self._lines, daemon=True,
                                            name=f"progress-{self.label}")
            self._thread.start()
        return self

    def _lines(self) -> None:
        while not self._stop.wait(self.every):
            self._write(self.line())

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.__exit__(kind, error, tb)
            self._bar = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join(5)
            self._write(self.line())
