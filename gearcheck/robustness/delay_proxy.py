"""A proxy that adds network distance: every byte arrives ``one_way_s`` later, in order.

Strategy: a BackgroundServer (an asyncio server on its own thread), like the
mutating proxy. Each direction of each
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

from ..wire import Address
from .background_server import BackgroundServer


class DelayProxy(BackgroundServer):
    """``with DelayProxy(upstream, one_way_s=0.025) as proxy: proxy.address``"""

    thread_name = "delay-proxy"

    def __init__(self, upstream: Address, one_way_s: float) -> None:
        super().__init__()
        self.upstream = upstream
        self.one_way_s = one_way_s

    async def handle(self, c_reader: asyncio.StreamReader,
                     c_writer: asyncio.StreamWriter) -> None:
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
