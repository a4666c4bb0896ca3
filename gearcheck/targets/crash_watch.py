"""Watch a started server process; when it dies, note the crash and start it again on its port.

Strategy: a daemon thread polls the target's process every 50 ms. A process
that exited while watched is a crash: its exit code, the time and the last
lines of its log are kept in ``crashes``, and the target is started again on
the same port (``ProcessTarget.start`` with the port pinned), so the cases
after the one that killed it are still judged against a live server. The case
running at the moment of the crash sees its connections close and fails with
that evidence; whoever uses the watch reports the crashes beside the results
(the matrix puts them in the server's column). Leaving the ``with`` block
stops the watching before the target is stopped, so a normal stop is never
taken for a crash. A restart that fails three times ends the watch with the error
noted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ._base import ProcessTarget
from ._errors import TargetError

POLL_S = 0.05
RESTART_ATTEMPTS = 3
RESTART_PAUSE_S = 0.5


@dataclass(frozen=True)
class Crash:
    at: float            # time.time() when the exit was seen
    exit_code: int | None
    log_tail: str
    restarted: bool
    restart_error: str = ""

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.at))
        after = "restarted" if self.restarted else f"not restarted ({self.restart_error})"
        return f"exited with code {self.exit_code} at {when}; {after}"


class CrashWatch:
    def __init__(self, target: ProcessTarget) -> None:
        self.target = target
        self.crashes: list[Crash] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CrashWatch:
        self._thread = threading.Thread(target=self._watch, name=f"crash-watch-{self.target.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.target.start_deadline_s + 5)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            proc = self.target.process
            if proc is None or proc.poll() is None:
                continue
            if self._stop.is_set():
                return
            tail = _tail(self.target)
            port = self.target.address.port
            saved = self.target.requested_port
            self.target.requested_port = port
            try:
                error = self._restart()
            finally:
                self.target.requested_port = saved
            if error is not None:
                self.crashes.append(Crash(time.time(), proc.returncode, tail, False, error))
                return
            self.crashes.append(Crash(time.time(), proc.returncode, tail, True))

    def _restart(self) -> str | None:
        """Start the target again; None when it answers, else the last attempt's error. A
        server that dies on what the running cases send may die again while it starts (their
        connections come back at once), so it gets a few attempts."""
        error = ""
        for _attempt in range(RESTART_ATTEMPTS):
            try:
                self.target.start()
                return None
            except TargetError as exc:
                error = str(exc).splitlines()[0]
                if self._stop.wait(RESTART_PAUSE_S):
                    break
        return error


def _tail(target: ProcessTarget, lines: int = 8) -> str:
    if target.log_path is None or not target.log_path.exists():
        return ""
    text = target.log_path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
