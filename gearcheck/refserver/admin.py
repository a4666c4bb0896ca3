"""The text admin protocol on the job port: gearmand 1.1.20's commands and formats.

Strategy: a line is split on spaces as gearmand does (runs collapse, a
leading space makes an empty command, one trailing space an empty last word:
``drop function `` forgets the function named ""), the command word is matched
case-insensitively, and each command is a small method that returns the
exact bytes gearmand would send: rows and ``OK <value>`` end in ``\\n``, bare
``OK`` and ``ERR`` in ``\\r\\n``, lists close with ``.``. Only ``cancel job``,
``create function``, ``drop function``, ``maxqueue`` and ``shutdown`` change
anything.

Deliberate differences (docs/refserver-vs-gearmand.md): ``version`` answers
gearcheck's version; ``create function`` keeps the whole name; ``drop
function`` refuses while jobs are queued; ``maxqueue`` on a function that does
not exist yet applies when it is created; ``cancel job`` removes the job at
once; ``shutdown`` and ``shutdown graceful`` exist (gearmand removed them in
1.1.15) unless the server runs with ``--no-admin-shutdown``.

The commands get what they read or change, not the server: the job table,
the broker, the open sessions (as ``AdminSession``: what ``workers`` lists and
where a reply goes), whether ``shutdown`` is allowed, and a way to ask the
server to stop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from typing import Protocol

from . import frames
from .broker import Broker
from .jobs import HIGH, LOW, NORMAL, Function, JobTable
from .version import __version__

_INCOMPLETE = "An incomplete set of arguments was sent to this command "
_LEVEL_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING",
                logging.ERROR: "ERROR", logging.CRITICAL: "CRITICAL"}


def _limit(token: bytes) -> int:
    try:
        value = int(token)
    except ValueError:
        return 0
    return max(value, 0)


class AdminSession(Protocol):
    """A connection as the admin commands see it."""

    fd: int
    peer: str
    client_id: bytes
    abilities: list[tuple[Function, int]]

    def send(self, data: bytes) -> None:
        """Queue the reply for the connection."""


class StopRequest(Protocol):
    def __call__(self, *, graceful: bool = False) -> None:
        """Stop the server (``graceful``: once no job is running)."""


class Admin:
    def __init__(self, table: JobTable, broker: Broker, sessions: Collection[AdminSession], *,
                 allow_shutdown: bool, request_stop: StopRequest) -> None:
        self.table = table
        self.broker = broker
        self.sessions = sessions
        self.allow_shutdown = allow_shutdown
        self.request_stop = request_stop

    def run(self, session: AdminSession, line: bytes) -> None:
        tokens = line.split(b" ")
        if tokens[0]:
            tokens = [t for t in tokens if t]
            if line.endswith(b" ") and not line.endswith(b"  "):
                tokens.append(b"")  # as gearmand: `drop function ` names the function ""
        command = tokens[0].lower()
        method = _COMMANDS.get(command)
        reply = method(self, tokens) if method is not None else None
        if reply is None:
            reply = b"ERR UNKNOWN_COMMAND Unknown+server+command" + tokens[0] + b"\r\n"
        session.send(reply)

    # -- listings ---------------------------------------------------------------
    def status(self, tokens: list[bytes]) -> bytes:
        rows = [b"%s\t%d\t%d\t%d\n" % (f.name, f.total, f.running, f.worker_regs)
                for f in self.table.functions.values()]
        rows.append(b".\n")
        return b"".join(rows)

    def prioritystatus(self, tokens: list[bytes]) -> bytes:
        rows = [b"%s\t%d\t%d\t%d\t%d\n" % (f.name, f.queued[HIGH], f.queued[NORMAL],
                                          f.queued[LOW], f.worker_regs)
                for f in self.table.functions.values()]
        rows.append(b".\n")
        return b"".join(rows)

    def workers(self, tokens: list[bytes]) -> bytes:
        rows = []
        for s in sorted(self.sessions, key=lambda s: s.fd):
            names = b"".join(b" " + func.name.split(b"\0", 1)[0]
                             for func, _t in reversed(s.abilities))
            rows.append(b"%d %s %s :%s\n" % (s.fd, s.peer.encode(), s.client_id, names))
        rows.append(b".\n")
        return b"".join(rows)

    def show(self, tokens: list[bytes]) -> bytes | None:
        words = [t.lower() for t in tokens[1:]]
        if not words:
            return None
        if words == [b"jobs"]:
            rows = [b"%s\t%d\t0\t%d\n" % (self.broker.handle(job), job.retries,
                                           1 if job.background else 0)
                    for job in self.table.jobs.values()]
        elif words == [b"unique", b"jobs"]:
            rows = [job.unique + b"\n" for job in self.table.jobs.values()]
        else:
            return frames.admin_error("UNKNOWN_SHOW_ARGUMENTS")
        rows.append(b".\n")
        return b"".join(rows)

    # -- values --------------------------------------------------------------------
    def version(self, tokens: list[bytes]) -> bytes:
        return frames.admin_value(__version__)

    def getpid(self, tokens: list[bytes]) -> bytes:
        return frames.admin_value(str(os.getpid()))

    def verbose(self, tokens: list[bytes]) -> bytes:
        level = logging.getLogger("gearcheck.refserver").getEffectiveLevel()
        return frames.admin_value(_LEVEL_NAMES.get(level, "ERROR"))

    # -- changes ---------------------------------------------------------------------
    def maxqueue(self, tokens: list[bytes]) -> bytes:
        if len(tokens) < 2:
            return frames.admin_error("INVALID_ARGUMENTS", _INCOMPLETE + "maxqueue")
        numbers = [_limit(t) for t in tokens[2:5]]
        if not numbers:
            limits = [0, 0, 0]
        elif len(numbers) == 1:
            limits = numbers * 3
        elif len(numbers) == 2:
            limits = [numbers[0], numbers[1], 0]
        else:
            limits = numbers
        self.table.set_limits(tokens[1], limits)
        return frames.ADMIN_OK

    def cancel(self, tokens: list[bytes]) -> bytes | None:
        if len(tokens) < 3:
            return None
        if tokens[1].lower() != b"job":
            return frames.admin_error("UNKNOWN_ERROR")
        if self.broker.cancel(tokens[2]):
            return frames.ADMIN_OK
        return frames.admin_error("UNKNOWN_JOB")

    def create(self, tokens: list[bytes]) -> bytes:
        if len(tokens) < 3 or tokens[1].lower() != b"function":
            return frames.admin_error("INVALID_ARGUMENTS", _INCOMPLETE + "create")
        self.table.function(tokens[2])
        return frames.ADMIN_OK

    def drop(self, tokens: list[bytes]) -> bytes:
        if len(tokens) < 3 or tokens[1].lower() != b"function":
            return frames.admin_error("INVALID_ARGUMENTS", _INCOMPLETE + "drop")
        func = self.table.find_function(tokens[2])
        if func is None:
            return b"ERR function not found\r\n"
        if func.worker_regs or func.running:
            return b"ERR there are still connected workers or executing clients\r\n"
        if func.total:
            return b"ERR there are still queued jobs\r\n"
        self.table.drop_function(func)
        return frames.ADMIN_OK

    def shutdown(self, tokens: list[bytes]) -> bytes | None:
        if not self.allow_shutdown:
            return None
        if len(tokens) == 1:
            self.request_stop(graceful=False)
        elif len(tokens) == 2 and tokens[1].lower() == b"graceful":
            self.request_stop(graceful=True)
        else:
            return frames.admin_error("INVALID_ARGUMENTS", _INCOMPLETE + "shutdown")
        return frames.ADMIN_OK


_COMMANDS: dict[bytes, Callable[[Admin, list[bytes]], bytes | None]] = {
    b"status": Admin.status, b"prioritystatus": Admin.prioritystatus,
    b"workers": Admin.workers, b"show": Admin.show, b"version": Admin.version,
    b"getpid": Admin.getpid, b"verbose": Admin.verbose, b"maxqueue": Admin.maxqueue,
    b"cancel": Admin.cancel, b"create": Admin.create, b"drop": Admin.drop,
    b"shutdown": Admin.shutdown,
}
