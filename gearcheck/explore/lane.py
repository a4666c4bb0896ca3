"""One server's side of a lockstep run: its connections, and what arrived on each.

Strategy: a ``Lane`` holds one ``wire.Connection`` per actor and, per step,
sends the operation's bytes (``send``) and then collects what the server says
(``collect``) up to a barrier: an ECHO_REQ with a fresh token on the
operation's own connection first (its answer means the server has handled the
operation, since a connection's requests are answered in order), then one on
every other open connection (anything the operation caused elsewhere, such
as a NOOP or a forwarded WORK_COMPLETE, was queued before that answer).
Everything that arrives before a barrier's answer belongs to the step; the
barrier itself is never part of an observation unless its answer was wrong.
A server that does not answer ECHO gets a quiet window instead (read until
nothing arrives for ``quiet_s``): slower, and only as good as the window.

A disconnect is synchronized through a hidden admin connection: each
connection carries a client id (SET_CLIENT_ID), and after our side closes,
``workers`` is polled until the id is gone, so the server has handled the
close before the next step. Admin replies are read whole (the codec's
``AdminReplyCollector``). Every wait has a deadline; a missing answer is an
observation (``Silent``), never a hang.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..engine.probe import CapabilityProfile
from ..protocol import (
    AdminLine,
    AdminReplyCollector,
    Packet,
    PacketType,
    ProtocolError,
    parse_workers,
)
from ..wire import Address, Connection, ConnectionClosed, ReceiveTimeout, WireError
from .names import Names
from .ops import Op, Unresolved, sends

T = PacketType


@dataclass(frozen=True)
class AdminReply:
    command: str
    lines: tuple[bytes, ...]


@dataclass(frozen=True)
class Closed:
    """The server closed this connection."""


@dataclass(frozen=True)
class Silent:
    """Nothing came where an answer was due (an admin reply, a barrier ECHO)."""

    what: str


@dataclass(frozen=True)
class BarrierEcho:
    """The barrier's ECHO_RES came back with other data than was sent."""

    data: bytes


@dataclass(frozen=True)
class Garbled:
    """Bytes that are not Gearman framing."""

    error: str


Raw = Packet | AdminReply | Closed | Silent | BarrierEcho | Garbled
StepRaw = dict[str, list[Raw]]


@dataclass
class LaneOptions:
    deadline_s: float = 2.0     # a barrier's or an admin reply's deadline
    quiet_s: float = 0.05       # the quiet window for servers without ECHO
    sync_close_s: float = 2.0   # how long a disconnect may take to show in `workers`


@dataclass
class _Actor:
    conn: Connection | None
    generation: int = 0
    client_id: bytes = b""
    echoes_pending: int = 0


