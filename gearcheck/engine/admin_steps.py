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

import dataclasses
import time
from typing import Any

from ..protocol import (
    AdminLine,
    AdminReplyCollector,
    Packet,
    command_words,
    printable,
    reply_is_list,
)
from ..results import FailureKind
from ..wire import EndOfStream, WireError
from .actors import Actor, Garbage
from .case_runtime import CaseRuntime
from .differences import Difference, describe_matcher, matcher_text, one_line, quoted
from .matchers import Captures, count_ok, match
from .outcome import StepFailure
from .packets import describe_item
from .values import Variables
from .waits import ended_failure

SHOWN_WHOLE = 12  # a reply of up to this many lines is shown whole in a failure


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


def _rows_of(lines: list[bytes], command: bytes) -> list[tuple[int, bytes]]:
    """The reply's rows with their line numbers (a list reply without its closing ``.``)."""
    rows = list(enumerate(lines))
    if reply_is_list(command.decode("utf-8", "replace")) and lines and lines[-1] == b".":
        return rows[:-1]
    return rows


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
                  rt: CaseRuntime) -> tuple[list[Difference], Captures]:
    """No differences and the captures when the reply satisfies ``spec``, else what differs
    (paths: into ``{"command", "reply"}`` and into ``lines``)."""
    captures: Captures = {}
    sep = rt.variables.expand(spec.get("sep", "\t"))
    rows = _Rows(command, sep, rt)
    if "line" in spec:
        if len(lines) != 1:
            return [Difference(f"{rows.name} reply", "one line", f"{len(lines)} lines",
                               ["reply", "line"], [])], {}
        if not match(spec["line"], lines[0], rt.variables, captures):
            return [Difference(f"{rows.name} reply", matcher_text(spec["line"], rt.variables),
                               quoted(lines[0]), ["reply", "line"], [0])], {}
    numbered = _rows_of(lines, command)
    if "filter" in spec:
        rows.filtered = True
        numbered = [(n, r) for n, r in numbered
                    if match(spec["filter"], r.split(sep)[0], rt.variables, {})]
    plain = [r for _, r in numbered]
    if "count" in spec and not count_ok(spec["count"], len(plain)):
        return [rows.count_difference(spec["count"], len(plain), "count")], {}
    if "rows" in spec:
        if len(spec["rows"]) != len(plain):
            return [rows.count_difference(len(spec["rows"]), len(plain), "rows")], {}
        for i, (s, row) in enumerate(zip(spec["rows"], plain, strict=True)):
            if not _row_matches(s, row, sep, rt, captures):
                return rows.row_differences(s, numbered[i], ["reply", "rows", i]), {}
    if "rows_any_order" in spec:
        if len(spec["rows_any_order"]) != len(plain):
            return [rows.count_difference(len(spec["rows_any_order"]), len(plain),
                                          "rows_any_order")], {}
        if not _assign(list(spec["rows_any_order"]), plain, sep, rt, captures, set()):
            return rows.set_differences(spec["rows_any_order"], numbered, "rows_any_order"), {}
    if "contains" in spec and not _assign(list(spec["contains"]), plain, sep, rt, captures,
                                          set()):
        return rows.set_differences(spec["contains"], numbered, "contains"), {}
    for k, s in enumerate(spec.get("excludes", [])):
        for n, row in numbered:
            if _row_matches(s, row, sep, rt, {}):
                return [Difference(f"{rows.name} row {rows.label(row)}",
                                   f"no row {row_text(s, rt.variables)}", quoted(row),
                                   ["reply", "excludes", k], [n])], {}
    return [], captures


_COLUMNS = {"status": ("FUNCTION", "TOTAL", "RUNNING", "WORKERS"),
            "prioritystatus": ("FUNCTION", "HIGH", "NORMAL", "LOW", "WORKERS"),
            "show jobs": ("HANDLE", "RETRIES", "IGNORED", "QUEUED")}


def row_text(spec: Any, variables: Variables) -> str:
    """A row spec as a phrase: ``["gc.r.GM-A-001" (${fn}), "0", ...]``."""
    if isinstance(spec, list):
        return "[" + ", ".join("..." if c == "..." else matcher_text(c, variables)
                               for c in spec) + "]"
    return matcher_text(spec, variables)


