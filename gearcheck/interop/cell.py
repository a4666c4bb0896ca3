"""One cell of the matrix: a scenario between one client and one worker library on one server.

Strategy: instantiate the scenario with a fresh token (so cells share a
server without meeting), start the worker driver and wait until the server's
admin ``status`` lists a worker for every function (the driver's own
``ready`` only says it asked), run the client drivers (in threads when there
are several), then let the worker catch up on the jobs the scenario expects
and stop it. Everything that happened, both programs' events and stderr, is
the case's evidence, and the events form its transcript. Harness problems
(a worker that never registers, a server that stops answering) are ERROR.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from ..protocol import parse_status
from ..results import CaseResult, FailureKind, TranscriptEntry, Verdict
from ..wire import Address, Connection, WireError
from .driver import DriverRun, WorkerProcess, run_client, server_field
from .judge import judge
from .registry import Library, missing_feature
from .scenarios import InteropScenario, instantiate

REGISTER_DEADLINE_S = 8.0


def case_id(s: InteropScenario, client: str, worker: str, server: str) -> str:
    return f"{s.id}/{client}>{worker}@{server}"


def _workers_registered(address: Address, names: list[str], deadline_s: float) -> str | None:
    """None when every function has a worker; else what was last seen."""
    deadline = time.monotonic() + deadline_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with Connection.open(address, timeout=2.0) as conn:
                status = parse_status(conn.admin("status"))
            missing = [n for n in names if n not in status or status[n].workers < 1]
            if not missing:
                return None
            last = f"no worker yet for {missing}"
        except (OSError, WireError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.05)
    return last


def _transcript(runs: list[DriverRun], t0: float) -> list[TranscriptEntry]:
    out: list[TranscriptEntry] = []
    for run in runs:
        for e in run.events[:300]:
            t = float(e.get("t", t0)) - t0 if isinstance(e.get("t"), (int, float)) else 0.0
            summary = {k: v for k, v in e.items() if k != "t"}
            if isinstance(summary.get("data"), str) and len(summary["data"]) > 200:
                summary["data"] = summary["data"][:120] + "..."
            out.append(TranscriptEntry(t=round(max(t, 0.0), 6),
                                       actor=f"{run.role}:{run.library}",
                                       direction="note", summary=summary))
    out.sort(key=lambda e: e.t)
    return out


def run_cell(s: InteropScenario, client: Library, worker: Library, server: str,
             address: Address) -> CaseResult:
    cid = case_id(s, client.name, worker.name, server)
    base: dict[str, Any] = dict(case_id=cid, title=s.title, area="interop", level="MUST",
                                source=s.file, file=s.file, tags=[*s.tags, server])
    why = missing_feature(client, "client", s.requires_client) or \
        missing_feature(worker, "worker", s.requires_worker)
    if why:
        return CaseResult(verdict=Verdict.UNSUPPORTED, message=why,
                          evidence={"unsupported": why}, **base)
    token = secrets.token_hex(4)
    inst = instantiate(s, token)
    srv = server_field(address)
    start = time.monotonic()
    t0 = time.time()
    client_runs: list[DriverRun | None] = [None] * len(inst.client_orders)
    worker_order = {"server": srv, "functions": inst.functions, "timeout": s.timeout + 20}

    def one_client(i: int) -> None:
        order = dict(inst.client_orders[i], server=srv)
        client_runs[i] = run_client(client, order, s.timeout + 5)

    wp = WorkerProcess(worker, worker_order)
    error: str | None = None
    no_register: str | None = None  # the worker library's own failure to register
    threads: list[threading.Thread] = []
    try:
        if s.worker_start == "before":
            wp.__enter__()
            if not wp.wait_for("ready", 1, REGISTER_DEADLINE_S):
                no_register = "the worker driver never reported ready"
            else:
                seen = _workers_registered(address, list(inst.functions), REGISTER_DEADLINE_S)
                if seen:
                    no_register = (f"the worker ({worker.name}) did not register its functions "
                                   f"with the server ({seen})")
        if error is None and no_register is None:
            threads = [threading.Thread(target=one_client, args=(i,), daemon=True)
                       for i in range(len(inst.client_orders))]
            for t in threads:
                t.start()
            if s.worker_start == "after":
                stop_at = time.monotonic() + s.worker_delay
                for t in threads:
                    t.join(max(0.0, stop_at - time.monotonic()))
                wp.__enter__()
            for t in threads:
                t.join(s.timeout + 15)
            want = s.expect.get("worker_jobs")
            if want:
                wp.wait_for("job", int(want), 3.0)
            time.sleep(0.2)  # late packets (a second WORK_FAIL, an ERROR) reach the driver
    finally:
        wp.__exit__(None, None, None)
    runs = [r for r in client_runs if r is not None]
    evidence = {"token": token, "server": {"name": server, "address": str(address)},
                "clients": [r.evidence() for r in runs],
                "worker": wp.run.evidence() if wp.proc is not None else None}
    duration = time.monotonic() - start
    transcript = _transcript([*runs, wp.run], t0)
    if no_register is not None:
        tail = wp.run.stderr.strip().splitlines()[-1:]
        return CaseResult(verdict=Verdict.FAIL, failure_kind=FailureKind.TIMEOUT,
                          message=no_register + (f"; stderr: {tail[0][:200]}" if tail else ""),
                          duration_s=duration, evidence=evidence, transcript=transcript, **base)
    if error is None and len(runs) != len(inst.client_orders):
        error = "a client driver did not finish within the scenario's deadline plus 15 s"
    if error is not None:
        return CaseResult(verdict=Verdict.ERROR, message=error, duration_s=duration,
                          evidence=evidence, transcript=transcript, **base)
    j = judge(s, inst, runs, wp.run)
    return CaseResult(verdict=j.verdict, message=j.message, failure_kind=j.failure_kind,
                      expected=j.expected, actual=j.actual, duration_s=round(duration, 3),
                      evidence=evidence, transcript=transcript, **base)

