"""What a run produced, as data: verdicts, case results, transcripts, the run report.

Strategy: plain dataclasses with ``to_dict`` / ``from_dict`` so report.json is
the one serialised form; the JUnit, HTML, Markdown, pcap, matrix, gate and
mutant-score code all start from a ``RunReport`` (in memory or loaded back
from report.json) and never from the engine's internals.

Bump ``SCHEMA_VERSION`` on any incompatible change to the serialised form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SCHEMA_VERSION = "1.2"  # 1.1: transcript entries carry wall, local and peer; 1.2: cleanup

# The transcript notes that mark a connection's life (report.pcap rebuilds the TCP
# handshake and FINs from them): we opened it, the peer opened it (a mirrored case, the
# harness is the server), the case closed it. The peer closing it is a "recv" entry
# with no bytes (the end of the stream).
NOTE_CONNECTED = "connected"
NOTE_ACCEPTED = "accepted"
NOTE_CLOSED = "closed by the case"


def tool_version() -> str:
    """gearcheck's own version, as its package metadata says."""
    try:
        return version("gearcheck")
    except PackageNotFoundError:
        return "unknown (not installed)"


class Verdict(StrEnum):
    PASS = "PASS"
    NON_STRICT = "NON-STRICT"  # a tolerated alternative matched, not the strict expectation
    FAIL = "FAIL"
    UNSUPPORTED = "UNSUPPORTED"  # a required capability is missing, with the probe as evidence
    ERROR = "ERROR"  # the harness or the set-up failed: never counted against the server
    XFAIL = "XFAIL"  # failed, and the baseline expected it to
    XPASS = "XPASS"  # passed, but the baseline expected a failure

    @property
    def is_failure(self) -> bool:
        return self in (Verdict.FAIL, Verdict.XPASS)

    @property
    def is_success(self) -> bool:
        return self in (Verdict.PASS, Verdict.NON_STRICT, Verdict.XFAIL)


class FailureKind(StrEnum):
    MISMATCH = "MISMATCH"  # something arrived, but not what was expected
    TIMEOUT = "TIMEOUT"  # nothing arrived before the deadline plus the grace period
    LATE = "LATE"  # the right answer, after the deadline but within the grace period
    CLOSED = "CLOSED"  # the server closed the connection unexpectedly
    UNEXPECTED = "UNEXPECTED"  # a packet arrived where silence was expected
    PROTOCOL = "PROTOCOL"  # the server sent bytes that are not valid Gearman framing


@dataclass
class TranscriptEntry:
    """One write, one event read, or one note of a case's connections.

    ``raw_hex`` holds exactly the bytes written or read (never a re-encoding); a "recv"
    with no bytes is the peer closing the connection. ``wall`` (schema 1.1) is the
    wall-clock time of the write, or of the socket read that completed the event.
    ``local`` and ``peer`` (1.1) are the socket's real endpoints as "host:port"
    ("[v6]:port"), on the notes that open (``NOTE_CONNECTED``, ``NOTE_ACCEPTED``) and close
    a connection: the actor's writes and reads in between were on that connection (once
    per connection, not per entry). With them a capture can be rebuilt as it was on the
    wire. All three are None in reports written before 1.1.
    """

    t: float  # seconds since the case started
    actor: str  # the connection's name in the scenario ("client", "worker", ...)
    direction: str  # "send", "recv", or "note" (connect, close, timeout, ...)
    summary: dict[str, Any]  # decoded: {"type": "ECHO_RES", "args": {...}} or {"line": "..."}
    raw_hex: str = ""
    wall: float | None = None  # seconds since the epoch
    local: str | None = None  # our end of the connection (on its notes)
    peer: str | None = None  # the other end (likewise)

    def to_dict(self) -> dict[str, Any]:
        # Not asdict: its deep copy of every summary cost seconds on a run with tens of
        # thousands of entries. The summary is shared: transcripts are records, never edited.
        out = {"t": self.t, "actor": self.actor, "direction": self.direction,
               "summary": self.summary, "raw_hex": self.raw_hex}
        if self.wall is not None:
            out["wall"] = self.wall
        if self.local is not None:
            out["local"] = self.local
        if self.peer is not None:
            out["peer"] = self.peer
        return out


@dataclass
class CaseResult:
    case_id: str  # GM-AREA-NNN
    title: str
    area: str
    level: str  # MUST, SHOULD, OBSERVED
    verdict: Verdict
    duration_s: float = 0.0
    source: str = ""
    tags: list[str] = field(default_factory=list)
    file: str = ""
    line: int = 0
    message: str = ""  # one sentence: what happened
    failure_kind: FailureKind | None = None
    failing_step: int | None = None  # index of the step that decided a FAIL/ERROR
    expected: Any = None
    actual: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)  # probe output, baseline reason...
    transcript: list[TranscriptEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(replace(self, transcript=[]))
        d["verdict"] = self.verdict.value
        d["failure_kind"] = self.failure_kind.value if self.failure_kind else None
        d["transcript"] = [e.to_dict() for e in self.transcript]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        d = dict(d)
        d["verdict"] = Verdict(d["verdict"])
        d["failure_kind"] = FailureKind(d["failure_kind"]) if d.get("failure_kind") else None
        d["transcript"] = [TranscriptEntry(**e) for e in d.get("transcript", [])]
        return cls(**d)


@dataclass
class ServerInfo:
    address: str
    name: str = ""  # the implementation's name in fixtures/servers.yaml, or the address
    version: str | None = None  # the admin `version` reply, if any
    capabilities: dict[str, Any] = field(default_factory=dict)  # the probe's profile
    echo_rtt_us: float | None = None


@dataclass
class RunReport:
    server: ServerInfo
    results: list[CaseResult] = field(default_factory=list)
    started_at: str = ""  # ISO 8601, UTC
    finished_at: str = ""
    duration_s: float = 0.0
    tool_version: str = ""
    baseline: str | None = None  # path of the baseline applied, if any
    schema_version: str = SCHEMA_VERSION
    # 1.2: what the clean-up after the cases did, and what the run left on the server
    # (gearcheck.runs.residue); empty in older reports
    cleanup: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for r in self.results:
            out[r.verdict.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "server": asdict(self.server),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "baseline": self.baseline,
            "counts": self.counts(),
            "cleanup": self.cleanup,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunReport:
        major = str(d.get("schema_version", "")).split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise ValueError(f"report schema version {d.get('schema_version')!r} is not "
                             f"compatible with {SCHEMA_VERSION}")
        return cls(
            server=ServerInfo(**d["server"]),
            results=[CaseResult.from_dict(r) for r in d.get("results", [])],
            started_at=d.get("started_at", ""),
            finished_at=d.get("finished_at", ""),
            duration_s=d.get("duration_s", 0.0),
            tool_version=d.get("tool_version", ""),
            baseline=d.get("baseline"),
            schema_version=d["schema_version"],
            cleanup=dict(d.get("cleanup") or {}),
        )
