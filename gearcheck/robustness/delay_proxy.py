"""A proxy that adds network distance: every byte arrives ``one_way_s`` later, in order.

Strategy: an asyncio server on a free loopback port, on its own event loop in
a background thread, like the mutating proxy. Each direction of each
connection is a reader that stamps every chunk with the time it may be
delivered and a writer that waits until then; reading never waits for writing,
so pipelined traffic is delayed, not throttled, and the round trip grows by
twice ``one_way_s``. End of stream is passed on at its own delivery time. Used
to measure how the suite behaves against a distant server (make
bench-conformance) without leaving this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ..wire import Address


class DelayProxy:
    """``with DelayProxy(upstream, one_way_s=0.025) as proxy: proxy.address``"""

    def __init__(self, upstream: Address, one_way_s: float) -> None:
        self.upstream = upstream
        self.one_way_s = one_way_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="delay-proxy")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.address: Address | None = None

    def __enter__(self) -> DelayProxy:
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
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return Address("127.0.0.1", self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _handle(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        writers = [c_writer]
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream.host, self.upstream.port), 10)
            writers.append(u_writer)
            await asyncio.gather(self._direction(c_reader, u_writer),
                                 self._direction(u_reader, c_writer))
        except (OSError, TimeoutError, asyncio.CancelledError):
            pass  # a peer went away, or the proxy is stopping: close both ends
        finally:
            for writer in writers:
                writer.close()
            self._tasks.discard(task)

    async def _direction(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - self._loop.time()))
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((self._loop.time() + self.one_way_s, data))
                if not data:
                    break
            await delivering
        except (OSError, asyncio.CancelledError):
            delivering.cancel()
            raise
