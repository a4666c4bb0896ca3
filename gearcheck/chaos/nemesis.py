"""Nemeses: the faults a chaos run injects, and the thread that injects them on schedule.

Strategy: each nemesis is a name, what it needs (the job server's process, the
queue's database server, or only the harness's own workers and clients) and
a pair of actions, ``act`` and ``heal``, separated by the fault's duration
from the plan. Faults run one at a time, in plan order, on a thread of their
own; every act and heal is written to the history with what it did (the pid
killed, the incarnation started). Between faults a watchdog notices a job
server or database that died by itself, writes that down (a crash is a
finding) and brings it back so the run can go on.

A fault the target cannot take (``--server HOST:PORT``: no process to kill;
no database behind a SQLite or memory queue) is skipped, and ``applicable``
says why before the run starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..targets import DatabaseServer, ProcessTarget, Target, TargetError
from .client import ChaosClient
from .history import HistoryWriter
from .incarnation import Incarnation
from .plan import FaultSpec
from .worker_pool import WorkerPool


@dataclass(frozen=True)
class Nemesis:
    name: str
    needs: str          # server | store | actors
    summary: str


NEMESES: dict[str, Nemesis] = {n.name: n for n in (
    Nemesis("kill", "server", "kill -9 of the job server; restarted on the same port and queue "
            "after the fault's duration"),
    Nemesis("stop", "server", "graceful shutdown (SIGTERM) of the job server; restarted after "
            "the fault's duration"),
    Nemesis("pause", "server", "SIGSTOP of the job server for the fault's duration, then "
            "SIGCONT"),
    Nemesis("db-kill", "store", "kill -9 of the queue's database server while the job server "
            "runs; restarted after the fault's duration"),
    Nemesis("db-restart", "store", "graceful stop of the queue's database server while the job "
            "server runs; started again after the fault's duration"),
    Nemesis("db-pause", "store", "SIGSTOP of the queue's database server for the fault's "
            "duration, then SIGCONT"),
    Nemesis("worker-kill", "actors", "kill -9 of a worker (often mid-job); a new worker takes "
            "its place"),
    Nemesis("client-gone", "actors", "a client sends a burst of jobs and drops its connection "
                                     "(a reset) with jobs queued"),
)}


def applicable(name: str, target: Target, store: DatabaseServer | None) -> str:
    """'' when ``name`` can act on this target, else why it is skipped."""
    nemesis = NEMESES[name]
    if nemesis.needs == "server" and not isinstance(target, ProcessTarget):
        return (f"{name}: skipped, {target.name} is someone else's server (--server): gearcheck "
                "has no process to signal")
    if nemesis.needs == "store" and store is None:
        if not isinstance(target, ProcessTarget):
            return f"{name}: skipped, the database behind --server {target.name} is not ours"
        backend = target.queue_backend or "memory"
        return f"{name}: skipped, the {backend} queue has no database server to hurt"
    return ""


def _log_tail(proc: ProcessTarget, lines: int = 12) -> str:
    path = proc.log_path
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ServerKeeper:
    """Starts the job server again after a fault, bumping the incarnation first."""

    def __init__(self, target: Target, history: HistoryWriter, incarnation: Incarnation) -> None:
        self.target = target
        self.history = history
        self.incarnation = incarnation
        self.down = False        # we took it down and have not brought it back
        self.failed = ""         # it would not start again: why
        self.crashes = 0

    @property
    def process(self) -> ProcessTarget | None:
        return self.target if isinstance(self.target, ProcessTarget) else None

    def bring_up(self, how: str) -> None:
        proc = self.process
        if proc is None or self.failed:
            return
        inc = self.incarnation.bump()
        try:
            proc.restart()
        except TargetError as exc:
            self.failed = str(exc).splitlines()[0][:300]
            self.history.write("server", inc=inc, state="failed", how=how,
                               detail=str(exc)[-1500:])
            return
        self.down = False
        self.history.write("server", inc=inc, state="up", how=how, pid=proc.pid)

    def watch(self) -> None:
        """A server that died while no fault of ours was acting: a crash."""
        proc = self.process
        if proc is None or self.down or self.failed or proc.alive():
            return
        code = proc.process.returncode if proc.process is not None else None
        self.crashes += 1
        self.history.write("server", inc=self.incarnation.current(), state="crashed",
                           how=f"exited by itself (code {code})", detail=_log_tail(proc))
        self.bring_up("after a crash")


class FaultRunner(threading.Thread):
    def __init__(self, faults: list[FaultSpec], *, keeper: ServerKeeper,
                 store: DatabaseServer | None, pool: WorkerPool, clients: list[ChaosClient],
                 history: HistoryWriter, start_t: float, skipped: set[str]) -> None:
        super().__init__(name="chaos-nemesis", daemon=True)
        self.faults = faults
        self.keeper = keeper
        self.store = store
        self.pool = pool
        self.clients = clients
        self.history = history
        self.start_t = start_t
        self.skipped = skipped
        self.stop_now = threading.Event()
        self._heal: Callable[[], None] | None = None
        self.acted = 0
        self.error = ""
        self._began = 0.0

    def _sleep_until(self, t: float) -> bool:
        while not self.stop_now.is_set():
            left = t - self.history.now()
            if left <= 0:
                return True
            self.stop_now.wait(min(left, 0.1))
            self.keeper.watch()
        return False

    def run(self) -> None:
        try:
            for fault in self.faults:
                if fault.nemesis in self.skipped:
                    continue
                if not self._sleep_until(self.start_t + fault.at):
                    return
                self._act(fault)
                self.acted += 1
                self._sleep_until(self.history.now() + fault.duration)
                self.heal()
            while not self.stop_now.is_set():
                self.stop_now.wait(0.1)
                self.keeper.watch()
        except Exception as exc:  # a harness bug: recorded, the run goes on and heals
            self.error = f"{type(exc).__name__}: {exc}"
            self.history.write("note", text=f"nemesis thread failed: {self.error}")

    def heal(self) -> None:
        heal, self._heal = self._heal, None
        if heal is not None:
            self._began = self.history.now()
            heal()

    def _event(self, fault: FaultSpec, phase: str, detail: str) -> None:
        """``began``: when the action started (a graceful stop takes a while before the
        event can say what it did)."""
        self.history.write("nemesis", name=fault.nemesis, phase=phase, detail=detail,
                           began=round(self._began, 6))

    def _act(self, fault: FaultSpec) -> None:
        self._began = self.history.now()
        name = fault.nemesis
        keeper, proc, store = self.keeper, self.keeper.process, self.store
        if name in ("kill", "stop", "pause") and (proc is None or keeper.failed):
            return
        if name in ("kill", "stop"):
            assert proc is not None
            pid = proc.pid
            keeper.down = True
            inc = keeper.incarnation.current()
            if name == "kill":
                proc.kill()
            else:
                proc.terminate()
            self._event(fault, "start", f"{'kill -9' if name == 'kill' else 'SIGTERM'} of the "
                        f"job server (pid {pid}, incarnation {inc})")
            self.history.write("server", inc=inc, state="down", how=name)

            def restart() -> None:
                keeper.bring_up(f"after {name}")
                self._event(fault, "end", "job server started again on the same port and queue"
                            if not keeper.failed else f"job server did not start: {keeper.failed}")
            self._heal = restart
        elif name == "pause":
            assert proc is not None
            keeper.down = True
            proc.pause()
            self._event(fault, "start", f"SIGSTOP of the job server (pid {proc.pid})")

            def cont() -> None:
                proc.resume()
                keeper.down = False
                self._event(fault, "end", "SIGCONT")
            self._heal = cont
        elif name in ("db-kill", "db-restart", "db-pause") and store is not None:
            self._act_on_store(fault, store)
        elif name == "worker-kill":
            killed = self.pool.kill_one(fault.pick)
            self._event(fault, "start", f"kill -9 of worker {killed[0]} (pid {killed[1]})"
                        if killed else "no live worker to kill")

            def replace() -> None:
                self._event(fault, "end", f"worker {self.pool.spawn()} started in its place")
            self._heal = replace
        elif name == "client-gone" and self.clients:
            client = self.clients[fault.pick % len(self.clients)]
            client.go_away()
            self._event(fault, "start", f"client {client.index} drops its connection")
            self._heal = lambda: self._event(fault, "end", "its jobs are no longer owed to it")

    def _act_on_store(self, fault: FaultSpec, store: DatabaseServer) -> None:
        name = fault.nemesis
        if name == "db-pause":
            store.pause()
            self._event(fault, "start", f"SIGSTOP of {store.kind} ({store.address})")

            def cont() -> None:
                store.resume()
                self._event(fault, "end", "SIGCONT")
            self._heal = cont
            return
        pid = store.process.pid if store.process else None
        if name == "db-kill":
            store.kill()
        else:
            store.terminate()
        alive = store.answers()
        self._event(fault, "start", f"{'kill -9' if name == 'db-kill' else 'graceful stop'} of "
                    f"{store.kind} (pid {pid}); answering afterwards: {alive}")

        def start_again() -> None:
            try:
                store.start()
                self._event(fault, "end", f"{store.kind} started again on {store.address}")
            except TargetError as exc:
                self._event(fault, "end", f"{store.kind} did not start again: {exc}")
        self._heal = start_again

    def finish(self, deadline_s: float = 30.0) -> None:
        """Stop scheduling, heal what is still broken, and bring the server back if it is down."""
        self.stop_now.set()
        self.join(deadline_s)
        self.heal()
        if self.store is not None and not self.store.alive():
            try:
                self.store.start()
                self.history.write("note", text=f"{self.store.kind} started for the drain")
            except TargetError as exc:
                self.history.write("note", text=f"{self.store.kind} would not start: {exc}")
        proc = self.keeper.process
        if proc is not None and not proc.alive() and not self.keeper.failed:
            self.keeper.bring_up("for the drain")
