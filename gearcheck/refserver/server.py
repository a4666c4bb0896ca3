"""Server lifecycle: build the parts, restore the queue, listen, stop cleanly.

Strategy: ``ReferenceServer`` wires the job table, the optional SQLite queue,
the broker, the outbox and the admin commands together, replays the queue
(background jobs that were acknowledged and not finished, in priority then
arrival order) before it accepts a connection, and listens. ``run`` is the
process entry point: it installs uvloop when it is importable, prints the
address it really listens on (so ``--port 0`` is usable), and stops on
SIGTERM/SIGINT or the admin ``shutdown`` command. With a TLS certificate in
the config it listens for TLS only (``tls_context``; client certificates
required when a client CA is set). Stopping closes the
listener and every connection, commits what is pending and closes the queue
file. ``shutdown graceful`` first stops accepting connections and waits until
no job is running.

Garbage collection: every queued job is a tracked object, and the server's
hot paths create no reference cycles (jobs are freed by reference counting), so
with the default thresholds the cyclic collector costs a quarter of the time of
a background submission. The process runs with a generation-0 threshold of
100,000 instead of 700, and the jobs restored at start-up are frozen out of
the collector's scans (``gc.freeze``); both only change when cycles are found.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from .admin import Admin
from .broker import Broker
from .config import RefServerOptions
from .connection import Session
from .jobs import JobTable
from .outbox import Outbox
from .persistence import PersistenceError, SqliteQueue

log = logging.getLogger("gearcheck.refserver")
GC_THRESHOLDS = (100_000, 20, 100)


class TLSConfigError(ValueError):
    """The TLS files of the config cannot be used; the message names the file."""


def tls_context(config: RefServerOptions) -> ssl.SSLContext | None:
    """The server-side TLS context of ``config``, or None for plaintext."""
    if config.tls_cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"--tls-cert {config.tls_cert} / --tls-key {config.tls_key}: "
                             f"cannot be used ({exc})") from None
    if config.tls_client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(config.tls_client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"--tls-client-ca {config.tls_client_ca}: cannot be used "
                                 f"({exc})") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class ReferenceServer:
    def __init__(self, config: RefServerOptions) -> None:
        self.config = config
        self.sessions: set[Session] = set()
        self.table = JobTable()
        self.queue: SqliteQueue | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._stopped: asyncio.Event | None = None
        self.port = config.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self.config.queue_path is not None:
            self.queue = SqliteQueue(self.config.queue_path, synchronous=self.config.queue_sync)
        self.broker = Broker(self.config, self.table, self.queue, loop)
        self.outbox = Outbox(loop, self.queue)
        self.admin = Admin(self.table, self.broker, self.sessions,
                           allow_shutdown=self.config.allow_shutdown,
                           request_stop=self.request_stop)
        if self.queue is not None:
            restored = 0
            rows = list(self.queue.load())
            drop = len(rows) - self.config.drop_on_restore + 1  # counted from the last
            for n, row in enumerate(rows, start=1):
                if self.config.drop_on_restore and n == drop:  # a planted defect (tests)
                    log.warning("dropping restored job %d of %d (--drop-on-restore)", n,
                                len(rows))
                    self.queue.remove(row.id)
                    continue
                self.broker.restore(row.id, row.function, row.unique, row.priority, row.data,
                                    row.reducer, row.when)
                restored += 1
            if self.queue.pending:
                self.queue.commit()
            if restored:
                log.warning("restored %d background job(s) from %s", restored,
                            self.config.queue_path)
        context = tls_context(self.config)
        self._listener = await loop.create_server(
            lambda: Session(self.config, self.broker, self.outbox, self.admin, self.sessions),
            self.config.host, self.config.port,
            reuse_address=True, backlog=1024, ssl=context,
            ssl_handshake_timeout=10.0 if context else None)
        sockets = self._listener.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    def request_stop(self, *, graceful: bool = False) -> None:
        if self._stopped is None or self._stopped.is_set():
            return
        if not graceful:
            self._stopped.set()
            return
        log.warning("graceful shutdown: no new connections; waiting for running jobs")
        if self._listener is not None:
            self._listener.close()
        if self.broker.running_jobs() == 0:
            self._stopped.set()
        else:
            self.broker.on_idle = self._stopped.set

    async def wait_stopped(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.outbox.flush()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await asyncio.sleep(0)
        if self.queue is not None:
            self.queue.close()
            self.queue = None


async def serve(config: RefServerOptions, on_ready: Callable[[ReferenceServer], None]) -> None:
    server = ReferenceServer(config)
    await server.start()
    gc.collect()
    gc.freeze()     # what start-up built (restored jobs included) is never scanned again
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, server.request_stop)
    on_ready(server)
    try:
        await server.wait_stopped()
    finally:
        await server.close()


def _announce(server: ReferenceServer) -> None:
    queue = f", queue sqlite:{server.config.queue_path}" if server.config.queue_path else ""
    tls = ""
    if server.config.tls_cert is not None:
        tls = ", TLS" + (" with client certificates" if server.config.tls_client_ca else "")
    print(f"gearcheck refserver listening on {server.config.host}:{server.port}{queue}{tls}",
          flush=True)


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's ``run`` when it is installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    runner: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    return runner


def run(config: RefServerOptions, on_ready: Callable[[ReferenceServer], None] = _announce) -> int:
    """Run the server until it is told to stop; the process exit code."""
    logging.basicConfig(level=config.logging_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("gearcheck.refserver").setLevel(config.logging_level)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        _event_loop_runner()(serve(config, on_ready))
    except (PersistenceError, TLSConfigError) as exc:
        print(f"gearcheck serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gearcheck serve: cannot listen on {config.host}:{config.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
