"""After a case: take back the jobs it left, cancel what cannot be taken, forget its functions.

Strategy: the case's connections are closed first; then, for each server the
case talked to, the clean-up works from what the case's own connections did
there (engine.touched) and only ever touches names of the case's own
namespace (``gc.RUN.CASE`` and ``gc.RUN.CASE.*``: the generated ``${fn}``
names), so cases that run side by side never touch each other's functions or
jobs, and nothing outside the run is touched at all. On one connection:

1. drain: ``CAN_DO`` every function the case submitted to, then grab (the
   grab packet the probe found) and ``WORK_COMPLETE`` until ``NO_JOB``; the
   server also frees jobs whose client went away on the way. Then, when a
   worker of the case went away holding jobs, settle: ``GET_STATUS`` of those
   jobs; while one still runs (the server has not yet handled the worker's
   close: its jobs come back to the queue when it has), wait a little and
   drain again, so no job comes back after its function was dropped (gearmand
   would orphan it);
2. cancel: when the case made jobs a server may hold back (``SUBMIT_JOB_EPOCH``,
   ``SUBMIT_JOB_SCHED``), ``cancel job`` for each handle it was given (a job
   that is already gone answers ``ERR UNKNOWN_JOB``, which is fine);
3. forget: ``CANT_DO``, then ``drop function`` for every function named.
   ``OK`` and ``ERR function not found`` are done. A refusal because of
   workers or running jobs is retried with a short back-off (the server may
   not have handled the case's closed connections yet), draining again; a
   refusal because jobs are queued drains and cancels again.

Admin commands go on the same connection when the server takes admin lines
and packets mixed (probe: ``behaviour:mixed-admin-binary``), else on a second
one. Only the commands the probe found are used; a server without ``drop
function`` keeps the functions, which the run reports once, not per case.
Every read has a deadline and the whole clean-up a budget; it never raises and
never changes the case's verdict: its outcome is a ``Cleanup`` for the evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..protocol import AdminLine, Packet, PacketType, printable
from ..wire import Address, Connection, ConnectionClosed, WireError
from .timing import Timing
from .touched import ServerTouch

T = PacketType
_ASSIGNED = (T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL)
_MAX_JOBS = 100_000  # jobs one drain takes at most
_RETRY_AFTER = (0.01, 0.02, 0.05, 0.1, 0.2)  # seconds between refused drops
_GONE = (b"OK", b"ERR function not found")
_BUSY = b"ERR there are still connected workers or executing clients"
_LONG_NAME = 8000  # longer names go last, each on its own connection (gearmand closes one
_MAX_NAME = 60_000  # on an admin line over 8 KiB; the reference server takes 64 KiB)


@dataclass(frozen=True)
class CleanupAbilities:
    """The commands the server answers, as the probe found them."""

    grab: PacketType | None = T.GRAB_JOB
    get_status: bool = True
    cancel: bool = True
    drop: bool = True
    mixed: bool = True

    @classmethod
    def of(cls, supports: Callable[[str], bool]) -> CleanupAbilities:
        grab: PacketType | None = None
        if supports("packet:GRAB_JOB"):
            grab = T.GRAB_JOB
        elif supports("packet:GRAB_JOB_UNIQ"):
            grab = T.GRAB_JOB_UNIQ
        return cls(grab=grab, get_status=supports("packet:GET_STATUS"),
                   cancel=supports("admin:cancel job"),
                   drop=supports("admin:drop function"),
                   mixed=supports("behaviour:mixed-admin-binary"))


@dataclass
class Cleanup:
    """What the clean-up did on one server."""

    server: str
    drained: int = 0                         # jobs grabbed and completed
    cancelled: int = 0                       # `cancel job` answered OK
    dropped: int = 0                         # functions forgotten (OK)
    kept: list[str] = field(default_factory=list)  # functions the server cannot forget
    left: dict[str, str] = field(default_factory=dict)  # function -> the server's refusal
    skipped: list[str] = field(default_factory=list)  # names no admin line can carry
    error: str | None = None                 # the clean-up could not finish
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"server": self.server, "drained": self.drained,
                               "cancelled": self.cancelled, "dropped": self.dropped,
                               "seconds": round(self.seconds, 4)}
        if self.kept:
            out["kept"] = self.kept
        if self.left:
            out["left"] = self.left
        if self.skipped:
            out["skipped"] = self.skipped
        if self.error:
            out["error"] = self.error
        return out


def _shown(name: bytes) -> str:
    return printable(name[:120]) + (f"... ({len(name)} bytes)" if len(name) > 120 else "")


def owned(names: Iterable[bytes], namespace: bytes) -> list[bytes]:
    """The names of ``namespace``, sorted: ``namespace`` itself, or it followed by anything
    but a letter or digit (``gc.R.GM-A-001.x``, ``gc.R.GM-A-001-...``, ``gc.R.GM-A-001\\0x``;
    never ``gc.R.GM-A-001a``, another case's)."""
    size = len(namespace)
    return sorted(n for n in names if n.startswith(namespace)
                  and (len(n) == size or not n[size:size + 1].isalnum()))


def nameable(name: bytes) -> bool:
    """Whether an admin command line can carry ``name`` (no separator, no line end; not
    empty, which would be no name at all). gearmand ends a name at a NUL; the rest goes
    along anyway, for servers that keep it."""
    return 0 < len(name) <= _MAX_NAME and not any(c in name for c in b" \t\r\n")


def clean_up(address: Address, touch: ServerTouch, *, namespace: str,
             abilities: CleanupAbilities, timing: Timing) -> Cleanup | None:
    """Clean up after one case on one server; None when it touched nothing of its own there."""
    space = namespace.encode()
    functions = owned(touch.functions, space)
    handles = list(touch.handles)
    if not functions and not (handles and touch.deferred and abilities.cancel):
        return None
    started = time.monotonic()
    janitor = _Janitor(address, abilities, timing, started + timing.deadline(3.0))
    result = Cleanup(str(address))
    try:
        janitor.run(functions, owned(touch.submitted, space), handles, touch.deferred,
                    touch.unfinished, result)
    except (OSError, WireError) as exc:
        result.error = str(exc)
    finally:
        janitor.close()
    result.seconds = time.monotonic() - started
    return result


class _Janitor:
    def __init__(self, address: Address, abilities: CleanupAbilities, timing: Timing,
                 budget_end: float) -> None:
        self.address = address
        self.abilities = abilities
        self.read_s = timing.deadline(1.0)
        self.budget_end = budget_end
        self.worker: Connection | None = None
        self.admin_conn: Connection | None = None

    # -- connections ------------------------------------------------------------
    def _open(self) -> Connection:
        return Connection.open(self.address, timeout=self.read_s)

    def binary(self) -> Connection:
        if self.worker is None:
            self.worker = self._open()
        return self.worker

    def admin(self) -> Connection:
        if self.abilities.mixed:
            return self.binary()
        if self.admin_conn is None:
            self.admin_conn = self._open()
        return self.admin_conn

    def close(self) -> None:
        for conn in (self.worker, self.admin_conn):
            if conn is not None:
                conn.close()

    def remaining(self) -> float:
        return max(0.0, min(self.read_s, self.budget_end - time.monotonic()))

    # -- the three steps ----------------------------------------------------------
    def run(self, functions: list[bytes], submitted: list[bytes], handles: list[bytes],
            deferred: bool, unfinished: list[bytes], result: Cleanup) -> None:
        if submitted:
            result.drained += self.drain(submitted)
        if submitted and unfinished and self.abilities.get_status:
            result.drained += self.settle(unfinished, submitted)
        if deferred and self.abilities.cancel:
            result.cancelled += self.cancel(handles)
        if not self.abilities.drop:
            result.kept = [printable(f) for f in functions]
            return
        result.skipped = [_shown(f) for f in functions if not nameable(f)]
        self.forget([f for f in functions if nameable(f) and len(f) <= _LONG_NAME],
                    submitted, handles, result)
        for name in functions:
            if nameable(name) and len(name) > _LONG_NAME:
                self.drop_long(name, result)

    def forget(self, pending: list[bytes], submitted: list[bytes], handles: list[bytes],
               result: Cleanup) -> None:
        """``drop function`` each name; a refusal is retried after a pause, draining (and
        cancelling, when jobs are what stops it) again first."""
        replies: dict[bytes, bytes] = {}
        for pause in (*_RETRY_AFTER, None):
            if not pending:
                return
            replies = self.drop(pending)
            result.dropped += sum(1 for r in replies.values() if r == b"OK")
            pending = [f for f, r in replies.items() if r not in _GONE]
            if not pending or pause is None or time.monotonic() + pause > self.budget_end:
                break
            time.sleep(pause)
            again = [f for f in pending if f in submitted or replies[f] != _BUSY]
            if again:
                result.drained += self.drain(again)
            if handles and self.abilities.cancel and any(replies[f] != _BUSY for f in pending):
                result.cancelled += self.cancel(handles)
        result.left.update((_shown(f), printable(replies.get(f, b"no reply")))
                           for f in pending)

    def drop_long(self, name: bytes, result: Cleanup) -> None:
        """One over-long name on a connection of its own: a server may close it."""
        try:
            with self._open() as conn:
                conn.send_raw(b"drop function " + name + b"\r\n")
                event = conn.recv(self.remaining())
        except ConnectionClosed:
            result.skipped.append(f"{_shown(name)} (the server closed the connection on a "
                                  f"{len(name) + 16}-byte admin line)")
            return
        reply = event.text if isinstance(event, AdminLine) else repr(event).encode()
        if reply == b"OK":
            result.dropped += 1
        elif reply not in _GONE:
            result.left[_shown(name)] = printable(reply)

    def settle(self, handles: list[bytes], submitted: list[bytes]) -> int:
        """Wait until no job of the case is running any more (the server may not have handled
        its closed workers yet: their jobs come back when it has), draining what comes back;
        how many jobs that took. Jobs that stay queued and cannot be taken (due later) end it."""
        taken = 0
        for pause in _RETRY_AFTER:
            states = self.job_states(handles)
            if not any(known for known, _ in states):
                break
            if any(running for _, running in states):
                if time.monotonic() + pause > self.budget_end:
                    break
                time.sleep(pause)
            more = self.drain(submitted)
            taken += more
            if not more and not any(running for _, running in states):
                break
        return taken

    def job_states(self, handles: list[bytes]) -> list[tuple[bool, bool]]:
        """(known, running) of each job, by ``GET_STATUS``."""
        conn = self.binary()
        conn.send_many([Packet.build(T.GET_STATUS, h) for h in handles])
        states: list[tuple[bool, bool]] = []
        while len(states) < len(handles):
            event = conn.recv(self.remaining())
            if isinstance(event, Packet) and event.type is T.STATUS_RES and len(event.args) > 2:
                states.append((event.args[1] == b"1", event.args[2] == b"1"))
        return states

    def drain(self, functions: list[bytes]) -> int:
        """Grab and complete every job of ``functions``; how many were taken."""
        grab = self.abilities.grab
        if grab is None:
            return 0
        conn = self.binary()
        conn.send_many([*(Packet.build(T.CAN_DO, f) for f in functions), Packet.build(grab)])
        taken = 0
        try:
            while taken < _MAX_JOBS:
                event = conn.recv(self.remaining())
                if not isinstance(event, Packet) or event.type in (T.NO_JOB, T.ERROR):
                    break
                if event.type in _ASSIGNED:
                    taken += 1
                    conn.send_many([Packet.build(T.WORK_COMPLETE, event.args[0], b""),
                                    Packet.build(grab)])
        finally:
            conn.send_many([Packet.build(T.CANT_DO, f) for f in functions])
        return taken

    def cancel(self, handles: list[bytes]) -> int:
        replies = self.exchange([b"cancel job " + h for h in handles])
        return sum(1 for r in replies if r == b"OK")

    def drop(self, functions: list[bytes]) -> dict[bytes, bytes]:
        replies = self.exchange([b"drop function " + f for f in functions])
        return dict(zip(functions, replies, strict=False))

    def exchange(self, commands: list[bytes]) -> list[bytes]:
        """Pipelined one-line admin commands; their one-line replies, as many as came."""
        conn = self.admin()
        conn.send_raw(b"".join(c + b"\r\n" for c in commands))
        replies: list[bytes] = []
        while len(replies) < len(commands):
            event = conn.recv(self.remaining())
            if isinstance(event, AdminLine):
                replies.append(event.text)
        return replies
