"""Fault scenarios: jobs must survive killed workers, vanished clients and a killed server.

Strategy: each scenario drives a real server (started here, on loopback) with
real processes and sockets and *counts* rather than assumes: every job carries
a unique token in its data, the workers (separate processes, see
fault_worker) log each token they run, and the counts come from comparing
what was acknowledged (JOB_CREATED received) with what was executed.

  server_restart   background jobs of three priorities with the persistent
                   queue on; kill -9 the server (some submissions still in
                   flight), restart it on the same queue file, drain with one
                   worker: every acknowledged job must run exactly once, HIGH
                   before NORMAL before LOW.
  worker_killed    a worker process is killed -9 while it holds a foreground
                   and, separately, a background job: another worker must get
                   the same handle, and the client its WORK_COMPLETE.
  client_gone      a client disconnects with one job running and others
                   queued: the running job's results are accepted silently,
                   the queued foreground jobs never reach a worker (GM-FAULT-
                   004/005), and its background job still runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..protocol import Packet, PacketType, Priority, parse_status, submit_type
from ..targets import ProcessTarget, ServerConfig, free_port, open_managed
from ..wire import Address, Connection, WireError

PRIORITY_OF = {b"H": Priority.HIGH, b"N": Priority.NORMAL, b"L": Priority.LOW}


@dataclass
class ScenarioResult:
    name: str
    submitted: int = 0
    acknowledged: int = 0
    recovered: int = 0  # acknowledged jobs that were executed
    lost: int = 0  # acknowledged jobs never executed
    duplicated: int = 0  # executions beyond the first
    out_of_order: int = 0  # executions of a lower priority before a pending higher one
    unacknowledged_executed: int = 0
    discarded: int = 0  # acknowledged, and dropped by design (their client went away)
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.lost == 0 and self.duplicated == 0 \
            and self.out_of_order == 0 and all(self.checks.values())

    def to_dict(self) -> dict[str, object]:
        return {"scenario": self.name, "passed": self.passed, "submitted": self.submitted,
                "acknowledged": self.acknowledged, "recovered": self.recovered,
                "lost": self.lost, "duplicated": self.duplicated,
                "out_of_order": self.out_of_order,
                "unacknowledged_executed": self.unacknowledged_executed,
                "discarded": self.discarded,
                "checks": self.checks, "notes": self.notes, "error": self.error}


class WorkerProcess:
    """One fault_worker child process."""

    def __init__(self, address: Address, function: str, log: Path, *, work_s: float = 0.0,
                 idle_exit_s: float = 3.0) -> None:
        self.log = log
        self.err_path = log.with_suffix(".stderr")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)  # a rerun into the same folder starts a fresh log
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
            [sys.executable, "-m", "gearcheck.robustness.fault_worker", "--server", str(address),
             "--function", function, "--log", str(log), "--work-seconds", str(work_s),
             "--idle-exit", str(idle_exit_s)],
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def wait_for(self, word: str, deadline_s: float = 20.0) -> str:
        """The first log line starting with ``word`` (the child fsyncs each line)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.log.exists():
                for line in self.log.read_text().splitlines():
                    if line.startswith(word):
                        return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        err = self.err_path.read_text(errors="replace").strip()[-300:]
        raise TimeoutError(f"worker never logged {word!r} within {deadline_s:.0f}s "
                           f"(exit {self.proc.poll()}; {err})")

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def finish(self, deadline_s: float = 60.0) -> None:
        try:
            self.proc.wait(deadline_s)
        except subprocess.TimeoutExpired:
            self.kill9()

    def executed(self) -> list[tuple[bytes, bytes]]:
        """(handle, data) of every job this worker finished, in order."""
        return _log_entries(self.log, "done")


