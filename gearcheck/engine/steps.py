"""One executor per step kind, and the interpreter that walks step lists.

Strategy: a ``CaseRuntime`` holds what one running case owns (its actors,
variables, timing, transcript); ``run_steps`` dispatches each step mapping to
the executor named by its kind and tags any failure with the step's path
(``steps[3].repeat.steps[1]``) and YAML line. Waiting steps share one shape:
read until the deadline plus grace, judge each arrival, and say whether a
match was on time, LATE, or never came (TIMEOUT), or whether something else
came instead (MISMATCH, CLOSED, PROTOCOL, UNEXPECTED).

``alternatives`` runs each branch with the actors journaling what they read;
a failed branch gives its arrivals back (``Actor.unread``) and its captures
are forgotten, so the next branch judges the same packets afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..protocol import AdminLine, AdminReplyCollector, Magic, Packet, reply_is_list
from ..results import FailureKind
from ..wire import Address, WireError
from .actors import Actor, Arrival, Closed, Garbage, Transcript, wait_readable
from .matchers import Captures, count_ok, describe, match, undefined_references
from .outcome import HarnessError, StepFailure
from .packets import (
    build_send,
    describe_briefly,
    describe_expect,
    describe_item,
    expected_types,
    packet_matches,
)
from .servers import CaseServers
from .timing import Timing
from .values import ScenarioError, Variables

RECEIVE_STEPS = ("expect", "expect_all", "expect_silence", "expect_close", "sleep")


class CaseRuntime:
    """What one running case owns. ``sent_magic``/``expected_magic`` and ``unsolicited`` are
    what a mirrored runtime (engine.mirrored) changes."""

    sent_magic = Magic.REQ
    expected_magic = "RES"

    def __init__(self, *, address: Address, timing: Timing, variables: Variables,
                 case_timeout: float | None = None, noise: list[str] | None = None,
                 servers: CaseServers | None = None,
                 actor_servers: dict[str, str] | None = None) -> None:
        self.address = address
        self.servers = servers
        self.actor_servers = dict(actor_servers or {})
        self.timing = timing
        self.variables = variables
        self.case_timeout = case_timeout
        self.noise = set(noise or [])
        self.transcript = Transcript()
        self.actors: dict[str, Actor] = {}
        self.non_strict: list[str] = []
        self.journals: list[list[tuple[Actor, Arrival]]] = []
        self.executors: dict[str, Callable[[CaseRuntime, Any], None]] = dict(_SIMPLE)

    def unsolicited(self, actor: Actor, item: Any) -> bool:
        """True when ``item``, which no step expected, was handled and is to be skipped."""
        return False

    # -- actors ---------------------------------------------------------------
    def address_of(self, name: str) -> Address:
        """The address of the server the actor ``name`` is bound to (main by default)."""
        server = self.actor_servers.get(name)
        if server is None:
            return self.address
        if self.servers is None or server not in self.servers.addresses:
            raise ScenarioError(f"actor {name!r} is bound to server {server!r}, which this "
                                f"run did not provide")
        return self.servers.addresses[server]

    def connect(self, name: str) -> Actor:
        old = self.actors.get(name)
        if old is not None and not old.conn.closed:
            raise ScenarioError(f"actor {name!r} is already connected")
        try:
            actor = Actor.open(name, self.address_of(name), self.transcript,
                               connect_timeout=self.timing.deadline(self.case_timeout))
        except (OSError, WireError) as exc:
            raise HarnessError(f"cannot open connection {name!r}: {exc}") from None
        self.actors[name] = actor
        return actor

    def actor(self, name: str) -> Actor:
        actor = self.actors.get(name)
        if actor is None:
            raise ScenarioError(f"actor {name!r} is used before it is connected")
        if actor.conn.closed:
            raise ScenarioError(f"actor {name!r} is used after the case closed it")
        return actor

    def read(self, actor: Actor, until: float) -> Arrival | None:
        arrival = actor.next_event(until)
        if arrival is not None and self.journals:
            self.journals[-1].append((actor, arrival))
        return arrival

    def close_all(self) -> None:
        for actor in self.actors.values():
            actor.close()

    # -- deadlines ------------------------------------------------------------
    def window(self, requested: float | None) -> tuple[float, float, float]:
        """(deadline, hard deadline, deadline seconds) for a wait starting now."""
        seconds = self.timing.deadline(requested if requested is not None else self.case_timeout)
        now = time.monotonic()
        deadline = now + seconds
        return deadline, deadline + self.timing.grace(seconds), seconds

    def commit(self, captures: Captures) -> None:
        for name, value in captures.items():
            self.variables.set(name, value)


def _late(what: str, arrival_at: float, deadline: float, seconds: float,
          expected: Any, actual: Any) -> StepFailure:
    late_by = arrival_at - deadline
    return StepFailure(
        FailureKind.LATE,
        f"{what} arrived {late_by * 1000:.0f} ms after the {seconds:.2f} s deadline "
        f"(within the grace period)",
        expected=expected, actual=actual,
        evidence={"deadline_s": round(seconds, 4), "late_by_s": round(late_by, 4)})


def _ended(item: Closed | Garbage, actor: Actor, expected: Any) -> StepFailure:
    if isinstance(item, Closed):
        return StepFailure(FailureKind.CLOSED, f"{actor.name}: {actor.peer} closed the "
                           "connection", expected=expected, actual="connection closed")
    return StepFailure(FailureKind.PROTOCOL, f"{actor.name}: {actor.peer} sent bytes that are "
                       f"not Gearman framing: {item.error}", expected=expected,
                       actual={"garbage_hex": item.error.raw.hex(), "error": str(item.error)})


# -- executors -------------------------------------------------------------------
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
    data = build_send(body, rt.variables, rt.sent_magic)
    try:
        actor.send_bytes(data, body.get("chunk"))
    except WireError as exc:
        raise StepFailure(FailureKind.CLOSED, f"{actor.name}: sending failed: {exc}",
                          expected="the connection accepts the bytes",
                          actual=str(exc)) from None


def step_expect(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    noise = set(body.get("noise", [])) | rt.noise
    expected = describe_expect(body, rt.variables, rt.expected_magic)
    deadline, hard, seconds = rt.window(body.get("timeout"))
    while True:
        arrival = rt.read(actor, hard)
        if arrival is None:
            raise StepFailure(FailureKind.TIMEOUT,
                              f"{actor.name}: nothing arrived within {seconds:.2f} s plus "
                              f"{hard - deadline:.2f} s grace",
                              expected=expected, actual="nothing")
        item = arrival.item
        if isinstance(item, (Closed, Garbage)):
            raise _ended(item, actor, expected)
        captures = packet_matches(body, item, rt.variables, rt.expected_magic)
        if captures is not None:
            rt.commit(captures)
            if arrival.at > deadline:
                raise _late(f"{actor.name}: the expected packet", arrival.at, deadline,
                            seconds, expected, describe_item(item))
            return
        if isinstance(item, Packet) and item.name not in expected_types(body) \
                and (item.name in noise or rt.unsolicited(actor, item)):
            continue
        wanted = expected.get("packet", "a line")
        raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: expected "
                          f"{'/'.join(wanted) if isinstance(wanted, list) else wanted}, got "
                          f"{describe_briefly(item)}",
                          expected=expected, actual=describe_item(item))


def step_expect_all(rt: CaseRuntime, body: list[dict[str, Any]]) -> None:
    remaining = list(range(len(body)))
    actors = {spec["on"]: rt.actor(spec["on"]) for spec in body}
    held: dict[str, list[Arrival]] = {name: [] for name in actors}
    late: list[tuple[int, float]] = []
    deadline, hard, seconds = rt.window(max((s.get("timeout") or 0 for s in body), default=0)
                                        or None)
    noise = set(rt.noise)
    for spec in body:
        noise |= set(spec.get("noise", []))

    def try_match(name: str, arrival: Arrival) -> bool:
        for idx in list(remaining):
            spec = body[idx]
            if spec["on"] != name or undefined_references(spec.get("args"), rt.variables):
                continue
            captures = packet_matches(spec, arrival.item, rt.variables, rt.expected_magic)
            if captures is not None:
                rt.commit(captures)
                remaining.remove(idx)
                if arrival.at > deadline:
                    late.append((idx, arrival.at))
                return True
        return False

    def retry_held() -> None:
        progress = True
        while progress:
            progress = False
            for name, arrivals in held.items():
                for arrival in list(arrivals):
                    if try_match(name, arrival):
                        arrivals.remove(arrival)
                        progress = True

    while remaining:
        live = [actors[body[i]["on"]] for i in remaining]
        ready = wait_readable(list({a.name: a for a in live}.values()), hard)
        if not ready and time.monotonic() >= hard:
            break
        for actor in ready:
            arrival = rt.read(actor, min(hard, time.monotonic() + 0.05))
            if arrival is None:
                continue
            if isinstance(arrival.item, (Closed, Garbage)):
                if any(body[i]["on"] == actor.name for i in remaining):
                    raise _ended(arrival.item, actor,
                                 [describe_expect(body[i], rt.variables, rt.expected_magic)
                                  for i in remaining])
                continue
            if try_match(actor.name, arrival):
                retry_held()
            elif isinstance(arrival.item, Packet) and (arrival.item.name in noise
                                                       or rt.unsolicited(actor, arrival.item)):
                continue
            else:
                held[actor.name].append(arrival)
    if remaining:
        expected = [describe_expect(body[i], rt.variables, rt.expected_magic)
                    for i in remaining]
        got = [describe_item(a.item) for arrivals in held.values() for a in arrivals]
        kind = FailureKind.MISMATCH if got else FailureKind.TIMEOUT
        raise StepFailure(kind, f"{len(remaining)} of {len(body)} expected packet(s) did not "
                          f"arrive within {seconds:.2f} s plus grace",
                          expected=expected, actual=got or "nothing")
    for name, arrivals in held.items():
        actors[name].unread(arrivals)
    if late:
        idx, at = max(late, key=lambda x: x[1])
        raise _late(f"expected packet #{idx + 1}", at, deadline, seconds,
                    describe_expect(body[idx], rt.variables, rt.expected_magic),
                    "on time for the others")


def step_expect_silence(rt: CaseRuntime, body: dict[str, Any]) -> None:
    names = [body["on"]] if isinstance(body["on"], str) else body["on"]
    actors = [rt.actor(n) for n in names]
    window = rt.timing.silence(float(body.get("for", 0.2)))
    until = time.monotonic() + window
    while True:
        ready = wait_readable(actors, until)
        if not ready:
            return
        for actor in ready:
            arrival = rt.read(actor, min(until, time.monotonic() + 0.05))
            if arrival is None:
                continue
            item = arrival.item
            if isinstance(item, (Closed, Garbage)):
                raise _ended(item, actor, f"silence on {actor.name} for {window:.2f} s")
            if isinstance(item, Packet) and (item.name in rt.noise
                                             or rt.unsolicited(actor, item)):
                continue
            raise StepFailure(FailureKind.UNEXPECTED,
                              f"{actor.name}: expected silence for {window:.2f} s, "
                              f"but something arrived",
                              expected=f"nothing on {actor.name} for {window:.2f} s",
                              actual=describe_item(item))
        if time.monotonic() >= until:
            return


def step_expect_close(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    noise = set(body.get("noise", [])) | rt.noise
    deadline, hard, seconds = rt.window(body.get("timeout"))
    expected = f"{actor.name}: the server closes the connection"
    while True:
        arrival = rt.read(actor, hard)
        if arrival is None:
            raise StepFailure(FailureKind.TIMEOUT, f"{actor.name}: the connection was still "
                              f"open after {seconds:.2f} s plus grace",
                              expected=expected, actual="connection open, nothing received")
        item = arrival.item
        if isinstance(item, Closed):
            if arrival.at > deadline:
                raise _late(f"{actor.name}: the close", arrival.at, deadline, seconds,
                            expected, "closed")
            return
        if isinstance(item, Garbage):
            raise _ended(item, actor, expected)
        if isinstance(item, Packet) and item.name in noise:
            continue
        raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: expected the connection to "
                          f"close, got a reply instead", expected=expected,
                          actual=describe_item(item))


# -- admin -----------------------------------------------------------------------
def _admin_exchange(rt: CaseRuntime, actor: Actor, command: bytes, eol: bytes,
                    requested: float | None) -> tuple[list[bytes], float | None]:
    """Send one admin line; return its reply lines and how late the reply was (or None)."""
    try:
        actor.send_bytes(command + eol)
    except WireError as exc:
        raise StepFailure(FailureKind.CLOSED, f"{actor.name}: sending {command!r} failed: "
                          f"{exc}", expected="the admin command is accepted",
                          actual=str(exc)) from None
    collector = AdminReplyCollector(command.decode("utf-8", "replace"))
    deadline, hard, seconds = rt.window(requested)
    expected = f"the reply to {command.decode('utf-8', 'replace')!r}"
    last_at = 0.0
    while not collector.done:
        arrival = rt.read(actor, hard)
        if arrival is None:
            raise StepFailure(FailureKind.TIMEOUT,
                              f"{actor.name}: no complete reply to "
                              f"{command.decode('utf-8', 'replace')!r} within {seconds:.2f} s "
                              f"plus grace", expected=expected,
                              actual=[line.decode("utf-8", "replace") for line in collector.lines]
                              or "nothing")
        item = arrival.item
        if isinstance(item, (Closed, Garbage)):
            raise _ended(item, actor, expected)
        if isinstance(item, Packet):
            if item.name in rt.noise:
                continue
            raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: a binary packet arrived "
                              f"in place of an admin reply", expected=expected,
                              actual=describe_item(item))
        assert isinstance(item, AdminLine)
        collector.feed_line(item.text)
        last_at = arrival.at
    lateness = (last_at - deadline) if last_at > deadline else None
    return collector.lines, lateness


def _rows_of(lines: list[bytes], command: bytes) -> list[bytes]:
    if reply_is_list(command.decode("utf-8", "replace")) and lines and lines[-1] == b".":
        return lines[:-1]
    return list(lines)


def _row_matches(spec: Any, row: bytes, sep: bytes, rt: CaseRuntime,
                 captures: Captures) -> bool:
    if not isinstance(spec, list):
        return match(spec, row, rt.variables, captures)
    cols = row.split(sep)
    prefix = bool(spec) and spec[-1] == "..."
    specs = spec[:-1] if prefix else spec
    if len(cols) < len(specs) or (not prefix and len(cols) != len(specs)):
        return False
    trial: Captures = {}
    for s, c in zip(specs, cols, strict=False):
        if not match(s, c, rt.variables, trial):
            return False
    captures.update(trial)
    return True


def _assign(specs: list[Any], rows: list[bytes], sep: bytes, rt: CaseRuntime,
            captures: Captures, used: set[int]) -> bool:
    """Give each spec a distinct row (backtracking); the captures of the assignment."""
    if not specs:
        return True
    first, rest = specs[0], specs[1:]
    for i, row in enumerate(rows):
        if i in used:
            continue
        trial: Captures = {}
        if _row_matches(first, row, sep, rt, trial):
            used.add(i)
            saved = dict(captures)
            captures.update(trial)
            if _assign(rest, rows, sep, rt, captures, used):
                return True
            captures.clear()
            captures.update(saved)
            used.discard(i)
    return False


def reply_problem(spec: dict[str, Any], lines: list[bytes], command: bytes,
                  rt: CaseRuntime) -> tuple[str | None, Captures]:
    """None and the captures when the reply satisfies ``spec``, else what is wrong."""
    captures: Captures = {}
    sep = rt.variables.expand(spec.get("sep", "\t"))
    if "line" in spec:
        if len(lines) != 1:
            return f"expected a one-line reply, got {len(lines)} lines", {}
        if not match(spec["line"], lines[0], rt.variables, captures):
            return "the reply line does not match", {}
    rows = _rows_of(lines, command)
    if "filter" in spec:
        rows = [r for r in rows if match(spec["filter"], r.split(sep)[0], rt.variables, {})]
    if "count" in spec and not count_ok(spec["count"], len(rows)):
        return f"expected {spec['count']} row(s), got {len(rows)}", {}
    if "rows" in spec:
        if len(spec["rows"]) != len(rows):
            return f"expected {len(spec['rows'])} row(s) in order, got {len(rows)}", {}
        for i, (s, row) in enumerate(zip(spec["rows"], rows, strict=True)):
            if not _row_matches(s, row, sep, rt, captures):
                return f"row {i + 1} does not match", {}
    if "rows_any_order" in spec:
        if len(spec["rows_any_order"]) != len(rows):
            return (f"expected {len(spec['rows_any_order'])} row(s) in any order, "
                    f"got {len(rows)}"), {}
        if not _assign(list(spec["rows_any_order"]), rows, sep, rt, captures, set()):
            return "the rows do not match the expected set", {}
    if "contains" in spec and not _assign(list(spec["contains"]), rows, sep, rt, captures,
                                          set()):
        return "an expected row is missing", {}
    for s in spec.get("excludes", []):
        for row in rows:
            if _row_matches(s, row, sep, rt, {}):
                return f"a row that must be absent is present: {row!r}", {}
    return None, captures


def _lines_text(lines: list[bytes]) -> list[str]:
    from ..protocol import printable

    return [printable(line) for line in lines]


def step_admin(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    command = rt.variables.expand(body["command"])
    eol = body.get("eol", "\n").encode()
    lines, lateness = _admin_exchange(rt, actor, command, eol, body.get("timeout"))
    spec = body.get("reply")
    if spec is None:
        return
    problem, captures = reply_problem(spec, lines, command, rt)
    expected = {"command": command.decode("utf-8", "replace"),
                "reply": describe(spec, rt.variables)}
    if problem:
        raise StepFailure(FailureKind.MISMATCH, f"{actor.name}: admin "
                          f"{command.decode('utf-8', 'replace')!r}: {problem}",
                          expected=expected, actual=_lines_text(lines))
    rt.commit(captures)
    if lateness is not None:
        seconds = rt.timing.deadline(body.get("timeout", rt.case_timeout))
        raise StepFailure(FailureKind.LATE, f"{actor.name}: the admin reply came "
                          f"{lateness * 1000:.0f} ms after the {seconds:.2f} s deadline",
                          expected=expected, actual=_lines_text(lines),
                          evidence={"late_by_s": round(lateness, 4)})


def step_wait_until(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    command = rt.variables.expand(body["command"])
    within = rt.timing.deadline(body.get("within", 5.0))
    every = float(body.get("every", 0.05))
    until = time.monotonic() + within
    attempts = 0
    while True:
        attempts += 1
        lines, _ = _admin_exchange(rt, actor, command, b"\n", None)
        problem, captures = reply_problem(body["reply"], lines, command, rt)
        if problem is None:
            rt.commit(captures)
            return
        if time.monotonic() + every > until:
            raise StepFailure(
                FailureKind.MISMATCH,
                f"{actor.name}: admin {command.decode('utf-8', 'replace')!r} never satisfied "
                f"the condition within {within:.2f} s ({attempts} polls; last: {problem})",
                expected={"command": command.decode("utf-8", "replace"),
                          "reply": describe(body["reply"], rt.variables)},
                actual=_lines_text(lines), evidence={"polls": attempts})
        time.sleep(every)


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
    raise StepFailure(first.kind, f"none of the {len(body)} alternatives matched; the strict "
                      f"one failed: {first.message}",
                      expected=[{"verdict": b["verdict"], "failed_with": f.message,
                                 "expected": f.expected} for b, f in zip(body, failures,
                                                                          strict=True)],
                      actual=first.actual, evidence=first.evidence)


_SIMPLE: dict[str, Callable[[CaseRuntime, Any], None]] = {
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
}


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
