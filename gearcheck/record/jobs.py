"""A trace as jobs: who submitted what, which handle it got, who ran it and how long.

Strategy: one pass over the records in time order, with the state a server
would keep. A submission waits in its connection's FIFO for JOB_CREATED (or
ERROR), which is how the protocol pairs them; from then on the handle ties
it to the worker side: JOB_ASSIGN* to a worker opens an execution, the
worker's WORK_COMPLETE / WORK_FAIL / WORK_EXCEPTION closes it (service time,
result size, outcome, the WORK_STATUS / WORK_DATA it sent on the way), and
the final packet the server forwards to the submitting connection ends the
foreground submission (latency). A connection is a worker from its first
CAN_DO; its registrations are intervals (CAN_DO .. CANT_DO, RESET_ABILITIES
or the end of the connection), so the number of workers serving a function
at any time is a sweep over them. Nothing here reads bytes off the wire: the
records were decoded by the codec when the trace was made.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..protocol import SUBMIT_MODES, Priority
from .trace import Record, Trace, arg, arg_text, value_length

_PRIORITY_NAMES = {Priority.HIGH: "high", Priority.NORMAL: "normal", Priority.LOW: "low"}
_SUBMITS = {t.name: t for t in SUBMIT_MODES}
_ASSIGNS = {"JOB_ASSIGN", "JOB_ASSIGN_UNIQ", "JOB_ASSIGN_ALL"}
_FINALS = {"WORK_COMPLETE": "complete", "WORK_FAIL": "fail", "WORK_EXCEPTION": "exception"}


@dataclass
class Submission:
    conn: int
    t: float
    type: str
    function: str
    unique: bytes
    size: int
    priority: str
    background: bool
    handle: str | None = None
    created_t: float | None = None
    rejected: bool = False
    result_t: float | None = None
    outcome: str | None = None
    record: Record | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return "bg" if self.background else "fg"

    @property
    def data(self) -> bytes | None:
        """The payload bytes (None when the trace kept only their length)."""
        return arg(self.record, "data") if self.record is not None else None


@dataclass
class Execution:
    conn: int
    handle: str
    function: str
    t: float
    size: int
    done_t: float | None = None
    outcome: str | None = None
    result_size: int = 0
    status_updates: int = 0
    data_chunks: int = 0
    warnings: int = 0

    @property
    def service_time(self) -> float | None:
        return None if self.done_t is None else max(0.0, self.done_t - self.t)


@dataclass
class Registration:
    conn: int
    function: str
    start: float
    end: float | None = None


@dataclass
class Connection:
    conn: int
    opened: float
    closed: float | None = None
    client: str = ""
    submitted: int = 0
    registered: bool = False
    admin_lines: int = 0


@dataclass
class Workload:
    trace: Trace
    submissions: list[Submission] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    connections: dict[int, Connection] = field(default_factory=dict)
    end: float = 0.0
    unmatched_results: int = 0

    def workers_at_most(self, function: str) -> int:
        """The most worker connections that had ``function`` registered at one time."""
        edges: list[tuple[float, int]] = []
        for reg in self.registrations:
            if reg.function == function:
                edges.append((reg.start, 1))
                edges.append((reg.end if reg.end is not None else self.end, -1))
        level = peak = 0
        for _t, step in sorted(edges, key=lambda e: (e[0], e[1])):
            level += step
            peak = max(peak, level)
        return peak


def analyse(trace: Trace) -> Workload:
    work = Workload(trace)
    awaiting_created: dict[int, deque[Submission]] = {}
    fg_waiting: dict[tuple[int, str], deque[Submission]] = {}
    running: dict[tuple[int, str], Execution] = {}
    registered: dict[tuple[int, str], Registration] = {}
    for record in trace.records:
        t = float(record["t"])
        work.end = max(work.end, t)
        conn = int(record["conn"])
        state = work.connections.get(conn)
        if state is None:
            state = work.connections[conn] = Connection(conn, t)
        event = record.get("event")
        if event is not None:
            if event == "open":
                state.client = str(record.get("client", ""))
            elif event == "close":
                state.closed = t
                for key in [k for k in registered if k[0] == conn]:
                    registered.pop(key).end = t
            continue
        if "line" in record:
            state.admin_lines += 1
            continue
        ptype = record.get("type")
        if ptype is None:
            continue
        to_server = record["dir"] == "to_server"
        if to_server:
            _from_peer(work, record, conn, t, state, ptype, awaiting_created, running,
                       registered)
        else:
            _from_server(work, record, conn, t, ptype, awaiting_created, fg_waiting, running)
    for reg in registered.values():
        reg.end = work.end
    return work


def _from_peer(work: Workload, record: Record, conn: int, t: float, state: Connection,
               ptype: str, awaiting_created: dict[int, deque[Submission]],
               running: dict[tuple[int, str], Execution],
               registered: dict[tuple[int, str], Registration]) -> None:
    if ptype in _SUBMITS:
        priority, background = SUBMIT_MODES[_SUBMITS[ptype]]
        sub = Submission(conn, t, ptype, arg_text(record, "function"),
                         arg(record, "unique") or b"", value_length(record["args"]["data"]),
                         _PRIORITY_NAMES[priority], background, record=record)
        work.submissions.append(sub)
        awaiting_created.setdefault(conn, deque()).append(sub)
        state.submitted += 1
    elif ptype in ("CAN_DO", "CAN_DO_TIMEOUT"):
        state.registered = True
        key = (conn, arg_text(record, "function"))
        if key not in registered:
            registered[key] = Registration(conn, key[1], t)
            work.registrations.append(registered[key])
    elif ptype == "CANT_DO":
        reg = registered.pop((conn, arg_text(record, "function")), None)
        if reg is not None:
            reg.end = t
    elif ptype == "RESET_ABILITIES":
        for key in [k for k in registered if k[0] == conn]:
            registered.pop(key).end = t
    elif ptype in _FINALS or ptype in ("WORK_STATUS", "WORK_DATA", "WORK_WARNING"):
        execution = running.get((conn, _handle(record)))
        if execution is None:
            return
        if ptype == "WORK_STATUS":
            execution.status_updates += 1
        elif ptype == "WORK_DATA":
            execution.data_chunks += 1
        elif ptype == "WORK_WARNING":
            execution.warnings += 1
        else:
            execution.done_t = t
            execution.outcome = _FINALS[ptype]
            if "data" in record["args"]:
                execution.result_size = value_length(record["args"]["data"])
            del running[(conn, execution.handle)]


def _from_server(work: Workload, record: Record, conn: int, t: float, ptype: str,
                 awaiting_created: dict[int, deque[Submission]],
                 fg_waiting: dict[tuple[int, str], deque[Submission]],
                 running: dict[tuple[int, str], Execution]) -> None:
    if ptype in ("JOB_CREATED", "ERROR"):
        queue = awaiting_created.get(conn)
        if not queue:
            return
        sub = queue.popleft()
        if ptype == "ERROR":
            sub.rejected = True
            return
        sub.handle = _handle(record)
        sub.created_t = t
        if not sub.background:
            fg_waiting.setdefault((conn, sub.handle), deque()).append(sub)
    elif ptype in _ASSIGNS:
        handle = _handle(record)
        execution = Execution(conn, handle, arg_text(record, "function"), t,
                              value_length(record["args"]["data"]))
        work.executions.append(execution)
        running[(conn, handle)] = execution
    elif ptype in _FINALS:
        waiting = fg_waiting.get((conn, _handle(record)))
        if not waiting:
            work.unmatched_results += 1
            return
        sub = waiting.popleft()
        sub.result_t = t
        sub.outcome = _FINALS[ptype]


def _handle(record: Record) -> str:
    # gearmand forwards a WORK_EXCEPTION as WORK_FAIL with the handle NUL-terminated.
    return arg_text(record, "handle").rstrip("\0")


__all__ = ["Connection", "Execution", "Registration", "Submission", "Workload", "analyse"]
