"""A transparent recording proxy: every byte passes unchanged, every packet is traced.

Strategy: an asyncio server listens where the application connects; each
accepted connection gets its own connection to the real server and two
pumps, one per direction. A pump writes each chunk it reads to the other
side *first*, unchanged and at once (TCP_NODELAY on both legs, so the proxy
adds no Nagle delay), and only then gives a copy to the ``TraceRecorder``,
which frames it with the codec and writes the trace. Nothing is re-encoded,
so malformed bytes pass as they came. A half-close is passed on (EOF in one
direction becomes ``write_eof`` on the other leg); a reset on one leg aborts
the other, so the peer sees a reset too. The connection is closed when both
directions have ended.

``RecordingProxy`` runs on the caller's event loop (``gearcheck record``) or,
as a context manager, on its own loop in a background thread (tests and
other blocking callers). Stopping it closes every connection it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..protocol.capture import Direction
from ..wire import Address
from .trace import TraceRecorder, TraceWriter, header

_CHUNK = 256 * 1024
_CONNECT_TIMEOUT_S = 10.0


@dataclass
class ProxyStats:
    connections: int = 0
    open_connections: int = 0
    upstream_failures: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    started: float = field(default_factory=time.time)


def _endpoint(writer: asyncio.StreamWriter, which: str) -> str:
    info = writer.get_extra_info(which)
    if not info:
        return "?"
    host, port = info[0], info[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer: TraceWriter | None = None
        self.recorder: TraceRecorder | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- on the caller's loop ------------------------------------------------------
    async def start(self) -> Address:
        server = await asyncio.start_server(self._handle, self.listen.host, self.listen.port,
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
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
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

    # -- one connection ----------------------------------------------------------------
    async def _handle(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self.recorder is not None
        self._tasks.add(task)
        recorder = self.recorder
        stats = self.stats
        u_writer: asyncio.StreamWriter | None = None
        conn: int | None = None
        try:
            try:
                u_reader, u_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream.host, self.upstream.port),
                    _CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                stats.upstream_failures += 1
                c_writer.transport.abort()  # the application sees the refusal as a reset
                return
            _nodelay(c_writer)
            _nodelay(u_writer)
            stats.connections += 1
            stats.open_connections += 1
            conn = recorder.open(time.time(), _endpoint(c_writer, "peername"),
                                 _endpoint(u_writer, "peername"),
                                 via=_endpoint(u_writer, "sockname"))
            up = asyncio.ensure_future(self._pump(c_reader, u_writer, conn,
                                                  Direction.TO_SERVER, c_writer))
            down = asyncio.ensure_future(self._pump(u_reader, c_writer, conn,
                                                    Direction.TO_CLIENT, u_writer))
            try:
                await asyncio.gather(up, down)
            finally:
                for pump in (up, down):
                    pump.cancel()
        except asyncio.CancelledError:
            pass
        finally:
            for w in (c_writer, u_writer):
                if w is not None:
                    w.close()
            if conn is not None:
                stats.open_connections -= 1
                recorder.close(conn, time.time())
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    conn: int, direction: Direction, source: asyncio.StreamWriter) -> None:
        recorder = self.recorder
        assert recorder is not None
        stats = self.stats
        to_server = direction is Direction.TO_SERVER
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                writer.write(data)
                if to_server:
                    stats.bytes_to_server += len(data)
                else:
                    stats.bytes_to_client += len(data)
                recorder.data(conn, direction, time.time(), data)
                await writer.drain()
        except (ConnectionError, OSError):
            # A reset (or a write to a closed peer): pass it on as a reset.
            recorder.eof(conn, direction, time.time())
            source.transport.abort()
            writer.transport.abort()
            return
        recorder.eof(conn, direction, time.time())
        if writer.can_write_eof() and not writer.is_closing():
            with contextlib.suppress(OSError):
                writer.write_eof()


async def record_until_stopped(proxy: RecordingProxy, stop: asyncio.Event,
                               report: object | None = None, every: float = 1.0) -> None:
    """Run ``proxy`` until ``stop`` is set; call ``report(stats)`` every ``every`` seconds."""
    await proxy.start()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if callable(report):
                report(proxy.stats)
    finally:
        await proxy.stop()
