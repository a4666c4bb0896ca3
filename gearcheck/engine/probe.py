"""The capability profile of a server, measured once at the start of a run.

Strategy: safe probes on scratch connections, each bounded by a short
deadline, using a function name unique to the run so nothing another case
does is touched, and cleaning up after itself (every probe job is grabbed and
completed, and its functions are dropped where the server can: engine.cleanup).
Each capability gets ``{"supported": bool, "evidence": str}``; cases name what
they need in ``requires`` and are UNSUPPORTED with this
evidence when the profile says no.

Capability names:
  packet:<TYPE>        the server handles this request type (it answered with
                       the defined reply, or, for types without a reply,
                       accepted it without an ERROR)
  admin:<command>      the admin command is answered (anything but "unknown command")
  behaviour:coalescing           same (FUNC, UNIQ) twice gives one handle
  behaviour:mixed-admin-binary   admin lines and binary packets on one connection
  behaviour:exceptions-forwarded WORK_EXCEPTION reaches a client that asked for it
  tls:on, tls:client-cert        the run speaks TLS / presents a client certificate
                                 (engine.tls_checks; from the run's settings, not probed)

The ECHO round trip (median of several) is measured first; it scales every
deadline of the run. A probe that kills the server is its own finding, not a
reason to mark every later packet unsupported: after a stage in which the
server closed a connection, the probe waits for a managed server to come back
(targets.crash_watch restarts it) before the next stage. Opening a probe
connection has its own, longer deadline (wire.CONNECT_DEADLINE_S): the admin
commands are probed on several connections at once, and a server with a short
listen backlog (gear.Server listens with a backlog of 1) drops the SYNs that do
not fit; the kernel sends them again after 1 s and 3 s. A connection that was
merely slow to be accepted is no evidence about the command it was to carry, and
with the reply deadline (0.5 s) which commands lost that race changed from run
to run.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..protocol import AdminLine, AdminReplyError, Packet, PacketType, parse_status, parse_version
from ..wire import (
    CONNECT_DEADLINE_S,
    Address,
    Connection,
    ConnectionClosed,
    ReceiveTimeout,
    WireError,
)
from . import tls_checks
from .cleanup import CleanupAbilities, clean_up
from .restarts import WAIT_S, listening, open_riding_restarts
from .timing import Timing
from .touched import ServerTouch

T = PacketType
NO_REPLY_TYPES = (T.CAN_DO, T.CANT_DO, T.RESET_ABILITIES, T.PRE_SLEEP, T.SET_CLIENT_ID,
                  T.CAN_DO_TIMEOUT)
SUBMIT_PROBES = (T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG,
                 T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB,
                 T.SUBMIT_REDUCE_JOB_BACKGROUND, T.SUBMIT_JOB_SCHED)
WORK_TYPES = (T.WORK_DATA, T.WORK_WARNING, T.WORK_STATUS, T.WORK_COMPLETE, T.WORK_FAIL,
              T.WORK_EXCEPTION)
ADMIN_COMMANDS = ("status", "workers", "prioritystatus", "version", "verbose", "getpid",
                  "show jobs", "show unique jobs", "maxqueue", "cancel job", "create function",
                  "drop function", "jobs", "clients", "gladiator")
BEHAVIOURS = ("coalescing", "mixed-admin-binary", "exceptions-forwarded")

SETTLE_AFTER_CLOSE_S = 0.5  # a crashing server's listener can outlive the crash briefly

KNOWN_CAPABILITIES: frozenset[str] = frozenset(
    [f"packet:{t.name}" for t in (*NO_REPLY_TYPES, *SUBMIT_PROBES, *WORK_TYPES, T.ECHO_REQ,
                                  T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL, T.GET_STATUS,
                                  T.GET_STATUS_UNIQUE, T.OPTION_REQ, T.ALL_YOURS)]
    + [f"admin:{c}" for c in ADMIN_COMMANDS] + [f"behaviour:{b}" for b in BEHAVIOURS]
    + list(tls_checks.CAPABILITIES))


class ProbeError(Exception):
    """The server could not be probed at all (not reachable, no ECHO and no admin)."""


@dataclass
class CapabilityProfile:
    address: str
    rtt_s: float
    version: str | None
    capabilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration_s: float = 0.0

    def supports(self, name: str) -> bool:
        return bool(self.capabilities.get(name, {}).get("supported"))

    def evidence(self, name: str) -> str:
        cap = self.capabilities.get(name)
        return cap["evidence"] if cap else "not probed"

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "rtt_s": self.rtt_s, "version": self.version,
                "capabilities": self.capabilities, "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CapabilityProfile:
        return cls(d["address"], d["rtt_s"], d.get("version"), d.get("capabilities", {}),
                   d.get("duration_s", 0.0))


def _describe(event: object) -> str:
    if isinstance(event, Packet):
        if event.type == T.ERROR:
            return f"ERROR {event.args[0]!r} {event.args[1]!r}"
        return event.name
    if isinstance(event, AdminLine):
        return f"line {event.text[:60]!r}"
    return repr(event)


class _Prober:
    def __init__(self, address: Address, run_id: str, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.fn = f"gc.{run_id}.probe"
        self.caps: dict[str, dict[str, Any]] = {}

    def record(self, name: str, supported: bool, evidence: str) -> None:
        self.caps[name] = {"supported": supported, "evidence": evidence}

    def closed_count(self) -> int:
        """How many probes so far ended with the server closing or refusing the connection."""
        return sum(1 for c in self.caps.values()
                   if "closed the connection" in c["evidence"]
                   or "connection failed" in c["evidence"])

    def open(self) -> Connection:
        # a probe that killed the server must not make every later probe "unsupported"
        # while the harness restarts it (engine.restarts); a slow accept is waited for too
        return open_riding_restarts(self.address, timeout=self.timeout,
                                    connect_timeout=max(CONNECT_DEADLINE_S, self.timeout))

    def ask(self, conn: Connection, packet: Packet, want: tuple[PacketType, ...],
            ) -> tuple[Packet | None, str]:
        """Send, then read until a packet of a wanted type, an ERROR, silence or close."""
        try:
            conn.send(packet)
            while True:
                event = conn.recv(self.timeout)
                if isinstance(event, Packet) and event.type in want:
                    return event, f"{packet.name} -> {event.name}"
                if isinstance(event, Packet) and event.type == T.NOOP:
                    continue
                return None, f"{packet.name} -> {_describe(event)}"
        except ReceiveTimeout:
            return None, f"{packet.name} -> no reply within {self.timeout:.2f} s"
        except (ConnectionClosed, WireError, OSError) as exc:
            return None, f"{packet.name} -> connection closed ({exc})"
        except Exception as exc:  # garbage from the server
            return None, f"{packet.name} -> unreadable reply ({exc})"

    # -- the probes --------------------------------------------------------------
    def echo_rtt(self) -> float:
        samples = []
        try:
            with self.open() as conn:
                for _ in range(7):
                    samples.append(conn.echo(b"gearcheck-probe", timeout=self.timeout * 4))
        except (OSError, WireError) as exc:
            self.record("packet:ECHO_REQ", False, f"ECHO_REQ -> {exc}")
            return 0.0
        rtt = statistics.median(samples)
        self.record("packet:ECHO_REQ", True, f"ECHO_RES, median round trip {rtt * 1e6:.0f} us")
        return rtt

    def fence(self, conn: Connection) -> str | None:
        """After a no-reply packet: None if nothing objected, else what came instead."""
        if self.caps.get("packet:ECHO_REQ", {}).get("supported"):
            reply, note = self.ask(conn, Packet.build(T.ECHO_REQ, b"fence"), (T.ECHO_RES,))
            return None if reply is not None else note
        try:
            event = conn.recv(self.timeout)
        except ReceiveTimeout:
            return None
        except (WireError, OSError) as exc:
            return f"connection closed ({exc})"
        return _describe(event)

    def no_reply_packets(self) -> None:
        args = {T.CAN_DO: (self.fn,), T.CANT_DO: (self.fn,), T.RESET_ABILITIES: (),
                T.PRE_SLEEP: (), T.SET_CLIENT_ID: ("gearcheck-probe",),
                T.CAN_DO_TIMEOUT: (self.fn, "60000")}
        for ptype in NO_REPLY_TYPES:
            try:
                with self.open() as conn:
                    if ptype == T.CANT_DO:  # withdraw what this connection registered
                        conn.send(Packet.build(T.CAN_DO, self.fn))
                    conn.send(Packet.build(ptype, *args[ptype]))
                    objection = self.fence(conn)
            except (OSError, WireError) as exc:
                objection = f"connection failed ({exc})"
            self.record(f"packet:{ptype.name}", objection is None,
                        f"{ptype.name} accepted without a reply" if objection is None
                        else f"{ptype.name} -> {objection}")

    def simple_requests(self) -> None:
        probes = [
            (Packet.build(T.GET_STATUS, b"H:gearcheck:none"), (T.STATUS_RES,)),
            (Packet.build(T.GET_STATUS_UNIQUE, f"{self.fn}.none"), (T.STATUS_RES_UNIQUE,)),
            (Packet.build(T.OPTION_REQ, b"exceptions"), (T.OPTION_RES,)),
            (Packet.build(T.ALL_YOURS), (T.NOOP, T.NO_JOB)),
            (Packet.build(T.GRAB_JOB), (T.NO_JOB, T.JOB_ASSIGN)),
            (Packet.build(T.GRAB_JOB_UNIQ), (T.NO_JOB, T.JOB_ASSIGN_UNIQ)),
            (Packet.build(T.GRAB_JOB_ALL), (T.NO_JOB, T.JOB_ASSIGN_ALL, T.JOB_ASSIGN_UNIQ)),
        ]
        for packet, want in probes:
            try:
                with self.open() as conn:
                    if packet.type in (T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL):
                        conn.send(Packet.build(T.CAN_DO, self.fn + ".idle"))
                    reply, note = self.ask(conn, packet, want)
            except (OSError, WireError) as exc:
                reply, note = None, f"{packet.name} -> connection failed ({exc})"
            self.record(f"packet:{packet.name}", reply is not None, note)

    def _grab(self, worker: Connection, reduce: bool) -> Packet | None:
        if reduce and self.caps.get("packet:GRAB_JOB_ALL", {}).get("supported"):
            grab = T.GRAB_JOB_ALL
        elif self.caps.get("packet:GRAB_JOB_UNIQ", {}).get("supported") and not \
                self.caps.get("packet:GRAB_JOB", {}).get("supported"):
            grab = T.GRAB_JOB_UNIQ
        else:
            grab = T.GRAB_JOB
        reply, _ = self.ask(worker, Packet.build(grab),
                            (T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL, T.NO_JOB))
        return reply if reply is not None and reply.type != T.NO_JOB else None

    def submissions(self) -> None:
        epoch = str(int(time.time()) - 5)
        try:
            client, worker = self.open(), self.open()
        except (OSError, WireError) as exc:
            for ptype in SUBMIT_PROBES + WORK_TYPES:
                self.record(f"packet:{ptype.name}", False, f"connection failed ({exc})")
            return
        with client, worker:
            worker.send(Packet.build(T.CAN_DO, self.fn))
            options_ok = self.caps.get("packet:OPTION_REQ", {}).get("supported")
            if options_ok:
                self.ask(client, Packet.build(T.OPTION_REQ, b"exceptions"), (T.OPTION_RES,))
            for ptype in SUBMIT_PROBES:
                if ptype == T.SUBMIT_JOB_SCHED:
                    packet = Packet.build(ptype, self.fn, "", "*", "*", "*", "*", "*", "x")
                elif ptype == T.SUBMIT_JOB_EPOCH:
                    packet = Packet.build(ptype, self.fn, "", epoch, "x")
                elif ptype in (T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND):
                    packet = Packet.build(ptype, self.fn, "", self.fn + ".reducer", "", "x")
                else:
                    packet = Packet.build(ptype, self.fn, "", "x")
                created, note = self.ask(client, packet, (T.JOB_CREATED,))
                self.record(f"packet:{ptype.name}", created is not None, note)
                if created is None:
                    continue
                job = self._grab(worker, reduce="REDUCE" in ptype.name)
                if job is None:
                    continue
                handle = job.args[0]
                foreground = ptype in (T.SUBMIT_JOB, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW,
                                       T.SUBMIT_REDUCE_JOB)
                if ptype == T.SUBMIT_JOB:
                    for wt, extra in ((T.WORK_DATA, (b"d",)), (T.WORK_WARNING, (b"w",)),
                                      (T.WORK_STATUS, (b"1", b"2"))):
                        worker.send(Packet.build(wt, handle, *extra))
                        got, note = self.ask_forwarded(client, wt)
                        self.record(f"packet:{wt.name}", got, note)
                finish = {T.SUBMIT_JOB_HIGH: (T.WORK_FAIL, ()),
                          T.SUBMIT_JOB_LOW: (T.WORK_EXCEPTION, (b"boom",))}.get(
                              ptype, (T.WORK_COMPLETE, (b"done",)))
                worker.send(Packet.build(finish[0], handle, *finish[1]))
                if foreground:
                    got, note = self.ask_forwarded(client, finish[0])
                    if finish[0] == T.WORK_EXCEPTION:
                        self.record("behaviour:exceptions-forwarded", got and bool(options_ok),
                                    note)
                        got = got or "WORK_FAIL" in note
                    self.record(f"packet:{finish[0].name}", got, note)
            self.coalescing(client, worker)

    def ask_forwarded(self, client: Connection, wt: PacketType) -> tuple[bool, str]:
        try:
            while True:
                event = client.recv(self.timeout)
                if isinstance(event, Packet) and event.type == wt:
                    return True, f"{wt.name} forwarded to the client"
                if isinstance(event, Packet) and event.type == T.NOOP:
                    continue
                return False, f"{wt.name}: the client got {_describe(event)}"
        except (ReceiveTimeout, WireError, OSError) as exc:
            return False, f"{wt.name}: nothing forwarded ({exc})"

    def coalescing(self, client: Connection, worker: Connection) -> None:
        unique = f"{self.fn}.coalesce"
        a, note_a = self.ask(client, Packet.build(T.SUBMIT_JOB_BG, self.fn, unique, "x"),
                             (T.JOB_CREATED,))
        b, note_b = self.ask(client, Packet.build(T.SUBMIT_JOB_BG, self.fn, unique, "x"),
                             (T.JOB_CREATED,))
        same = a is not None and b is not None and a.args == b.args
        self.record("behaviour:coalescing", same,
                    f"two SUBMIT_JOB_BG with one unique -> "
                    f"{'one handle' if same else f'{note_a}; {note_b}'}")
        for _ in range(2):
            job = self._grab(worker, reduce=False)
            if job is None:
                break
            worker.send(Packet.build(T.WORK_COMPLETE, job.args[0], b""))

    def mixed(self) -> None:
        try:
            with self.open() as conn:
                conn.send_raw(b"version\n" + _echo_bytes())
                first = conn.recv(self.timeout)
                second = conn.recv(self.timeout)
            ok = isinstance(first, AdminLine) and isinstance(second, Packet) \
                and second.type == T.ECHO_RES
            self.record("behaviour:mixed-admin-binary", ok,
                        f"'version' + ECHO_REQ in one write -> {_describe(first)}, "
                        f"{_describe(second)}")
        except (ReceiveTimeout, WireError, OSError) as exc:
            self.record("behaviour:mixed-admin-binary", False,
                        f"'version' + ECHO_REQ in one write -> {exc}")

    def admin_one(self, command: str) -> tuple[str, bool, str]:
        line = {"maxqueue": f"maxqueue {self.fn}", "cancel job": "cancel job H:gearcheck:none",
                "create function": f"create function {self.fn}.created",
                "drop function": f"drop function {self.fn}.created"}.get(command, command)
        try:
            with self.open() as conn:
                if command == "drop function":
                    conn.admin(f"create function {self.fn}.created", timeout=self.timeout)
                lines = conn.admin(line, timeout=self.timeout)
        except ReceiveTimeout:
            return command, False, f"{line!r} -> no reply within {self.timeout:.2f} s"
        except (WireError, OSError) as exc:
            return command, False, f"{line!r} -> {exc}"
        except Exception as exc:
            return command, False, f"{line!r} -> unreadable reply ({exc})"
        first = lines[0] if lines else b""
        unknown = first.upper().startswith(b"ERR UNKNOWN_COMMAND") or \
            first.startswith(b"Error:")
        shown = [x.decode("utf-8", "replace") for x in lines[:3]]
        return command, not unknown, f"{line!r} -> {shown}{' ...' if len(lines) > 3 else ''}"

    def clean_up(self, rtt: float) -> None:
        """Forget the probe's functions (engine.cleanup; its jobs were all taken already)."""
        fn = self.fn.encode()
        touch = ServerTouch(functions={fn, fn + b".idle", fn + b".reducer", fn + b".created",
                                       fn + b".create"},  # gearmand drops the last letter
                            submitted={fn})
        clean_up(self.address, touch, namespace=self.fn,
                 abilities=CleanupAbilities.of(lambda c: bool(self.caps[c]["supported"])),
                 timing=Timing(rtt_s=rtt or 0.001, default_timeout_s=self.timeout))

    def require_gearman_admin(self) -> None:
        """Without ECHO, the admin ``status`` reply must at least parse as Gearman's."""
        try:
            with self.open() as conn:
                parse_status(conn.admin("status", timeout=self.timeout))
        except (AdminReplyError, WireError, OSError) as exc:
            raise ProbeError(
                f"{self.address} does not answer like a Gearman server: no ECHO_RES to "
                f"ECHO_REQ, and its reply to the admin command 'status' is not a status "
                f"listing ({exc}); check the host and port") from None

    def admin(self) -> str | None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(self.admin_one, ADMIN_COMMANDS))
        version = None
        for command, ok, evidence in results:
            self.record(f"admin:{command}", ok, evidence)
        if self.caps["admin:version"]["supported"]:
            try:
                with self.open() as conn:
                    version = parse_version(conn.admin("version", timeout=self.timeout))
            except Exception:
                version = None
        return version


