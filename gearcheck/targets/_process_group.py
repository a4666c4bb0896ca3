"""Signals to a child server and everything it forked (and its RSS), for every process the
harness runs.

Strategy: servers are started with ``start_new_session=True``, so each is the
leader of its own process group and a signal to the group reaches its forked
helpers too (PostgreSQL's backends, a wrapper's child). ``terminate`` is the
polite stop (SIGTERM, then SIGKILL after a grace period), ``kill`` is kill -9
as a crash would be, ``pause`` / ``resume`` are SIGSTOP / SIGCONT. Each one
tolerates a group that is already gone and waits for the leader with a deadline.
``ChildServer`` puts them on any object that holds such a child (a Gearman
server target, a database server).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> bool:
    """Send ``sig`` to the process group led by ``proc``; False when it is gone."""
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM (to a stopped group SIGCONT as well, or it never sees it), then SIGKILL."""
    if not signal_group(proc, signal.SIGTERM):
        return
    signal_group(proc, signal.SIGCONT)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 of the whole group, then reap the leader."""
    signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # a zombie that does not go away: nothing more to do
        pass


def pause(proc: subprocess.Popen[bytes]) -> bool:
    return signal_group(proc, signal.SIGSTOP)


def resume(proc: subprocess.Popen[bytes]) -> bool:
    return signal_group(proc, signal.SIGCONT)


def rss_of(pid: int) -> int | None:
    """VmRSS of a process in bytes, from /proc; None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class ChildServer:
    """Stop, kill, pause and resume for an object holding a server child in ``process``."""

    process: subprocess.Popen[bytes] | None = None
    stop_grace_s: float = 5.0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """The polite stop: SIGTERM, then SIGKILL after the grace period."""
        proc, self.process = self.process, None
        if proc is not None:
            terminate(proc, self.stop_grace_s)

    def kill(self) -> None:
        """kill -9 of the server and everything it forked, as a crash would be."""
        proc, self.process = self.process, None
        if proc is not None:
            kill(proc)

    def pause(self) -> bool:
        """SIGSTOP: the server holds its sockets and answers nothing until ``resume``."""
        return self.process is not None and pause(self.process)

    def resume(self) -> bool:
        return self.process is not None and resume(self.process)