@dataclass
class Lane:
    name: str              # the server's name in reports (registry name or host:port)
    address: Address
    profile: CapabilityProfile
    options: LaneOptions = field(default_factory=LaneOptions)

    def __post_init__(self) -> None:
        self.use_echo = self.profile.supports("packet:ECHO_REQ")
        self.mixed_admin = self.profile.supports("behaviour:mixed-admin-binary")
        self.ids = self.profile.supports("packet:SET_CLIENT_ID")
        self.sync_by_workers = self.ids and self.profile.supports("admin:workers")
        self.actors: dict[str, _Actor] = {}
        self.handles: dict[int, bytes] = {}  # submission op id -> the handle it got
        self.names: Names | None = None
        self._sync: Connection | None = None
        self._token = 0

    # -- a sequence --------------------------------------------------------------
    def begin(self, names: Names, actors: list[str]) -> StepRaw:
        """Open every actor's connection (each with its client id); the arrivals, if any."""
        self.end()
        self.names = names
        self.handles = {}
        self.actors = {}
        raw: StepRaw = {}
        for actor in actors:
            self.actors[actor] = _Actor(None)
            raw[actor] = []
            self._open(actor, raw[actor])
        if self.use_echo:
            for actor in actors:
                self._barrier(actor, raw[actor])
        else:
            self._read_quiet_all([a for a in actors if self.connected(a)], raw)
        return raw

    def end(self) -> None:
        for state in self.actors.values():
            if state.conn is not None:
                state.conn.close()
                state.conn = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def _open(self, actor: str, items: list[Raw]) -> None:
        state = self.actors[actor]
        assert self.names is not None
        try:
            state.conn = Connection.open(self.address, timeout=self.options.deadline_s)
        except (OSError, WireError) as exc:
            state.conn = None
            items.append(Silent(f"cannot connect: {exc}"))
            return
        state.client_id = b""
        if self.ids and (actor[0] != "a" or self.mixed_admin):
            state.client_id = self.names.client_id(actor, state.generation)
            self._send(actor, [Packet.build(T.SET_CLIENT_ID, state.client_id)], items)

    def connected(self, actor: str) -> bool:
        state = self.actors.get(actor)
        return state is not None and state.conn is not None

    # -- one step ---------------------------------------------------------------
    def send(self, op: Op) -> StepRaw | None:
        """Put ``op`` on the wire; None when this lane cannot (a job it does not have)."""
        assert self.names is not None
        raw: StepRaw = {a: [] for a in self.actors}
        if op.kind == "pause":
            return raw
        state = self.actors[op.actor]
        if op.kind == "disconnect":
            if state.conn is not None:
                state.conn.close()
                state.conn = None
                self._wait_gone(state.client_id)
            return raw
        if op.kind == "reconnect":
            if state.conn is None:
                state.generation += 1
                self._open(op.actor, raw[op.actor])
            return raw
        if state.conn is None:
            return None
        try:
            out = sends(op, self.names, self.handles.get, state.generation)
        except Unresolved:
            return None
        if op.kind == "set_client_id":
            state.client_id = out[0].args[0] if isinstance(out[0], Packet) else b""
        if op.kind == "echo":
            state.echoes_pending += 1
        if op.kind == "admin":
            assert isinstance(out[0], bytes)
            self._admin(op.actor, out[0], raw[op.actor])
        else:
            self._send(op.actor, out, raw[op.actor])
        return raw

    def collect(self, op: Op, raw: StepRaw) -> StepRaw:
        """Read up to the barriers: the operation's connection first, then the others."""
        if not self.use_echo:  # one quiet window for every connection
            self._read_quiet_all([a for a in self.actors if self.connected(a)], raw)
            self._note_handle(op, raw)
            return raw
        first = op.actor if op.kind not in ("pause", "disconnect") else None
        if first is not None and self.connected(first):
            self._barrier(first, raw[first])
        # an admin-only connection (no binary packets on it) hears nothing unprompted
        others = [a for a in self.actors if a != first and self.connected(a)
                  and (a[0] != "a" or self.mixed_admin)]
        tokens = {a: self._send_barrier(a, raw[a]) for a in others}
        for a in others:
            token = tokens[a]
            if token is not None:
                self._read_to_barrier(a, raw[a], token)
        self._note_handle(op, raw)
        return raw

    def _note_handle(self, op: Op, raw: StepRaw) -> None:
        if op.kind == "submit":
            for item in raw.get(op.actor, []):
                if isinstance(item, Packet) and item.type == T.JOB_CREATED:
                    self.handles[op.id] = item.args[0]
                    break

    # -- wire helpers ------------------------------------------------------------
    def _send(self, actor: str, packets: list[Packet | bytes], items: list[Raw]) -> None:
        conn = self.actors[actor].conn
        assert conn is not None
        try:
            for p in packets:
                if isinstance(p, Packet):
                    conn.send(p)
                else:
                    conn.send_raw(p)
        except (OSError, WireError):
            self._lost(actor, items)

    def _lost(self, actor: str, items: list[Raw]) -> None:
        state = self.actors[actor]
        if state.conn is not None:
            state.conn.close()
            state.conn = None
        if not items or not isinstance(items[-1], Closed):
            items.append(Closed())

    def _next(self, actor: str, items: list[Raw], until: float) -> Packet | AdminLine | None:
        """The next event, or None after recording why there is none (closed, silent)."""
        conn = self.actors[actor].conn
        if conn is None:
            return None
        try:
            return conn.recv(max(0.001, until - time.monotonic()))
        except ReceiveTimeout:
            return None
        except (ConnectionClosed, OSError):
            self._lost(actor, items)
        except ProtocolError as exc:
            items.append(Garbled(str(exc)))
            self._lost(actor, items)
        except WireError:
            self._lost(actor, items)
        return None

    def _admin(self, actor: str, line: bytes, items: list[Raw]) -> None:
        command = line.decode("latin-1").strip()
        self._send(actor, [line], items)
        collector = AdminReplyCollector(command)
        until = time.monotonic() + self.options.deadline_s
        while not collector.done and self.connected(actor):
            event = self._next(actor, items, until)
            if event is None:
                break
            if isinstance(event, AdminLine):
                collector.feed_line(event.text)
            else:
                items.append(event)
        if collector.lines or collector.done:
            items.append(AdminReply(command, tuple(collector.lines)))
        if not collector.done and self.connected(actor):
            items.append(Silent(f"no complete reply to {command!r}"))

    def _send_barrier(self, actor: str, items: list[Raw]) -> bytes | None:
        self._token += 1
        token = b"gx-barrier-%d" % self._token
        self._send(actor, [Packet.build(T.ECHO_REQ, token)], items)
        return token if self.connected(actor) else None

    def _barrier(self, actor: str, items: list[Raw]) -> None:
        if not self.connected(actor):
            return
        if actor[0] == "a" and not self.mixed_admin:
            return  # its admin reply was read whole; nothing else comes unprompted
        token = self._send_barrier(actor, items)
        if token is not None:
            self._read_to_barrier(actor, items, token)

    def _read_to_barrier(self, actor: str, items: list[Raw], token: bytes) -> None:
        state = self.actors[actor]
        until = time.monotonic() + self.options.deadline_s
        while self.connected(actor):
            event = self._next(actor, items, until)
            if event is None:
                if self.connected(actor):
                    items.append(Silent("no answer to the barrier ECHO_REQ"))
                return
            if isinstance(event, Packet) and event.type == T.ECHO_RES:
                if state.echoes_pending:  # the answer to an echo operation
                    state.echoes_pending -= 1
                    items.append(event)
                    continue
                if event.args[0] != token:
                    items.append(BarrierEcho(event.args[0]))
                return
            items.append(event if isinstance(event, Packet) else
                         AdminReply("(unsolicited)", (event.text,)))

    def _read_quiet_all(self, actors: list[str], raw: StepRaw) -> None:
        """Without ECHO: one quiet window for all connections, then read what came, and again
        while anything still arrives."""
        hard = time.monotonic() + self.options.deadline_s
        while time.monotonic() < hard:
            time.sleep(self.options.quiet_s)
            got = False
            for a in actors:
                while self.connected(a):
                    event = self._next(a, raw[a], time.monotonic() + 0.001)
                    if event is None:
                        break
                    got = True
                    raw[a].append(event if isinstance(event, Packet) else
                                  AdminReply("(unsolicited)", (event.text,)))
            if not got:
                return

    def _wait_gone(self, client_id: bytes) -> None:
        """After our side closed: wait until the server no longer lists the connection."""
        if not (self.sync_by_workers and client_id):
            time.sleep(self.options.quiet_s)
            return
        until = time.monotonic() + self.options.sync_close_s
        while time.monotonic() < until:
            try:
                if self._sync is None:
                    self._sync = Connection.open(self.address, timeout=self.options.deadline_s)
                rows = parse_workers(self._sync.admin("workers"))
            except (OSError, WireError, ProtocolError):
                if self._sync is not None:
                    self._sync.close()
                self._sync = None
                time.sleep(self.options.quiet_s)
                return
            if not any(r.client_id.encode() == client_id for r in rows):
                return
            time.sleep(0.002)

    # -- clean-up ----------------------------------------------------------------
    def drain(self, functions: list[bytes], limit: int = 200) -> int:
        """Run (complete) every job left in ``functions``, so a run leaves nothing behind."""
        grab = T.GRAB_JOB if self.profile.supports("packet:GRAB_JOB") else T.GRAB_JOB_UNIQ
        done = 0
        try:
            with Connection.open(self.address, timeout=self.options.deadline_s) as conn:
                for fn in functions:
                    conn.send(Packet.build(T.CAN_DO, fn))
                while done < limit:
                    conn.send(Packet.build(grab))
                    reply = conn.recv_packet()
                    while reply.type == T.NOOP:
                        reply = conn.recv_packet()
                    if reply.type not in (T.JOB_ASSIGN, T.JOB_ASSIGN_UNIQ, T.JOB_ASSIGN_ALL):
                        break
                    conn.send(Packet.build(T.WORK_COMPLETE, reply.args[0], b""))
                    done += 1
        except (OSError, WireError, ProtocolError):
            pass
        return done
