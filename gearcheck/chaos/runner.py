"""One chaos cell: a server (and its queue's database), a plan, a history.

Strategy: start the target (a registered name, with a queue back end asked
for through ``ServerConfig``, or someone's HOST:PORT), the workers (separate
processes) and the clients (threads), play the plan's submissions and
faults for its duration, then drain: heal whatever is broken, stop
submitting, and wait until the server's admin ``status`` shows nothing
queued or running (or a deadline, past the last epoch job's time). A plan
with ``hold_workers`` (what the shrinker tries for lost jobs) starts its
workers only at the drain, so every job is still queued when each fault
lands and a loss across a restart no longer depends on timing. Jobs
still queued then are written down as stuck. Everything is stopped in
``finally``; the histories of all processes are merged into
``history.jsonl``, which is all the checker reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..targets import (
    ProcessTarget,
    ServerConfig,
    Target,
    TargetError,
    is_address,
    open_managed,
    open_target,
)
from ..wire import Address, Connection, WireError
from .client import ChaosClient
from .history import HistoryWriter, merge
from .incarnation import Incarnation
from .nemesis import FaultRunner, ServerKeeper, applicable
from .plan import Plan
from .worker_pool import WorkerPool

Progress = Callable[[str], None]
LEAD_IN_S = 0.5         # workers connect before the first submission is due
REPORT_EVERY_S = 5.0
STUCK_AFTER_S = 4.0     # jobs the server counts that do not move for this long are stuck
                        # (a chaos job takes at most 0.4 s)


class HarnessError(RuntimeError):
    """The run could not happen (a database would not start, say): never the server's fault."""


@dataclass
class CellRun:
    run_dir: Path
    history_path: Path
    plan: Plan
    target: str
    backend: str | None
    skipped: list[str] = field(default_factory=list)
    server_failed: str = ""
    crashes: int = 0
    stuck: dict[str, int] = field(default_factory=dict)
    drained: bool = True
    faults_acted: int = 0
    server_info: dict[str, object] = field(default_factory=dict)
    harness_problems: list[str] = field(default_factory=list)
    rss_bytes: int | None = None
    queue_backend: str | None = None     # what the server really ran (None: memory or unknown)


def status_rows(lines: list[bytes]) -> dict[bytes, tuple[int, int, int]]:
    """admin ``status`` rows by function; names may hold a tab, so the numbers are taken
    from the right (the shared parser refuses such rows)."""
    rows: dict[bytes, tuple[int, int, int]] = {}
    for line in lines:
        parts = line.split(b"\t")
        if line == b"." or len(parts) < 4:
            continue
        try:
            total, running, workers = (int(p) for p in parts[-3:])
        except ValueError:
            continue
        rows[b"\t".join(parts[:-3])] = (total, running, workers)
    return rows


def queued(address: Address) -> dict[bytes, tuple[int, int, int]] | None:
    try:
        with Connection.open(address, timeout=3.0, connect_timeout=1.0) as conn:
            return status_rows(conn.admin("status", timeout=3.0))
    except (OSError, WireError):
        return None


def open_cell_target(target: str, backend: str | None, run_dir: Path,
                     server_args: tuple[str, ...] = ()) -> Target:
    """The server for a cell: HOST:PORT as it is, or a registered one with the back end
    (and ``server_args`` added to its command line)."""
    if is_address(target):
        if backend or server_args:
            raise HarnessError(f"gearcheck cannot choose the queue or the options of someone "
                               f"else's server ({target})")
        return open_target(target)
    config = ServerConfig(queue_backend=backend) if backend else None
    extra: dict[str, Any] = {"extra_args": list(server_args)} if server_args else {}
    try:
        return open_managed(target, config=config, state_dir=run_dir / "state",
                            log_dir=run_dir / "logs", **extra)
    except (TargetError, ValueError) as exc:
        raise HarnessError(str(exc)) from exc


