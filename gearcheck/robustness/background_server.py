"""A small asyncio TCP server on its own thread, for the proxies the robustness tools put in
front of a server.

Strategy: blocking callers (the conformance engine, a bench script) use a proxy
like any server, so its event loop runs in a daemon thread. ``with`` starts it on
a free loopback port and stops it: the listener closes, every connection's
handler task is cancelled and awaited (with a deadline), then the loop stops.
A subclass writes only ``handle``, one call per accepted connection; the handler
tasks are tracked here so none outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self

from ..wire import Address


class BackgroundServer:
    """``with Subclass(...) as server: server.address``"""

    thread_name = "background-server"

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=self.thread_name)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.address: Address | None = None
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        self.address = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> Address:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        return Address("127.0.0.1", self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _accepted(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handle(reader, writer)
        finally:
            self._tasks.discard(task)