class _Rows:
    """Says how rows of one admin reply differ from their specs."""

    def __init__(self, command: bytes, sep: bytes, rt: CaseRuntime) -> None:
        self.name = printable(command)[:40]
        self.columns = _COLUMNS.get(" ".join(command_words(command)), ())
        self.sep = sep
        self.rt = rt
        self.filtered = False

    def label(self, row: bytes) -> str:
        return quoted(row.split(self.sep)[0])

    def count_difference(self, wanted: Any, got: int, key: str) -> Difference:
        which = " passing the filter" if self.filtered else ""
        wanted_text = (str(wanted) if isinstance(wanted, int) else
                       f"{wanted.get('min', 0)}..{wanted.get('max', 'any')}")
        order = " in order" if key == "rows" else ""
        return Difference(f"{self.name} rows{which}", f"{wanted_text}{order}", str(got),
                          ["reply", key], [])

    def row_differences(self, spec: Any, numbered: tuple[int, bytes], path: list[Any],
                        ) -> list[Difference]:
        n, row = numbered
        variables = self.rt.variables
        where = f"{self.name} row {self.label(row)}"
        if not isinstance(spec, list):
            return [Difference(where, matcher_text(spec, variables), quoted(row), path, [n])]
        cols = row.split(self.sep)
        prefix = bool(spec) and spec[-1] == "..."
        specs = spec[:-1] if prefix else spec
        if len(cols) < len(specs) or (not prefix and len(cols) != len(specs)):
            return [Difference(f"{where} columns", f"{len(specs)}{' or more' if prefix else ''}",
                               f"{len(cols)}: {quoted(row)}", path, [n])]
        out = []
        for j, (s, c) in enumerate(zip(specs, cols, strict=False)):
            if not match(s, c, variables, {}):
                column = self.columns[j] if j < len(self.columns) else f"column {j + 1}"
                out.append(Difference(f"{where} {column}", matcher_text(s, variables),
                                      quoted(c), [*path, j], [n, j]))
        return out or [Difference(where, row_text(spec, variables), quoted(row), path, [n])]

    def nearest(self, spec: Any, numbered: list[tuple[int, bytes]]) -> tuple[int, bytes] | None:
        """The row most like ``spec``: its first column matching first, then most columns."""
        def score(item: tuple[int, bytes]) -> tuple[int, int]:
            cols = item[1].split(self.sep)
            specs = spec if isinstance(spec, list) else [spec]
            hits = [s == "..." or (j < len(cols) and match(s, cols[j], self.rt.variables, {}))
                    for j, s in enumerate(specs)]
            return (int(bool(hits) and hits[0]), sum(hits))
        return max(numbered, key=score, default=None)

    def set_differences(self, specs: list[Any], numbered: list[tuple[int, bytes]], key: str,
                        ) -> list[Difference]:
        """Which expected row has no row, and how the nearest row differs from it."""
        variables = self.rt.variables
        out: list[Difference] = []
        for k, spec in enumerate(specs):
            if any(_row_matches(spec, r, self.sep, self.rt, {}) for _, r in numbered):
                continue
            path: list[Any] = ["reply", key, k]
            near = self.nearest(spec, numbered)
            if near is None:
                which = " passing the filter" if self.filtered else ""
                out.append(Difference(self.name, f"a row {row_text(spec, variables)}",
                                      f"no rows{which}", path, []))
            else:
                out += self.row_differences(spec, near, path)
        return out or [Difference(f"{self.name} rows", "a row of its own for each of "
                                  + "; ".join(row_text(s, variables) for s in specs),
                                  "rows that match only some of them at once",
                                  ["reply", key], [])]


