"""Play one mirrored scenario against one library's driver, and judge what happened.

Strategy: the scenario engine does the wire part. A ``Listener`` is opened,
the library's driver is pointed at it (a client driver runs to completion in
a thread; a worker driver runs in the background), and the engine's
``MirroredRuntime`` accepts the library's connections and runs the steps with
its own executors and matchers, the transcript being the engine's. Two hooks
make it this library's server: ``answer_housekeeping`` answers what a real
server answers without a step asking (OPTION_REQ -> OPTION_RES, ECHO_REQ ->
ECHO_RES, PRE_SLEEP -> NOOP; SET_CLIENT_ID and RESET_ABILITIES need nothing),
and ``gave_up`` is true once a worker's driver exited or reported an error.
When the steps held, the driver's own report must show the ``outcome`` rows
(``judge.follow_rows``, with ``data`` judged by the engine's matchers).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from ...engine.actors import Actor
from ...engine.loader import Scenario
from ...engine.matchers import match
from ...engine.mirrored import Listener, MirroredRuntime, play_steps
from ...engine.values import ScenarioError, Variables, describe_bytes
from ...protocol import Packet, PacketType
from ...results import CaseResult, FailureKind, Verdict
from ..driver import DriverRun, WorkerProcess, b64, run_client, server_field
from ..judge import describe_row, follow_rows, short_event
from ..registry import Library, missing_feature
from ..scenarios import payload_bytes

_ANSWERS = {PacketType.OPTION_REQ: PacketType.OPTION_RES,
            PacketType.ECHO_REQ: PacketType.ECHO_RES, PacketType.PRE_SLEEP: PacketType.NOOP}
_SILENT = {PacketType.SET_CLIENT_ID, PacketType.RESET_ABILITIES}


def answer_housekeeping(actor: Actor, packet: Packet) -> bool:
    """Answer what a real server answers unasked; True when the packet was housekeeping."""
    if packet.type in _SILENT:
        return True
    reply = _ANSWERS.get(packet.type)
    if reply is None:
        return False
    args = packet.args[:1] if reply is not PacketType.NOOP else ()
    try:
        actor.send_packets([Packet.build(reply, *args)])
    except OSError:
        pass
    return True


def _driver_order(scenario: Scenario, listener: Listener) -> dict[str, Any]:
    order = dict(scenario.driver["order"], server=server_field(listener.address))
    order.setdefault("timeout", (scenario.timeout or 5.0) + 2)
    if "jobs" in order:
        order["jobs"] = [dict(j, payload=b64(payload_bytes(j.get("payload"))))
                         for j in order["jobs"]]
    return order


def _judge_outcome(scenario: Scenario, events: list[dict[str, Any]],
                   variables: Variables) -> tuple[list[str], dict[str, Any] | None]:
    """Notes on tolerated events, and the failure's fields when a row is missing."""
    def data_ok(spec: Any, got: bytes) -> bool:
        try:
            return match(spec, got, variables, {})
        except ScenarioError:
            return False

    def show(spec: Any) -> str:
        try:
            return describe_bytes(variables.value(spec), 40)
        except ScenarioError:
            return str(spec)

    notes: list[str] = []
    for jid, rows in (scenario.driver.get("outcome") or {}).items():
        job_events = [e for e in events if str(e.get("job")) == jid] if jid != "*" else events
        tolerated, row = follow_rows(rows, job_events, data_ok)
        notes += [f"job {jid}: {alt} instead of {want}" for alt, want in tolerated]
        if row is not None:
            got = ", ".join(short_event(e) for e in job_events[:12]) or "nothing"
            kind = FailureKind.TIMEOUT if any(e.get("event") == "timeout"
                                              for e in job_events) else FailureKind.MISMATCH
            expected = describe_row(row, show)
            return notes, {"failure_kind": kind, "expected": expected, "actual": got,
                           "message": f"the exchange went as scripted, but the library "
                                      f"reported for job {jid}: {got}; expected {expected}"}
    return notes, None


def play(scenario: Scenario, lib: Library) -> CaseResult:
    area = f"library-{scenario.role}"
    tags = [lib.name, scenario.role, *scenario.tags]
    source = scenario.source or scenario.file
    why = missing_feature(lib, scenario.role, scenario.requires)
    if why:
        return CaseResult(case_id=scenario.id, title=scenario.title, level=scenario.level,
                          file=scenario.file, line=scenario.line, verdict=Verdict.UNSUPPORTED,
                          message=why, evidence={"unsupported": why}, area=area, tags=tags,
                          source=source)
    runs: list[DriverRun] = []
    worker: WorkerProcess | None = None
    client_thread: threading.Thread | None = None
    with Listener() as listener:
        order = _driver_order(scenario, listener)
        rt = MirroredRuntime(scenario, listener, answer=answer_housekeeping)
        try:
            if scenario.role == "client":
                client_thread = threading.Thread(
                    target=lambda: runs.append(run_client(lib, order,
                                                          float(order["timeout"]) + 5)),
                    daemon=True)
                client_thread.start()
            else:
                worker = WorkerProcess(lib, order).__enter__()
                running = worker
                rt.gave_up = lambda: (not running.alive()) or bool(running.run.of("error"))
            result = play_steps(scenario, rt)
            if client_thread is not None:
                client_thread.join(float(order["timeout"]) + 8)
            else:
                time.sleep(0.5)  # let the worker report what it did with the last packets
        finally:
            if worker is not None:
                worker.__exit__(None, None, None)
                runs.append(worker.run)
            rt.close_all()
    evidence = {**result.evidence, "library": lib.name,
                "driver": [r.evidence() for r in runs]}
    result = dataclasses.replace(result, evidence=evidence, area=area, tags=tags, source=source)
    if result.verdict not in (Verdict.PASS, Verdict.NON_STRICT):
        return result
    if not runs:
        return dataclasses.replace(result, verdict=Verdict.ERROR,
                                   message="the driver did not finish")
    notes, failure = _judge_outcome(scenario, runs[0].events, rt.variables)
    if failure is not None:
        return dataclasses.replace(result, verdict=Verdict.FAIL, **failure)
    notes = [*rt.non_strict, *notes]
    if notes:
        return dataclasses.replace(result, verdict=Verdict.NON_STRICT, message="; ".join(notes))
    return dataclasses.replace(result, message="the library sent what was expected and "
                               "reported what the server answered")
