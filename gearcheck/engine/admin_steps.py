"""The admin steps: one text command, its reply judged row by row; polling until it holds.

Strategy: ``admin_exchange`` writes one command line and collects the reply
with the codec's ``AdminReplyCollector`` (which knows which commands answer
with a list ending in ``.``), under the same deadline and grace as any wait;
a binary packet, the end of the stream or garbage in place of the reply fail
the step. ``reply_problem`` judges the collected lines against the step's
``reply`` spec (one ``line``; ``rows`` in order; ``rows_any_order``; rows it
``contains``; rows it ``excludes``; a ``count``; all after an optional
``filter`` on the first column) and returns either what is wrong or the
captures, never both: rows are split on ``sep`` and each column goes through
the matchers, a trailing ``...`` allowing more columns; the any-order forms
give each spec a distinct row by backtracking. ``wait_until`` repeats the
exchange until the reply satisfies its spec or its time is up.
"""

from __future__ import annotations

import time
from typing import Any

from ..protocol import AdminLine, AdminReplyCollector, Packet, printable, reply_is_list
from ..results import FailureKind
from ..wire import EndOfStream, WireError
from .actors import Actor, Garbage
from .case_runtime import CaseRuntime
from .matchers import Captures, count_ok, describe, match
from .outcome import StepFailure
from .packets import describe_item
from .waits import ended_failure


def admin_exchange(rt: CaseRuntime, actor: Actor, command: bytes, eol: bytes,
                    requested: float | None) -> tuple[list[bytes], float | None]:
    """Send one admin line; return its reply lines and how late the reply was (or None)."""
    try:
        actor.send_bytes(command + eol, AdminLine(command))
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
        if isinstance(item, (EndOfStream, Garbage)):
            raise ended_failure(item, actor, expected)
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
    return [printable(line) for line in lines]


def step_admin(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    command = rt.variables.expand(body["command"])
    eol = body.get("eol", "\n").encode()
    lines, lateness = admin_exchange(rt, actor, command, eol, body.get("timeout"))
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
        lines, _ = admin_exchange(rt, actor, command, b"\n", None)
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