def _log_entries(log: Path, word: str) -> list[tuple[bytes, bytes]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        if parts[0] == word and len(parts) == 4:
            out.append((bytes.fromhex(parts[1]), bytes.fromhex(parts[3])))
    return out


def _queued(address: Address, function: str) -> int:
    with Connection.open(address, timeout=5.0) as conn:
        row = parse_status(conn.admin("status")).get(function)
    return row.total if row else 0


def _wait(condition: Callable[[], bool], deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- server killed and restarted ------------------------------------------------
def server_restart(target_name: str, work_dir: Path, *, jobs: int = 60,
                   in_flight: int = 30) -> ScenarioResult:
    result = ScenarioResult("server_restart")
    port = free_port()
    function = "fault-persist"
    target = open_managed(target_name, log_dir=work_dir, port=port,
                          config=ServerConfig(persistent_queue=True), state_dir=work_dir)
    acked: dict[bytes, Priority] = {}
    all_jobs: dict[bytes, Priority] = {}
    try:
        target.start()
        with Connection.open(target.address, timeout=10.0) as client:
            for i in range(jobs):
                prio = (Priority.LOW, Priority.NORMAL, Priority.HIGH)[i % 3]
                token = f"{prio.name[0]}-{i:05d}".encode()
                all_jobs[token] = prio
                client.send(Packet.build(submit_type(prio, True), function, token, token))
                client.expect(PacketType.JOB_CREATED, timeout=10.0)
                acked[token] = prio
            # a pipelined burst, with the kill landing while it is being answered
            burst = []
            for i in range(jobs, jobs + in_flight):
                prio = (Priority.LOW, Priority.NORMAL, Priority.HIGH)[i % 3]
                token = f"{prio.name[0]}-{i:05d}".encode()
                all_jobs[token] = prio
                burst.append((token, Packet.build(submit_type(prio, True), function, token,
                                                  token)))
            client.send_many(p for _, p in burst)
            time.sleep(0.002)
            target.kill()
            for token, _ in burst:
                try:
                    client.expect(PacketType.JOB_CREATED, timeout=2.0)
                except (WireError, OSError):
                    break
                acked[token] = all_jobs[token]
        result.submitted = len(all_jobs)
        result.acknowledged = len(acked)
        result.notes.append(f"{len(acked) - jobs} of the {in_flight} in-flight submissions "
                            f"were acknowledged before the kill")
        target.start()
        worker = WorkerProcess(target.address, function, work_dir / f"{target_name}-drain.log",
                               idle_exit_s=3.0)
        try:
            worker.wait_for("ready")
            _wait(lambda: _queued(target.address, function) == 0, 60.0)
        finally:
            worker.finish()
        executed = [data for _, data in worker.executed()]
        _count(result, acked, all_jobs, executed)
    except (OSError, WireError, TimeoutError, RuntimeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        target.stop()
    return result


def _count(result: ScenarioResult, acked: dict[bytes, Priority],
           all_jobs: dict[bytes, Priority], executed: list[bytes]) -> None:
    seen = Counter(executed)
    result.recovered = sum(1 for token in acked if seen[token])
    result.lost = result.acknowledged - result.recovered
    result.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    result.unacknowledged_executed = sum(1 for t in seen if t in all_jobs and t not in acked)
    # priority order: nothing runs while a job of higher priority is still waiting
    remaining = Counter(all_jobs[t] for t in set(executed) if t in all_jobs)
    for token in executed:
        prio = all_jobs.get(token)
        if prio is None:
            continue
        if any(remaining[p] for p in Priority if p < prio):
            result.out_of_order += 1
        remaining[prio] -= 1
    result.checks["every acknowledged job executed"] = result.lost == 0
    result.checks["no job executed twice"] = result.duplicated == 0
    result.checks["executed in priority order"] = result.out_of_order == 0


# -- worker killed mid-job ---------------------------------------------------------
def worker_killed(target_name: str, work_dir: Path) -> ScenarioResult:
    result = ScenarioResult("worker_killed")
    target = open_managed(target_name, log_dir=work_dir)
    try:
        target.start()
        for background in (False, True):
            _one_worker_kill(target, work_dir, background, result)
    except (OSError, WireError, TimeoutError, RuntimeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        target.stop()
    return result


def _one_worker_kill(target: ProcessTarget, work_dir: Path, background: bool,
                     result: ScenarioResult) -> None:
    mode = "bg" if background else "fg"
    function = f"fault-kill-{mode}"
    token = f"kill-{mode}".encode()
    with Connection.open(target.address, timeout=10.0) as client:
        client.send(Packet.build(submit_type(Priority.NORMAL, background), function, token,
                                 token))
        handle = client.expect(PacketType.JOB_CREATED).arg("handle")
        result.submitted += 1
        result.acknowledged += 1
        first = WorkerProcess(target.address, function, work_dir / f"kill-{mode}-first.log",
                              work_s=60.0)
        try:
            started = first.wait_for("start")
            result.checks[f"{mode}: first worker got the job"] = \
                bytes.fromhex(started.split()[1]) == handle
        finally:
            first.kill9()
            first.finish(5)
        second = WorkerProcess(target.address, function, work_dir / f"kill-{mode}-second.log",
                               idle_exit_s=2.0)
        try:
            second.wait_for("done")
        finally:
            second.finish()
        executed = second.executed()
        result.checks[f"{mode}: a second worker got the same handle"] = \
            [h for h, _ in executed] == [handle]
        if executed and executed[0][1] == token:
            result.recovered += 1
        result.duplicated += max(0, len(executed) - 1)
        if not background:
            reply = client.recv_packet(10.0)
            while reply.type in (PacketType.WORK_STATUS, PacketType.WORK_DATA):
                reply = client.recv_packet(10.0)
            result.checks["fg: client got WORK_COMPLETE from the second worker"] = (
                reply.type == PacketType.WORK_COMPLETE and reply.arg("handle") == handle
                and reply.arg("data") == b"done:" + token)
    result.lost = result.acknowledged - result.recovered


# -- client disconnects with jobs queued and running ---------------------------------
def client_gone(target_name: str, work_dir: Path) -> ScenarioResult:
    result = ScenarioResult("client_gone")
    target = open_managed(target_name, log_dir=work_dir)
    function = "fault-client-gone"
    try:
        target.start()
        with Connection.open(target.address, timeout=10.0) as worker:
            worker.send(Packet.build("CAN_DO", function))
            client = Connection.open(target.address, timeout=10.0)
            client.send(Packet.build("SUBMIT_JOB", function, "run", "running"))
            running = client.expect(PacketType.JOB_CREATED).arg("handle")
            worker.send(Packet.build("GRAB_JOB"))
            assign = worker.expect(PacketType.JOB_ASSIGN)
            result.checks["worker got the first job"] = assign.arg("handle") == running
            for i in range(3):
                client.send(Packet.build("SUBMIT_JOB", function, f"q{i}", f"queued-{i}"))
                client.expect(PacketType.JOB_CREATED)
            client.send(Packet.build("SUBMIT_JOB_BG", function, "bg", "background"))
            client.expect(PacketType.JOB_CREATED)
            result.submitted = result.acknowledged = 5
            client.close()
            time.sleep(0.3)
            worker.send(Packet.build("WORK_DATA", running, "partial"))
            worker.send(Packet.build("WORK_COMPLETE", running, "finished"))
            worker.send(Packet.build("ECHO_REQ", "after-complete"))
            reply = worker.recv_packet(10.0)
            result.checks["results of the orphaned running job accepted silently"] = \
                reply.type == PacketType.ECHO_RES
            got: list[bytes] = []
            for _ in range(6):
                worker.send(Packet.build("GRAB_JOB"))
                reply = worker.recv_packet(10.0)
                while reply.type == PacketType.NOOP:
                    reply = worker.recv_packet(10.0)
                if reply.type != PacketType.JOB_ASSIGN:
                    break
                got.append(reply.arg("data"))
                worker.send(Packet.build("WORK_COMPLETE", reply.arg("handle"), ""))
            result.checks["queued foreground jobs of the gone client never reach a worker"] = \
                not any(d.startswith(b"queued-") for d in got)
            result.checks["its background job still runs"] = got.count(b"background") == 1
            # the running job completed, the background one ran: the two jobs that must run
            result.discarded = 3
            result.recovered = 1 + min(1, got.count(b"background"))
            result.lost = result.acknowledged - result.discarded - result.recovered
            result.duplicated = max(0, got.count(b"background") - 1)
            result.notes.append("3 queued foreground jobs were discarded with their client "
                                "(counted as submitted, not owed)")
    except (OSError, WireError, TimeoutError, RuntimeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        target.stop()
    return result


SCENARIOS = {"server_restart": server_restart, "worker_killed": worker_killed,
             "client_gone": client_gone}


def run_faults(target_name: str, work_dir: Path,
               scenarios: list[str] | None = None) -> list[ScenarioResult]:
    work_dir.mkdir(parents=True, exist_ok=True)
    return [SCENARIOS[name](target_name, work_dir / name)
            for name in (scenarios or list(SCENARIOS))]
