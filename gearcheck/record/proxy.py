"""A transparent recording proxy: every byte passes unchanged, every packet is traced.

Strategy: an asyncio server listens where the application connects; each
accepted connection gets its own connection to the real server, and the two
transports are joined by a ``_Session`` on asyncio's callback (Protocol)
interface, with no task or coroutine per read: bytes that arrive on one leg
are written to the other leg *first*, unchanged and at once (TCP_NODELAY on
both, so the proxy adds no Nagle delay), and only then handed to the
``TraceRecorder``, which frames them with the codec and writes the trace.
Nothing is re-encoded, so malformed bytes pass as they came. Bytes (and an
EOF) that arrive before the server's leg is connected wait for it. Flow
control is passed through: when one leg's send buffer is full, the other leg
stops being read. A half-close is passed on (EOF on one leg becomes
``write_eof`` on the other); a reset, or a leg that cannot be opened, aborts
the other leg, so the peer sees a reset too. The connection is closed when
both directions have ended.

``RecordingProxy`` runs on the caller's event loop (``gearcheck record``, on
uvloop when it is installed) or, as a context manager, on its own loop in a
background thread (tests and other blocking callers). Stopping it closes
every connection it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..protocol.capture import Direction
from ..wire import Address
from .trace import TraceRecorder, TraceWriter, header

_CONNECT_TIMEOUT_S = 10.0
_UP, _DOWN = Direction.TO_SERVER, Direction.TO_CLIENT


@dataclass
class ProxyStats:
    connections: int = 0
    open_connections: int = 0
    upstream_failures: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    started: float = field(default_factory=time.time)


def _endpoint(transport: asyncio.BaseTransport, which: str) -> str:
    info = transport.get_extra_info(which)
    if not info:
        return "?"
    host, port = info[0], info[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Leg(asyncio.Protocol):
    """One side of a session: the application's connection or the server's."""

    def __init__(self, session: _Session, receives: Direction,
                 on_made: Callable[[_Session], None] | None = None) -> None:
        self.session = session
        self.receives = receives  # the direction of the bytes that arrive on this leg
        self.transport: asyncio.Transport | None = None
        self.on_made = on_made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not a subclass of asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)
        _nodelay(transport)
        if self.on_made is not None:
            self.on_made(self.session)

    def data_received(self, data: bytes) -> None:
        self.session.forward(self.receives, data)

    def eof_received(self) -> bool:
        self.session.eof(self.receives)
        return True  # keep the transport open: the other direction may go on

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.lost(self.receives, exc)

    def pause_writing(self) -> None:
        self.session.throttle(self, pause=True)

    def resume_writing(self) -> None:
        self.session.throttle(self, pause=False)


class _Session:
    """One proxied connection: the application's leg, the server's leg, the recorder."""

    def __init__(self, proxy: RecordingProxy,
                 on_client: Callable[[_Session], None] | None = None) -> None:
        self.proxy = proxy
        self.client = _Leg(self, _UP, on_client)
        self.server = _Leg(self, _DOWN)
        self.conn: int | None = None
        self.ended: set[Direction] = set()
        self.closed = False
        self.early: list[tuple[float, bytes]] = []  # what came before the server's leg was up
        self.early_eof = False

    def _towards(self, direction: Direction) -> _Leg:
        return self.server if direction is _UP else self.client

    def forward(self, direction: Direction, data: bytes, when: float | None = None) -> None:
        target = self._towards(direction).transport
        if target is None:  # the server's leg is still connecting: keep it for then
            self.early.append((time.time(), data))
            return
        if target.is_closing():
            return
        target.write(data)
        stats = self.proxy.stats
        if direction is _UP:
            stats.bytes_to_server += len(data)
        else:
            stats.bytes_to_client += len(data)
        if self.conn is not None and self.proxy.recorder is not None:
            self.proxy.recorder.data(self.conn, direction, when or time.time(), data)

    def connected(self) -> None:
        """The server's leg is up: pass on what the application sent meanwhile."""
        early, self.early = self.early, []
        for when, data in early:
            self.forward(_UP, data, when)
        if self.early_eof:
            self.eof(_UP)

    def eof(self, direction: Direction) -> None:
        if direction in self.ended:
            return
        if self._towards(direction).transport is None:  # the server's leg is not up yet
            self.early_eof = True
            return
        self.ended.add(direction)
        self._record_eof(direction)
        target = self._towards(direction).transport
        if target is not None and not target.is_closing() and target.can_write_eof():
            with contextlib.suppress(OSError):
                target.write_eof()
        if len(self.ended) == 2:
            self.close()

    def lost(self, direction: Direction, exc: Exception | None) -> None:
        if exc is not None or direction not in self.ended:
            # A reset, or a close without a FIN first: pass it on as a reset.
            if direction not in self.ended:
                self.ended.add(direction)
                self._record_eof(direction)
            other = self._towards(direction).transport
            if other is not None:
                other.abort()
        self.close()

    def throttle(self, full: _Leg, *, pause: bool) -> None:
        """``full``'s send buffer is over (or back under) its limit: stop (or go on)
        reading the other leg, whose bytes fill it."""
        transport = (self.server if full is self.client else self.client).transport
        if transport is None or transport.is_closing():
            return
        if pause:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _record_eof(self, direction: Direction) -> None:
        if self.conn is not None and self.proxy.recorder is not None:
            self.proxy.recorder.eof(self.conn, direction, time.time())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for leg in (self.client, self.server):
            if leg.transport is not None:
                leg.transport.close()
        self.proxy._session_ended(self)


