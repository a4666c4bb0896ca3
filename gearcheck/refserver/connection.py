"""One TCP connection: bytes in through the codec's Decoder, requests out to the broker.

Strategy: an ``asyncio.Protocol`` (no streams, no per-packet task): each
``data_received`` feeds the decoder and handles every complete event at once,
through a table from packet type to handler. Replies are appended to
``out`` and written by the outbox once per loop turn. The session object also
carries the connection's role state (abilities, held jobs, attached jobs,
sleep flags, options) that the broker works on.

Bad input gets gearmand's reaction, confined to this connection:
- ``\\0RES`` magic on a request: ERROR INVALID_MAGIC, connection kept;
- a response type, UNUSED, ALL_YOURS or SUBMIT_JOB_SCHED: ERROR INVALID_COMMAND;
- bad magic, type 0 or > 42, an endless admin line: closed without a reply;
- a declared size over ``max_packet``: ERROR ARGUMENT_TOO_LARGE, then closed;
  the payload is never buffered (the decoder refuses it from the header);
- missing NUL separators (the packet's extent is known, so the stream is in
  sync): ERROR INVALID_PACKET naming the packet, connection kept. gearmand
  instead stalls or reads into the next packet; see docs/refserver-vs-gearmand.md.

When the peer stops reading and the transport's buffer fills, reading from
the peer pauses too, so a slow reader cannot make the server buffer without
bound.

A session is given what it uses, not the server: the settings, the broker,
the outbox, the admin commands, and the set of open sessions it joins and
leaves (for ``--max-connections`` and the admin ``workers`` listing). The
broker sees it only as ``jobs.SessionState``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import cast

from ..protocol import (
    SPECS,
    AdminLine,
    AdminLineTooLongError,
    Decoder,
    Magic,
    MissingArgumentsError,
    Packet,
    PacketTooLargeError,
    PacketType,
    ProtocolError,
    UnexpectedMagicError,
)
from . import frames
from .admin import Admin
from .broker import SUBMIT_MODES, Broker, c_atoi
from .config import RefServerOptions
from .jobs import NORMAL, Function, Job
from .outbox import Outbox

log = logging.getLogger("gearcheck.refserver")
T = PacketType

_INVALID_MAGIC = frames.error("INVALID_MAGIC", "Request magic expected")
_NOT_EXPECTED = frames.error("INVALID_COMMAND", "Command not expected")
_UNKNOWN_OPTION = frames.error("UNKNOWN_OPTION", "Server does not recognize given option")
_MAX_CLIENT_ID = 127
_MAX_TIMEOUT_DIGITS = 20
_MAX_OPTION = 63
_INT64_MAX = 2**63 - 1


class Session(asyncio.Protocol):
    def __init__(self, config: RefServerOptions, broker: Broker, outbox: Outbox, admin: Admin,
                 sessions: set[Session]) -> None:
        self.config = config
        self.broker = broker
        self.outbox = outbox
        self.admin = admin
        self.sessions = sessions
        cfg = config
        self.decoder = Decoder(max_payload=cfg.max_packet, max_line=cfg.max_line,
                               expect_magic=Magic.REQ)
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.dirty = False
        self.closing = False
        # role state, worked on by the broker
        self.client_id = b"-"
        self.exceptions = False
        self.abilities: list[tuple[Function, int]] = []  # (function, timeout) in CAN_DO order
        self.functions: list[Function] = []              # distinct functions, for dispatch
        self.timeouts: dict[Function, int] = {}
        self.held: dict[bytes, Job] = {}                 # jobs this worker runs, by handle
        self.attached: set[Job] = set()                  # foreground jobs this client waits for
        self.sleeping = False
        self.noop_sent = False
        self.fd = -1
        self.peer = "-"

    # -- asyncio callbacks ----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream server's protocol is always handed a Transport (asyncio and uvloop alike)
        self.transport = cast(asyncio.Transport, transport)
        sessions = self.sessions
        if len(sessions) >= self.config.max_connections:
            log.warning("refusing a connection: %d connections open (--max-connections)",
                        len(sessions))
            self.transport.abort()
            return
        sessions.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
            with contextlib.suppress(OSError):   # replies are small: never wait for Nagle
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = str(peer[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.sessions:
            self.sessions.discard(self)
            self.broker.session_closed(self)
        self.out.clear()
        self.transport = None

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        decoder = self.decoder
        decoder.feed(data)
        handlers = _HANDLERS
        next_event = decoder.next_event
        while True:
            try:
                event = next_event()
            except UnexpectedMagicError:
                self.send(_INVALID_MAGIC)
                continue
            except MissingArgumentsError as exc:
                self._missing_arguments(exc)
                continue
            except ProtocolError as exc:
                self._fatal(exc)
                return
            if event is None:
                return
            if type(event) is Packet:
                handlers[event.type](self, event)
            else:
                assert isinstance(event, AdminLine)
                self.admin.run(self, event.text)

    # -- output ------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.out.append(data)
        if not self.dirty:
            self.dirty = True
            self.outbox.mark(self)

    def flush(self) -> None:
        self.dirty = False
        out = self.out
        transport = self.transport
        if transport is None:
            out.clear()
            return
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
        if self.closing:
            transport.close()

    def abort_output(self) -> None:
        self.dirty = False
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()

    def close_after_replies(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.pause_reading()
        if not self.dirty:
            self.dirty = True
            self.outbox.mark(self)

    # -- bad input -------------------------------------------------------------------
    def _missing_arguments(self, exc: MissingArgumentsError) -> None:
        if exc.magic == Magic.RES.value:
            self.send(_INVALID_MAGIC)
            return
        try:
            accepted = SPECS[T(exc.packet_type)].accepted_by_server
        except ValueError:
            accepted = False
        if not accepted:
            self.send(_NOT_EXPECTED)
            return
        self.send(frames.error("INVALID_PACKET", str(exc)))

    def _fatal(self, exc: ProtocolError) -> None:
        log.info("closing connection from %s (fd %d): %s", self.peer, self.fd, exc)
        if isinstance(exc, PacketTooLargeError):
            self.send(frames.error("ARGUMENT_TOO_LARGE", str(exc)))
        elif isinstance(exc, AdminLineTooLongError):
            pass
        self.close_after_replies()

    # -- requests ------------------------------------------------------------------------
    def _echo(self, p: Packet) -> None:
        self.send(frames.response_payload(T.ECHO_RES, p.args[0]))

    def _submit(self, p: Packet) -> None:
        priority, background = SUBMIT_MODES[p.type]
        a = p.args
        self.broker.submit(self, a[0], a[1], a[2], priority, background)

    def _submit_epoch(self, p: Packet) -> None:
        function, unique, epoch, data = p.args
        when = c_atoi(epoch)
        if when > _INT64_MAX or when < -_INT64_MAX - 1:
            self.send(frames.error("INVALID_ARGUMENT", "Epoch value out of range"))
            return
        self.broker.submit(self, function, unique, data, NORMAL, True, when=max(when, 0))

    def _submit_reduce(self, p: Packet) -> None:
        function, unique, reducer, _aggregate, data = p.args
        self.broker.submit(self, function, unique, data, NORMAL,
                           p.type == T.SUBMIT_REDUCE_JOB_BACKGROUND, reducer=reducer)

    def _work(self, p: Packet) -> None:
        self.broker.work(self, p.type, p.args, p.payload)

    def _grab(self, p: Packet) -> None:
        self.broker.grab(self, p.type)

    def _pre_sleep(self, p: Packet) -> None:
        self.broker.pre_sleep(self)

    def _can_do(self, p: Packet) -> None:
        self.broker.can_do(self, p.args[0])

    def _can_do_timeout(self, p: Packet) -> None:
        function, timeout = p.args
        if len(timeout) > _MAX_TIMEOUT_DIGITS:
            return   # gearmand ignores it, with no reply and no registration
        self.broker.can_do(self, function, max(c_atoi(timeout), 0))

    def _cant_do(self, p: Packet) -> None:
        self.broker.cant_do(self, p.args[0])

    def _reset_abilities(self, p: Packet) -> None:
        self.broker.reset_abilities(self)

    def _get_status(self, p: Packet) -> None:
        self.broker.get_status(self, p.args[0])

    def _get_status_unique(self, p: Packet) -> None:
        self.broker.get_status_unique(self, p.args[0])

    def _set_client_id(self, p: Packet) -> None:
        self.client_id = p.args[0][:_MAX_CLIENT_ID]

    def _option(self, p: Packet) -> None:
        name = p.args[0]
        if name.lower() == b"exceptions":
            self.exceptions = True
            self.send(frames.response(T.OPTION_RES, name))
        else:
            self.send(_UNKNOWN_OPTION)

    def _not_expected(self, p: Packet) -> None:
        self.send(_NOT_EXPECTED)


_HANDLERS: dict[PacketType, Callable[[Session, Packet], None]] = {
    t: Session._not_expected for t in PacketType}
_HANDLERS.update({
    T.ECHO_REQ: Session._echo,
    T.CAN_DO: Session._can_do,
    T.CAN_DO_TIMEOUT: Session._can_do_timeout,
    T.CANT_DO: Session._cant_do,
    T.RESET_ABILITIES: Session._reset_abilities,
    T.PRE_SLEEP: Session._pre_sleep,
    T.GRAB_JOB: Session._grab,
    T.GRAB_JOB_UNIQ: Session._grab,
    T.GRAB_JOB_ALL: Session._grab,
    T.SUBMIT_JOB_EPOCH: Session._submit_epoch,
    T.SUBMIT_REDUCE_JOB: Session._submit_reduce,
    T.SUBMIT_REDUCE_JOB_BACKGROUND: Session._submit_reduce,
    T.GET_STATUS: Session._get_status,
    T.GET_STATUS_UNIQUE: Session._get_status_unique,
    T.SET_CLIENT_ID: Session._set_client_id,
    T.OPTION_REQ: Session._option,
    **{t: Session._submit for t in SUBMIT_MODES},
    **{t: Session._work for t in (T.WORK_STATUS, T.WORK_COMPLETE, T.WORK_FAIL, T.WORK_DATA,
                                   T.WORK_WARNING, T.WORK_EXCEPTION)},
})
assert all(not SPECS[t].accepted_by_server for t, h in _HANDLERS.items()
           if h is Session._not_expected), "every accepted packet type needs a handler"