def run_cell(plan: Plan, *, target: str, backend: str | None, nemeses: list[str],
             run_dir: Path, drain_s: float = 20.0, progress: Progress | None = None,
             server_args: tuple[str, ...] = ()) -> CellRun:
    say = progress or (lambda _m: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_path = run_dir / "plan.json"
    plan.save(plan_path)
    incarnation = Incarnation(run_dir / "incarnation")
    t0 = time.monotonic()
    history = HistoryWriter(run_dir / "history-runner.jsonl", t0)
    server = open_cell_target(target, backend, run_dir, server_args)
    result = CellRun(run_dir=run_dir, history_path=run_dir / "history.jsonl", plan=plan,
                     target=target, backend=backend)
    pool: WorkerPool | None = None
    clients: list[ChaosClient] = []
    faults: FaultRunner | None = None
    try:
        inc = incarnation.bump()
        try:
            server.start()
        except TargetError as exc:
            raise HarnessError(f"{target} did not start: {exc}") from exc
        store = server.queue_store if isinstance(server, ProcessTarget) else None
        result.server_info = server.describe()
        result.queue_backend = server.queue_backend if isinstance(server, ProcessTarget) else None
        skipped = {n: why for n in sorted(set(nemeses)) if (why := applicable(n, server, store))}
        result.skipped = list(skipped.values())
        history.write("run", seed=plan.seed, target=target, backend=backend,
                      nemeses=nemeses, skipped=result.skipped, seconds=plan.seconds,
                      jobs=len(plan.jobs), faults=len(plan.faults), clients=plan.clients,
                      workers=plan.workers, server=result.server_info, wall=time.time())
        history.write("server", inc=inc, state="up", how="first start",
                      pid=server.pid if isinstance(server, ProcessTarget) else None)
        pool = WorkerPool(server.address, plan_path, run_dir, incarnation.path, t0)
        held = bool(plan.extra.get("hold_workers"))
        if not held:
            for _ in range(plan.workers):
                pool.spawn()
        start_t = history.now() + LEAD_IN_S
        for index in range(plan.clients):
            clients.append(ChaosClient(index, [j for j in plan.jobs if j.client == index],
                                       server.address, history, incarnation, start_t))
        keeper = ServerKeeper(server, history, incarnation)
        faults = FaultRunner(list(plan.faults), keeper=keeper, store=store, pool=pool,
                             clients=clients, history=history, start_t=start_t,
                             skipped=set(skipped))
        history.write("phase", name="workload")
        for client in clients:
            client.start()
        faults.start()
        end_t = start_t + plan.seconds
        next_report = history.now() + REPORT_EVERY_S
        while history.now() < end_t:
            time.sleep(min(0.2, max(0.0, end_t - history.now())))
            if history.now() >= next_report:
                next_report += REPORT_EVERY_S
                say(f"{target}: {history.now() - start_t:.0f}/{plan.seconds:.0f}s, "
                    f"{faults.acted} fault(s)")
        history.write("phase", name="drain")
        faults.finish()
        if held:  # workers only now: every job was queued through every fault
            for _ in range(plan.workers):
                pool.spawn()
        result.faults_acted = faults.acted
        result.crashes = keeper.crashes
        result.server_failed = keeper.failed
        if faults.error:
            result.harness_problems.append(f"nemesis: {faults.error}")
        if keeper.failed:  # nothing to drain from a server that would not start
            for client in clients:
                client.drain_until(history.now())
            history.write("note", text="no drain: the job server did not start again")
        else:
            _drain(plan, server.address, clients, history, result, drain_s, say)
        if isinstance(server, ProcessTarget):
            result.rss_bytes = server.rss_bytes()
        history.write("phase", name="done", stuck={k: v for k, v in result.stuck.items()},
                      drained=result.drained)
    finally:
        for client in clients:
            client.stop_now.set()
        for client in clients:
            client.join(10)
            if client.error:
                result.harness_problems.append(f"client {client.index}: {client.error}")
        if faults is not None and faults.is_alive():
            faults.stop_now.set()
            faults.join(10)
        if pool is not None:
            pool.stop_all()
        server.stop()
        history.close()
        merge([history.path, *(pool.histories if pool else [])], result.history_path)
    return result


def _drain(plan: Plan, address: Address, clients: list[ChaosClient], history: HistoryWriter,
           result: CellRun, drain_s: float, say: Progress) -> None:
    """Wait until nothing is queued or running, every client has its results, or the deadline."""
    last_epoch = max((history.now() + j.epoch_delay for j in plan.jobs if j.epoch_delay),
                     default=0.0)
    deadline = max(history.now() + drain_s, last_epoch + 2.0)
    for client in clients:
        client.drain_until(deadline)
    ours = set(plan.functions)
    quiet = 0
    still_since, last_rows = history.now(), None
    rows: dict[bytes, tuple[int, int, int]] | None = None
    while history.now() < deadline:
        rows = queued(address)
        # functions no worker of ours does (a back end that renamed one) never drain
        busy = rows is None or any(total for fn, (total, _, _) in rows.items() if fn in ours)
        waiting = any(c.is_alive() and c.outstanding for c in clients)
        quiet = 0 if busy or waiting else quiet + 1
        if quiet >= 3 and history.now() > last_epoch:
            break
        if rows != last_rows:
            still_since, last_rows = history.now(), rows
        elif (rows is not None and not waiting and history.now() > last_epoch + 1.0
              and history.now() - still_since > STUCK_AFTER_S):
            break  # jobs counted, no client waiting, nothing moving: stuck, not slow
        time.sleep(0.3)
    else:
        result.drained = False
        say(f"{result.target}: drain deadline reached")
    rows = queued(address)
    if rows is None:
        result.stuck = {}
        history.write("note", text="admin status did not answer after the drain")
        result.drained = False
        return
    result.stuck = {fn.decode("utf-8", "backslashreplace"): total
                    for fn, (total, _, _) in rows.items() if total}
    if result.stuck:
        history.write("stuck", functions=result.stuck)