def _echo_bytes() -> bytes:
    from ..protocol import encode

    return encode(Packet.build(T.ECHO_REQ, b"mixed"))


def probe_server(address: Address, run_id: str, timeout: float = 0.5) -> CapabilityProfile:
    """Probe ``address``; ProbeError if it cannot be reached at all."""
    started = time.monotonic()
    try:
        Connection.open(address, timeout=timeout * 4).close()
    except (OSError, WireError) as exc:
        raise ProbeError(f"cannot reach a Gearman server at {address}: {exc}") from None
    prober = _Prober(address, run_id, timeout)
    rtt = prober.echo_rtt()
    if rtt:
        prober.timeout = max(timeout, 50 * rtt)
    version = prober.admin()
    if not rtt and not any(c["supported"] for c in prober.caps.values()):
        raise ProbeError(f"the server at {address} answers neither ECHO_REQ nor any admin "
                         f"command: {prober.caps['packet:ECHO_REQ']['evidence']}")
    if not rtt:
        prober.require_gearman_admin()
    for stage in (prober.no_reply_packets, prober.simple_requests, prober.submissions,
                  prober.mixed):
        closed_before = prober.closed_count()
        stage()
        if prober.closed_count() > closed_before:
            # a probe may have killed the server: let a managed one restart (engine.restarts)
            # before the next stage, so its packets are not all marked unsupported
            time.sleep(SETTLE_AFTER_CLOSE_S)
            listening(address, WAIT_S)
    prober.caps.update(tls_checks.capabilities())
    for name in KNOWN_CAPABILITIES:
        prober.caps.setdefault(name, {"supported": False, "evidence": "not reached by the probe"})
    prober.clean_up(rtt)
    return CapabilityProfile(str(address), rtt, version, dict(sorted(prober.caps.items())),
                   round(time.monotonic() - started, 3))
