"""Play one server script against one library's driver, and judge what happened.

Strategy: start a ``Listener``, point the library's driver at it (a client
driver runs in a thread to completion; a worker driver runs in the
background), then walk the script's steps with a deadline each. ``expect``
takes the library's next packet (auto-answering housekeeping a real server
answers, unless the step asks for it), checks its magic is REQ and matches
its arguments, capturing values for later ``${name}`` use; ``send`` and
``assign`` write on the connection the last packet came from. The first
step that does not hold decides a FAIL, with the expected step and the
packet that came instead. Then the driver's own report must show the
``outcome`` rows. Every packet both ways is the case's transcript.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import Any

from ...protocol import AdminLine, Magic, Packet, PacketType, ProtocolError, spec_for
from ...report.model import CaseResult, FailureKind, TranscriptEntry, Verdict
from ...wire import Address
from ..driver import DriverRun, WorkerProcess, b64, run_client, server_field
from ..judge import _describe_row, _matches, _short
from ..registry import Library, missing_feature
from ..scenarios import payload_bytes
from .listener import Listener
from .script import ServerScript

HOUSEKEEPING = {PacketType.OPTION_REQ, PacketType.ECHO_REQ, PacketType.PRE_SLEEP,
                PacketType.SET_CLIENT_ID, PacketType.RESET_ABILITIES}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class StepFailed(Exception):
    def __init__(self, message: str, kind: FailureKind, expected: Any = None,
                 actual: Any = None) -> None:
        super().__init__(message)
        self.kind, self.expected, self.actual = kind, expected, actual


class _Session:
    def __init__(self, listener: Listener, t0: float) -> None:
        self.listener = listener
        self.t0 = t0
        self.vars: dict[str, bytes] = {}
        self.current = 0  # connection the last packet came from
        self.last_grab: PacketType | None = None
        self.transcript: list[TranscriptEntry] = []
        self.protocol_errors: list[str] = []
        self.gave_up: Any = lambda: False  # set by play(): did the driver report or exit?
        self.gave_up_noted = False

    # -- values --------------------------------------------------------------
    def expand(self, value: Any) -> bytes:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value).encode()
        if isinstance(value, str):
            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                if name not in self.vars:
                    raise StepFailed(f"${{{name}}} was never captured", FailureKind.MISMATCH)
                return self.vars[name].decode("latin-1")
            if "${" not in value:
                return value.encode("utf-8")
            return _PLACEHOLDER.sub(sub, value).encode("latin-1")
        return payload_bytes(value)

    def match(self, spec: Any, actual: bytes, captures: dict[str, bytes]) -> bool:
        if spec is None:
            return True
        if not isinstance(spec, dict):
            return actual == self.expand(spec)
        ok = True
        if "equals" in spec:
            ok = actual == self.expand(spec["equals"])
        if ok and "regex" in spec:
            ok = re.fullmatch(spec["regex"].encode(), actual, re.DOTALL) is not None
        if ok and "len" in spec:
            ln = spec["len"]
            if isinstance(ln, int):
                ok = len(actual) == ln
            else:
                ok = ln.get("min", 0) <= len(actual) <= ln.get("max", 1 << 62)
        if ok and "one_of" in spec:
            ok = any(self.match(m, actual, captures) for m in spec["one_of"])
        if ok and "capture" in spec:
            captures[spec["capture"]] = actual
        return ok

    # -- transcript ----------------------------------------------------------
    def note(self, direction: str, cid: int, summary: dict[str, Any], raw: bytes = b"") -> None:
        self.transcript.append(TranscriptEntry(
            t=round(time.monotonic() - self.t0, 6), actor=f"library#{cid}",
            direction=direction, summary=summary, raw_hex=raw[:4096].hex()))

    def send(self, packet: Packet) -> None:
        raw = self.listener.send(self.current, packet)
        self.note("send", self.current, dict(packet.describe()), raw)

    # -- receiving -----------------------------------------------------------
    def next_packet(self, wanted: set[PacketType], noise: set[PacketType],
                    deadline: float) -> tuple[int, Packet]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed("nothing arrived before the deadline", FailureKind.TIMEOUT)
            try:
                cid, event = self.listener.events.get(timeout=left)
            except queue.Empty:
                continue
            if event == "connected":
                self.note("note", cid, {"event": "connected"})
                continue
            if event == "closed":
                self.note("note", cid, {"event": "closed by the library"})
                continue
            if isinstance(event, ProtocolError):
                self.note("note", cid, {"event": "protocol error", "error": str(event)})
                raise StepFailed(f"the library sent bytes that are not Gearman framing: {event}",
                                 FailureKind.PROTOCOL)
            if isinstance(event, AdminLine):
                self.note("recv", cid, {"line": event.text.decode("utf-8", "replace")})
                continue
            assert isinstance(event, Packet)
            self.note("recv", cid, dict(event.describe()), bytes(_raw(event)))
            if event.magic is not Magic.REQ:
                raise StepFailed(f"{event.name} arrived with {event.magic.value!r} magic; a "
                                 "client or worker must send \\0REQ", FailureKind.PROTOCOL,
                                 "REQ", event.magic.value)
            if event.type in wanted:
                return cid, event
            if event.type in noise:
                continue
            if event.type in HOUSEKEEPING:
                self.current = cid
                self._housekeeping(event)
                continue
            raise StepFailed(f"expected {'/'.join(t.name for t in wanted)}, the library sent "
                             f"{event.name} {dict(event.describe()['args'])}",
                             FailureKind.UNEXPECTED, [t.name for t in wanted],
                             dict(event.describe()))

    def _housekeeping(self, packet: Packet) -> None:
        if packet.type is PacketType.OPTION_REQ:
            self.send(Packet.build(PacketType.OPTION_RES, packet.args[0]))
        elif packet.type is PacketType.ECHO_REQ:
            self.send(Packet.build(PacketType.ECHO_RES, packet.args[0]))
        elif packet.type is PacketType.PRE_SLEEP:
            self.send(Packet.build(PacketType.NOOP))

    # -- steps ---------------------------------------------------------------
    def run_step(self, kind: str, body: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if kind == "expect":
            names = body["packet"] if isinstance(body["packet"], list) else [body["packet"]]
            wanted = {PacketType[n] for n in names}
            noise = {PacketType[n] for n in body.get("noise", [])}
            cid, packet = self.next_packet(wanted, noise, deadline)
            self.current = cid
            if packet.type in (PacketType.GRAB_JOB, PacketType.GRAB_JOB_UNIQ,
                               PacketType.GRAB_JOB_ALL):
                self.last_grab = packet.type
            captures: dict[str, bytes] = {}
            args = packet.named_args()
            for name, spec in (body.get("args") or {}).items():
                if name not in args:
                    raise StepFailed(f"{packet.name} has no argument {name!r} (it has "
                                     f"{list(spec_for(packet.type).args)})", FailureKind.MISMATCH)
                if not self.match(spec, args[name], captures):
                    raise StepFailed(
                        f"{packet.name} argument {name}: expected {spec!r}, got "
                        f"{args[name][:80]!r}", FailureKind.MISMATCH, spec,
                        args[name][:200].decode("latin-1"))
            self.vars.update(captures)
            if body.get("save_type"):
                self.vars[body["save_type"]] = packet.name.encode()
        elif kind == "send":
            ptype = PacketType[body["packet"]]
            spec = spec_for(ptype)
            given = body.get("args") or {}
            self.send(Packet(Magic.RES, ptype, tuple(self.expand(given.get(a, ""))
                                                     for a in spec.args)))
        elif kind == "assign":
            grab = self.last_grab or PacketType.GRAB_JOB_UNIQ
            fields = {k: self.expand(v) for k, v in body.items()}
            if grab is PacketType.GRAB_JOB:
                self.send(Packet.build(PacketType.JOB_ASSIGN, fields["handle"],
                                       fields["function"], fields.get("data", b"")))
            else:
                self.send(Packet.build(PacketType.JOB_ASSIGN_UNIQ, fields["handle"],
                                       fields["function"], fields.get("unique", b""),
                                       fields.get("data", b"")))
        elif kind == "close":
            self.note("note", self.current, {"event": "server hangs up"})
            self.listener.hang_up(self.current)
        elif kind == "expect_connection":
            within = float((body or {}).get("within", timeout))
            end = time.monotonic() + within
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise StepFailed(f"the library did not connect again within {within:.1f}s "
                                     "and did not report that it gave up", FailureKind.TIMEOUT)
                if (body or {}).get("or_gives_up") and self.gave_up():
                    self.gave_up_noted = True
                    return
                try:
                    cid, event = self.listener.events.get(timeout=min(left, 0.1))
                except queue.Empty:
                    continue
                if event == "connected":
                    self.note("note", cid, {"event": "connected"})
                    self.current = cid
                    return
                if isinstance(event, Packet) and event.type in HOUSEKEEPING:
                    self.current = cid
                    self._housekeeping(event)
        elif kind == "sleep":
            time.sleep(float(body))


def _raw(packet: Packet) -> bytes:
    from ...protocol import encode
    return encode(packet)


def play(script: ServerScript, lib: Library) -> CaseResult:
    base: dict[str, Any] = dict(case_id=script.id, title=script.title,
                                area=f"library-{script.role}", level=script.level,
                                source=script.source or script.file, file=script.file,
                                tags=[lib.name, script.role])
    why = missing_feature(lib, script.role, script.requires)
    if why:
        return CaseResult(verdict=Verdict.UNSUPPORTED, message=why,
                          evidence={"unsupported": why}, **base)
    listener = Listener()
    start = time.monotonic()
    session = _Session(listener, start)
    order = dict(script.order, server=server_field(Address("127.0.0.1", listener.port)))
    order.setdefault("timeout", script.timeout + 2)
    if "jobs" in order:
        order["jobs"] = [dict(j, payload=b64(payload_bytes(j.get("payload"))))
                         for j in order["jobs"]]
    runs: list[DriverRun] = []
    failure: StepFailed | None = None
    failing_step: int | None = None
    worker: WorkerProcess | None = None
    client_thread: threading.Thread | None = None
    try:
        if script.role == "client":
            def go() -> None:
                runs.append(run_client(lib, order, float(order["timeout"]) + 5))
            client_thread = threading.Thread(target=go, daemon=True)
            client_thread.start()
        else:
            worker = WorkerProcess(lib, order).__enter__()
            session.gave_up = lambda: (not worker.alive()) or bool(worker.run.of("error"))
        for i, step in enumerate(script.steps):
            kind, body = next(iter(step.items()))
            try:
                session.run_step(kind, body, script.timeout)
            except StepFailed as exc:
                failure, failing_step = exc, i
                break
        if client_thread is not None:
            client_thread.join(float(order["timeout"]) + 8)
        else:
            time.sleep(0.5)  # let the worker report what it did with the last packets
    finally:
        if worker is not None:
            worker.__exit__(None, None, None)
            runs.append(worker.run)
        listener.close()
    evidence = {"library": lib.name, "driver": [r.evidence() for r in runs]}
    duration = round(time.monotonic() - start, 3)
    common = dict(duration_s=duration, evidence=evidence, transcript=session.transcript, **base)
    if failure is not None:
        step_text = f"step {failing_step} ({next(iter(script.steps[failing_step]))})"
        return CaseResult(verdict=Verdict.FAIL, message=f"{step_text}: {failure}",
                          failure_kind=failure.kind, failing_step=failing_step,
                          expected=failure.expected, actual=failure.actual, **common)
    if not runs:
        return CaseResult(verdict=Verdict.ERROR, message="the driver did not finish", **common)
    # the driver's own report
    events = runs[0].events
    notes: list[str] = []
    for jid, rows in script.outcome.items():
        job_events = [e for e in events if str(e.get("job")) == jid] if jid != "*" else events
        pos = 0
        for row in rows:
            found = next((k for k in range(pos, len(job_events))
                          if _matches(row, job_events[k], b"")), None)
            if found is None and row.get("tolerate"):
                for alt in row["tolerate"]:
                    found = next((k for k in range(pos, len(job_events))
                                  if job_events[k].get("event") == alt), None)
                    if found is not None:
                        notes.append(f"job {jid}: {alt} instead of {row['event']}")
                        break
            if found is None:
                got = ", ".join(_short(e) for e in job_events[:12]) or "nothing"
                kind = FailureKind.TIMEOUT if any(e.get("event") == "timeout"
                                                  for e in job_events) else FailureKind.MISMATCH
                return CaseResult(verdict=Verdict.FAIL, failure_kind=kind,
                                  message=f"the exchange went as scripted, but the library "
                                          f"reported for job {jid}: {got}; expected "
                                          f"{_describe_row(row, b'')}",
                                  expected=_describe_row(row, b""), actual=got, **common)
            pos = found + 1
    if session.gave_up_noted:
        notes.append("the library did not reconnect; it reported the lost connection instead")
    if notes:
        return CaseResult(verdict=Verdict.NON_STRICT, message="; ".join(notes), **common)
    return CaseResult(verdict=Verdict.PASS, message="the library sent what was expected and "
                      "reported what the server answered", **common)
