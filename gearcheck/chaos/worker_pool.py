"""The runner's side of the chaos workers: start them, kill one, replace it, stop them all.

Strategy: each worker is ``python -m gearcheck.chaos.worker`` in its own
process group with its own history file; a killed worker is replaced by a
new process with a new name (so the history tells the two lives apart).
Stopping is SIGTERM (a worker finishes the job in hand), then SIGKILL after
a grace period. Every process started here is stopped here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..wire import Address


class WorkerPool:
    def __init__(self, address: Address, plan_path: Path, run_dir: Path, incarnation: Path,
                 t0: float) -> None:
        self.address = address
        self.plan_path = plan_path
        self.run_dir = run_dir
        self.incarnation = incarnation
        self.t0 = t0
        self.live: list[subprocess.Popen[bytes]] = []
        self.names: dict[int, str] = {}
        self.histories: list[Path] = []
        self.started = 0

    def spawn(self) -> str:
        self.started += 1
        name = f"w{self.started}"
        history = self.run_dir / f"history-{name}.jsonl"
        self.histories.append(history)
        with open(self.run_dir / f"{name}.stderr", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gearcheck.chaos.worker", "--server", str(self.address),
                 "--plan", str(self.plan_path), "--history", str(history),
                 "--incarnation", str(self.incarnation), "--t0", repr(self.t0), "--name", name],
                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.live.append(proc)
        self.names[proc.pid] = name
        return name

    def kill_one(self, pick: int) -> tuple[str, int] | None:
        """kill -9 of one live worker (``pick`` modulo how many); its name and pid."""
        alive = [p for p in self.live if p.poll() is None]
        if not alive:
            return None
        proc = alive[pick % len(alive)]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        self.live.remove(proc)
        return self.names[proc.pid], proc.pid

    def stop_all(self, grace_s: float = 5.0) -> None:
        for proc in self.live:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.live:
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.live.clear()