def describe_reply(spec: dict[str, Any], variables: Variables) -> dict[str, Any]:
    """A reply spec for a result's ``expected``: every matcher described."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("line", "filter"):
            out[key] = describe_matcher(value, variables)
        elif key in ("rows", "rows_any_order", "contains", "excludes"):
            out[key] = [[c if c == "..." else describe_matcher(c, variables) for c in row]
                        if isinstance(row, list) else describe_matcher(row, variables)
                        for row in value]
        else:
            out[key] = value
    return out


def shown_reply(lines: list[bytes], differences: list[Difference], spec: dict[str, Any],
                rt: CaseRuntime) -> tuple[list[Any], list[Difference], bool]:
    """The reply as a failure shows it: each row as its columns (a one-line reply and the
    closing ``.`` as text); of a long reply only the rows of the case's own functions and
    jobs (and the rows the differences point at), the others counted; the differences'
    paths into it; and whether rows were left out (the whole reply then goes in the
    evidence)."""
    sep = rt.variables.expand(spec.get("sep", "\t"))

    def row(line: bytes) -> Any:
        return [printable(c) for c in line.split(sep)] if sep and sep in line \
            else printable(line)

    if len(lines) <= SHOWN_WHOLE:
        return [row(line) for line in lines], differences, False
    own = _own_markers(rt)
    pointed = {d.actual_path[0] for d in differences if d.actual_path}
    keep: list[int] = []
    for n, line in enumerate(lines):
        first = line.split(sep)[0]
        if n in pointed or line == b"." or any(m in line for m in own) \
                or ("filter" in spec and match(spec["filter"], first, rt.variables, {})):
            keep.append(n)
    hidden = len(lines) - len(keep)
    if not hidden:
        return [row(line) for line in lines], differences, False
    position = {n: i for i, n in enumerate(keep)}
    shown: list[Any] = [row(lines[n]) for n in keep]
    shown.insert(len(shown) - (lines[-1] == b"." and keep[-1] == len(lines) - 1),
                 f"... {hidden} row(s) of other functions not shown (the whole reply: "
                 f"evidence 'reply')")
    moved = [dataclasses.replace(d, actual_path=[position[d.actual_path[0]],
                                                 *d.actual_path[1:]])
             if d.actual_path and d.actual_path[0] in position else d for d in differences]
    return shown, moved, True


def _own_markers(rt: CaseRuntime) -> list[bytes]:
    """Bytes that mark a row as the case's: its names, and the handles it was given."""
    markers = [rt.variables.function().encode(), rt.variables.unique().encode()]
    for touch in rt.touched.servers.values():
        markers += [h for h in touch.handles if h]
    return markers


def _mismatch(actor: Actor, command: bytes, lines: list[bytes], differences: list[Difference],
              spec: dict[str, Any], rt: CaseRuntime, expected: dict[str, Any], lead: str,
              evidence: dict[str, Any] | None = None) -> StepFailure:
    shown, differences, cut = shown_reply(lines, differences, spec, rt)
    extra: dict[str, Any] = {**(evidence or {}),
                             "differences": [d.to_dict() for d in differences]}
    if cut:
        extra["reply"] = [printable(line) for line in lines]
    return StepFailure(FailureKind.MISMATCH, f"{actor.name}: {lead}{one_line(differences)}",
                       expected=expected, actual=shown, evidence=extra)


def step_admin(rt: CaseRuntime, body: dict[str, Any]) -> None:
    actor = rt.actor(body["on"])
    command = rt.variables.expand(body["command"])
    eol = body.get("eol", "\n").encode()
    lines, lateness = admin_exchange(rt, actor, command, eol, body.get("timeout"))
    spec = body.get("reply")
    if spec is None:
        return
    differences, captures = reply_problem(spec, lines, command, rt)
    expected = {"command": command.decode("utf-8", "replace"),
                "reply": describe_reply(spec, rt.variables)}
    if differences:
        raise _mismatch(actor, command, lines, differences, spec, rt, expected, "")
    rt.commit(captures)
    if lateness is not None:
        seconds = rt.timing.deadline(body.get("timeout", rt.case_timeout))
        shown, _, cut = shown_reply(lines, [], spec, rt)
        raise StepFailure(FailureKind.LATE, f"{actor.name}: the admin reply came "
                          f"{lateness * 1000:.0f} ms after the {seconds:.2f} s deadline",
                          expected=expected, actual=shown,
                          evidence={"late_by_s": round(lateness, 4),
                                    **({"reply": [printable(x) for x in lines]} if cut else {})})


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
        differences, captures = reply_problem(body["reply"], lines, command, rt)
        if not differences:
            rt.commit(captures)
            return
        if time.monotonic() + every > until:
            raise _mismatch(actor, command, lines, differences, body["reply"], rt,
                            {"command": command.decode("utf-8", "replace"),
                             "reply": describe_reply(body["reply"], rt.variables)},
                            f"{command.decode('utf-8', 'replace')!r} never satisfied the "
                            f"condition within {within:.2f} s ({attempts} polls); the last "
                            f"reply: ", {"polls": attempts})
        time.sleep(every)
