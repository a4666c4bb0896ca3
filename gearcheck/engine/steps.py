"""The step interpreter: walks a case's step lists and dispatches each step by its kind.

Strategy: ``run_steps`` looks each step's kind up in the runtime's executor
table and tags any failure with the step's path (``steps[3].repeat.steps[1]``)
and YAML line on its way up. The executors that neither wait nor talk admin
live here (connect, close, restart, sleep, send); the waiting ones are in
engine.waits, the admin ones in engine.admin_steps, and ``STEP_EXECUTORS`` is
the table of all of them a conformance case runs with. Two kinds nest step
lists and are interpreted here: ``repeat`` (the same steps N times with a
counter variable) and ``alternatives``.

``alternatives`` runs each branch with the actors journaling what they read;
a failed branch gives its arrivals back (``Actor.unread``) and its captures
are forgotten, so the next branch judges the same packets afresh. A LATE
failure is final: the right answer came, only too slowly.
"""

from __future__ import annotations

import time
from typing import Any

from ..results import FailureKind
from ..wire import WireError
from .actors import Arrival
from .admin_steps import step_admin, step_wait_until
from .case_runtime import CaseRuntime, Executor
from .outcome import HarnessError, StepFailure
from .packets import build_send
from .tls_checks import step_tls_refused
from .values import ScenarioError
from .waits import step_expect, step_expect_all, step_expect_close, step_expect_silence


def step_connect(rt: CaseRuntime, body: Any) -> None:
    for item in [body] if isinstance(body, (str, dict)) else body:
        rt.connect(item["name"] if isinstance(item, dict) else item)


def step_restart(rt: CaseRuntime, body: dict[str, Any]) -> None:
    """Stop one of the case's own servers (SIGTERM or kill -9) and start it again.

    Every connection to it is closed first (the case reconnects with ``connect``).
    """
    name = body["server"]
    hard = body.get("how", "graceful") == "kill"
    if rt.servers is None:
        raise ScenarioError(f"server {name!r} is not available to this case")
    for actor_name, server in rt.actor_servers.items():
        actor = rt.actors.get(actor_name)
        if server == name and actor is not None:
            actor.close()
    try:
        info = rt.servers.restart(name, hard=hard)
    except Exception as exc:  # the harness could not bring it back: never the server's fault
        raise HarnessError(f"restarting server {name!r} failed: {exc}") from None
    rt.transcript.note(name, "server restarted", **info)


def step_close(rt: CaseRuntime, body: Any) -> None:
    for name in [body] if isinstance(body, str) else body:
        rt.actor(name).close()


def step_sleep(rt: CaseRuntime, body: Any) -> None:
    time.sleep(float(body))


def step_send(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    outgoing = build_send(body, rt.variables, rt.sent_magic)
    try:
        actor.send_bytes(outgoing.data, outgoing.about, body.get("chunk"))
    except WireError as exc:
        raise StepFailure(FailureKind.CLOSED, f"{actor.name}: sending failed: {exc}",
                          expected="the connection accepts the bytes",
                          actual=str(exc)) from None


def step_repeat(rt: CaseRuntime, body: dict[str, Any], path: str) -> None:
    name = body.get("as", "i")
    for i in range(int(body["times"])):
        rt.variables.set(name, str(i).encode())
        run_steps(rt, body["steps"], f"{path}.repeat[{i}].steps")


def step_alternatives(rt: CaseRuntime, body: list[dict[str, Any]], path: str) -> None:
    failures: list[StepFailure] = []
    for n, branch in enumerate(body):
        saved = dict(rt.variables.values)
        rt.journals.append([])
        try:
            run_steps(rt, branch["steps"], f"{path}.alternatives[{n}].steps")
        except StepFailure as failure:
            journal = rt.journals.pop()
            rt.variables.values = saved
            if failure.kind is FailureKind.LATE:
                raise
            by_actor: dict[str, list[Arrival]] = {}
            for actor, arrival in journal:
                by_actor.setdefault(actor.name, []).append(arrival)
            for name, arrivals in by_actor.items():
                rt.actors[name].unread(arrivals)
            if rt.journals:
                rt.journals[-1].extend(journal)
            failures.append(failure)
            continue
        journal = rt.journals.pop()
        if rt.journals:
            rt.journals[-1].extend(journal)
        if branch["verdict"] == "NON-STRICT":
            rt.non_strict.append(branch.get("reason") or f"alternative {n + 1} matched")
        return
    first = failures[0]
    tried = "; ".join(f"({n + 1}, {b['verdict']}) {clipped(f.message)}"
                      for n, (b, f) in enumerate(zip(body, failures, strict=True)))
    differences = [
        {**d, "alternative": n + 1, "expected_path": [n, "expected", *d["expected_path"]],
         "actual_path": d["actual_path"] if f.actual == first.actual else []}
        for n, f in enumerate(failures) for d in f.evidence.get("differences", [])]
    raise StepFailure(first.kind, f"none of the {len(body)} alternatives matched: {tried}",
                      expected=[{"verdict": b["verdict"], "failed_with": f.message,
                                 "expected": f.expected} for b, f in zip(body, failures,
                                                                          strict=True)],
                      actual=first.actual,
                      evidence={**first.evidence, "differences": differences})


def clipped(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


STEP_EXECUTORS: dict[str, Executor] = {
    "connect": step_connect,
    "close": step_close,
    "sleep": step_sleep,
    "send": step_send,
    "expect": step_expect,
    "expect_all": step_expect_all,
    "expect_silence": step_expect_silence,
    "expect_close": step_expect_close,
    "admin": step_admin,
    "wait_until": step_wait_until,
    "restart": step_restart,
    "tls_refused": step_tls_refused,
}
"""Every step kind of a conformance case (``repeat`` and ``alternatives`` aside)."""


def step_kind(step: dict[str, Any]) -> str:
    return next(k for k in step if k != "note")


def run_steps(rt: CaseRuntime, steps: list[dict[str, Any]], path: str = "steps",
              top: bool = False) -> None:
    for index, step in enumerate(steps):
        kind = step_kind(step)
        here = f"{path}[{index}]"
        try:
            if kind == "repeat":
                step_repeat(rt, step[kind], here)
            elif kind == "alternatives":
                step_alternatives(rt, step[kind], here)
            else:
                rt.executors[kind](rt, step[kind])
        except (StepFailure, HarnessError) as exc:
            exc.locate(f"{here}.{kind}", getattr(step, "line", 0), index if top else None)
            raise
        except ScenarioError as exc:
            err = HarnessError(f"scenario error: {exc}")
            err.locate(f"{here}.{kind}", getattr(step, "line", 0), index if top else None)
            raise err from None
