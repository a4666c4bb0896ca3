"""The text admin protocol: which replies are lists, and parsers for each.

Strategy: an admin reply is either one line (``OK ...``, ``ERR ...``, a bare
value) or a list of rows closed by a line holding a single ``.``. Which one
depends only on the command, so ``reply_is_list`` decides it from the command
text and ``AdminReplyCollector`` gathers lines until the reply is complete (an
``ERR`` line ends a list reply early). The parsers take the collected lines and
return small dataclasses; a row that does not fit raises ``AdminReplyError``
naming the command, the row and what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from ._errors import AdminReplyError

# Commands whose reply is a list ended by ".": gearmand's, plus the Perl
# server's "jobs", "clients" and "gladiator".
_LIST_COMMANDS = {
    ("status",), ("workers",), ("prioritystatus",), ("show", "jobs"),
    ("show", "unique", "jobs"), ("jobs",), ("clients",), ("gladiator",),
}


def command_words(command: str | bytes) -> tuple[str, ...]:
    if isinstance(command, bytes):
        command = command.decode("utf-8", "replace")
    return tuple(w.lower() for w in command.strip().split())


def reply_is_list(command: str | bytes) -> bool:
    words = command_words(command)
    return any(words[: len(prefix)] == prefix and (len(words) == len(prefix) or prefix[0] in
               ("status", "workers", "prioritystatus", "jobs", "clients", "gladiator"))
               for prefix in _LIST_COMMANDS)


def _text(line: bytes | str) -> str:
    return line if isinstance(line, str) else line.decode("utf-8", "replace")


@dataclass
class AdminReplyCollector:
    """Gathers admin lines until the reply to ``command`` is complete."""

    command: str
    lines: list[bytes] = field(default_factory=list)
    done: bool = False

    def __post_init__(self) -> None:
        self._list = reply_is_list(self.command)

    def feed_line(self, line: bytes) -> bool:
        if self.done:
            raise RuntimeError("reply already complete")
        self.lines.append(line)
        if not self._list or line == b"." or (len(self.lines) == 1 and line.startswith(b"ERR")):
            self.done = True
        return self.done

    @property
    def rows(self) -> list[bytes]:
        """The list rows, without the closing "."."""
        if self.lines and self.lines[-1] == b".":
            return self.lines[:-1]
        return list(self.lines)


@dataclass(frozen=True)
class AdminError:
    code: str
    text: str  # URL-decoded

    @classmethod
    def parse(cls, line: bytes | str) -> AdminError | None:
        s = _text(line)
        if not s.startswith("ERR"):
            return None
        parts = s.split(" ", 2)
        code = parts[1] if len(parts) > 1 else ""
        text = unquote_plus(parts[2]) if len(parts) > 2 else ""
        return cls(code, text)


@dataclass(frozen=True)
class FunctionStatus:
    function: str
    total: int
    running: int
    workers: int


@dataclass(frozen=True)
class PriorityStatus:
    function: str
    high: int
    normal: int
    low: int
    workers: int


@dataclass(frozen=True)
class WorkerInfo:
    fd: str
    ip: str
    client_id: str
    functions: tuple[str, ...]


@dataclass(frozen=True)
class JobInfo:
    handle: str
    retries: int
    ignored: bool
    queued: bool


def _rows(command: str, lines: list[bytes] | list[str]) -> list[str]:
    texts = [_text(x) for x in lines]
    if texts and texts[0].startswith("ERR"):
        raise AdminReplyError(f"{command!r} answered with an error: {texts[0]!r}")
    if not texts or texts[-1] != ".":
        raise AdminReplyError(f"{command!r} reply does not end with a '.' line: {texts[-3:]!r}")
    return texts[:-1]


def _tab_row(command: str, row: str, columns: tuple[str, ...]) -> tuple[str, list[int]]:
    """A row of tab-separated columns: the first as text, the rest as numbers."""
    cols = row.split("\t")
    if len(cols) != len(columns):
        raise AdminReplyError(
            f"{command!r} row {row!r} has {len(cols)} tab-separated columns, expected "
            f"{len(columns)} ({', '.join(columns)})")
    numbers = []
    for name, v in zip(columns[1:], cols[1:], strict=True):
        try:
            numbers.append(int(v))
        except ValueError:
            raise AdminReplyError(
                f"{command!r} row {row!r}: column {name} is {v!r}, not a number") from None
    return cols[0], numbers


def parse_status(lines: list[bytes] | list[str]) -> dict[str, FunctionStatus]:
    out: dict[str, FunctionStatus] = {}
    for row in _rows("status", lines):
        function, (total, running, workers) = _tab_row(
            "status", row, ("function", "total", "running", "workers"))
        out[function] = FunctionStatus(function, total, running, workers)
    return out


def parse_priority_status(lines: list[bytes] | list[str]) -> dict[str, PriorityStatus]:
    out: dict[str, PriorityStatus] = {}
    for row in _rows("prioritystatus", lines):
        function, (high, normal, low, workers) = _tab_row(
            "prioritystatus", row, ("function", "high", "normal", "low", "workers"))
        out[function] = PriorityStatus(function, high, normal, low, workers)
    return out


def parse_workers(lines: list[bytes] | list[str]) -> list[WorkerInfo]:
    out = []
    for row in _rows("workers", lines):
        head, sep, funcs = row.partition(" :")
        if not sep:
            raise AdminReplyError(f"'workers' row {row!r} has no ' :' separator")
        parts = head.split(" ", 2)
        if len(parts) != 3:
            raise AdminReplyError(
                f"'workers' row {row!r}: expected 'FD IP CLIENT_ID :', got {len(parts)} field(s)")
        out.append(WorkerInfo(parts[0], parts[1], parts[2], tuple(funcs.split())))
    return out


def parse_show_jobs(lines: list[bytes] | list[str]) -> list[JobInfo]:
    out = []
    for row in _rows("show jobs", lines):
        handle, (retries, ignored, queued) = _tab_row(
            "show jobs", row, ("handle", "retries", "ignored", "queued"))
        out.append(JobInfo(handle, retries, bool(ignored), bool(queued)))
    return out


def parse_show_unique_jobs(lines: list[bytes] | list[str]) -> list[str]:
    return _rows("show unique jobs", lines)


def parse_ok(lines: list[bytes] | list[str], command: str = "command") -> str:
    """The value of a one-line ``OK [value]`` reply ('' for a bare OK)."""
    if len(lines) != 1:
        raise AdminReplyError(f"{command!r} reply has {len(lines)} lines, expected 1")
    line = _text(lines[0])
    if line == "OK":
        return ""
    if line.startswith("OK "):
        return line[3:]
    raise AdminReplyError(f"{command!r} reply {line!r} is not 'OK ...'")


def parse_version(lines: list[bytes] | list[str]) -> str:
    """gearmand answers ``OK 1.1.20+ds``; the Perl server a bare ``v1.130.1``."""
    if len(lines) != 1:
        raise AdminReplyError(f"'version' reply has {len(lines)} lines, expected 1")
    line = _text(lines[0])
    if line.startswith("ERR"):
        raise AdminReplyError(f"'version' answered with an error: {line!r}")
    return line[3:] if line.startswith("OK ") else line


def parse_getpid(lines: list[bytes] | list[str]) -> int:
    value = parse_ok(lines, "getpid")
    try:
        return int(value)
    except ValueError:
        raise AdminReplyError(f"'getpid' reply {value!r} is not a number") from None


VERBOSE_LEVELS = ("FATAL", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")


def parse_verbose(lines: list[bytes] | list[str]) -> str:
    value = parse_ok(lines, "verbose")
    if value not in VERBOSE_LEVELS:
        raise AdminReplyError(f"'verbose' level {value!r} is not one of {VERBOSE_LEVELS}")
    return value


def parse_maxqueue(lines: list[bytes] | list[str]) -> None:
    parse_ok(lines, "maxqueue")