class RecordingProxy:
    """Listens on ``listen``, forwards to ``upstream``, writes ``trace_path``."""

    def __init__(self, listen: Address, upstream: Address, trace_path: str | Path, *,
                 keep_payloads: bool = True) -> None:
        self.listen = listen
        self.upstream = upstream
        self.trace_path = Path(trace_path)
        self.keep_payloads = keep_payloads
        self.stats = ProxyStats()
        self.address: Address | None = None
        self.recorder: TraceRecorder | None = None
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._connecting: set[asyncio.Task[None]] = set()
        self._writer: TraceWriter | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- on the caller's loop ------------------------------------------------------
    async def start(self) -> Address:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._accept, self.listen.host, self.listen.port,
                                          start_serving=False)
        host, port = server.sockets[0].getsockname()[:2]
        self.address = Address(host, port)
        start = time.time()
        self.stats.started = start
        try:
            self._writer = TraceWriter(self.trace_path, header(
                "proxy", start, listen=str(self.address), upstream=str(self.upstream),
                payloads=self.keep_payloads))
        except BaseException:
            server.close()
            raise
        self.recorder = TraceRecorder(self._writer.write, start,
                                      keep_payloads=self.keep_payloads)
        self._server = server
        await server.start_serving()
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connecting):
            task.cancel()
        for session in list(self._sessions):
            session.lost(_UP, ConnectionAbortedError("the proxy stopped"))
        await asyncio.sleep(0)  # let the transports run their close callbacks
        if self.recorder is not None:
            self.recorder.close_all(time.time())
        if self._writer is not None:
            self._writer.close()

    # -- on a thread of its own ----------------------------------------------------
    def __enter__(self) -> RecordingProxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="recording-proxy")
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    # -- sessions --------------------------------------------------------------------
    def _accept(self) -> asyncio.Protocol:
        session = _Session(self, self._accepted)
        self._sessions.add(session)
        return session.client

    def _accepted(self, session: _Session) -> None:
        client = session.client.transport
        assert client is not None
        client.pause_reading()  # nothing is read until the server's leg is up
        task = asyncio.ensure_future(self._connect(session))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, session: _Session) -> None:
        loop = asyncio.get_running_loop()
        client = session.client.transport
        assert client is not None
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: session.server, self.upstream.host,
                                       self.upstream.port), _CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.stats.upstream_failures += 1
            session.closed = True
            client.abort()  # the application sees the refusal as a reset
            self._sessions.discard(session)
            return
        server = session.server.transport
        assert server is not None and self.recorder is not None
        if client.is_closing():  # the application gave up meanwhile
            server.close()
            session.close()
            return
        self.stats.connections += 1
        self.stats.open_connections += 1
        session.conn = self.recorder.open(time.time(), _endpoint(client, "peername"),
                                          _endpoint(server, "peername"),
                                          via=_endpoint(server, "sockname"))
        session.connected()
        client.resume_reading()

    def _session_ended(self, session: _Session) -> None:
        if session not in self._sessions:
            return
        self._sessions.discard(session)
        if session.conn is not None:
            self.stats.open_connections -= 1
            if self.recorder is not None:
                self.recorder.close(session.conn, time.time())


async def record_until_stopped(proxy: RecordingProxy, stop: asyncio.Event,
                               report: Callable[[ProxyStats], Any] | None = None,
                               every: float = 1.0) -> None:
    """Run ``proxy`` until ``stop`` is set; call ``report(stats)`` every ``every`` seconds."""
    await proxy.start()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if report is not None:
                report(proxy.stats)
    finally:
        await proxy.stop()
