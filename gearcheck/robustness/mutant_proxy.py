"""A mutating proxy: a correct server behind it, one protocol defect in front.

Strategy: a BackgroundServer (an asyncio server on its own thread, so blocking
callers such as the conformance engine use it like any server). Each accepted
connection gets its own upstream
connection and two pumps. The server-to-client pump frames the stream with
``protocol.Decoder`` and hands each event to the mutation; untouched events
are forwarded as their original bytes, so the clean proxy (no mutation) is
byte-transparent. The client-to-server pump is a plain byte copy unless the
mutation rewrites requests; then it is framed too. Whatever cannot be framed
(the suite sends malformed input on purpose) switches that direction to a
plain copy from that byte on, so the server still judges it. Half-closes
are passed on, and every connection is closed when the proxy stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..protocol import Decoder, Packet, ProtocolError, encode
from ..wire import Address
from .background_server import BackgroundServer
from .mutations import CLOSE, Mutation, Rewrite

_CHUNK = 65536


class MutantProxy(BackgroundServer):
    """``with MutantProxy(upstream, mutation) as proxy: proxy.address``"""

    thread_name = "mutant-proxy"

    def __init__(self, upstream: Address, mutation: Mutation | None = None) -> None:
        super().__init__()
        self.upstream = upstream
        self.mutation = mutation

    async def handle(self, c_reader: asyncio.StreamReader,
                     c_writer: asyncio.StreamWriter) -> None:
        writers = [c_writer]
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream.host, self.upstream.port), 10)
            writers.append(u_writer)
            state: dict[str, Any] = {}
            m = self.mutation
            up = asyncio.ensure_future(self._pump(c_reader, u_writer, m.request if m else None,
                                                  state, half_close=True))
            down = asyncio.ensure_future(self._pump(u_reader, c_writer,
                                                    m.response if m else None, state,
                                                    half_close=False))
            await asyncio.wait({down}, timeout=None)
            up.cancel()
            with contextlib.suppress(BaseException):
                await up
        except (TimeoutError, OSError, asyncio.CancelledError):
            pass
        finally:
            for w in writers:
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    rewrite: Rewrite | None, state: dict[str, Any], *,
                    half_close: bool) -> None:
        decoder = Decoder() if rewrite is not None else None
        raw = bytearray()
        base = 0
        try:
            while data := await reader.read(_CHUNK):
                if writer.is_closing():  # the other side hung up: stop copying
                    return
                if decoder is None:
                    writer.write(data)
                else:
                    decoder.feed(data)
                    raw += data
                    assert rewrite is not None  # the decoder exists to rewrite
                    out, consumed, transparent = _frame(decoder, raw, base, rewrite, state)
                    for chunk in out:
                        writer.write(chunk)
                    del raw[:consumed - base]
                    base = consumed
                    if transparent:
                        writer.write(bytes(raw))
                        raw.clear()
                        decoder = None
                await writer.drain()
            if decoder is not None and raw:
                writer.write(bytes(raw))  # a partial event at EOF goes through as it was
            await writer.drain()
            if half_close and writer.can_write_eof():
                writer.write_eof()
        except _ClosedWith as closed:
            writer.write(closed.pending)
            await writer.drain()
            writer.close()
        except (OSError, ConnectionError):
            pass


def _frame(decoder: Decoder, raw: bytearray, base: int, rewrite: Rewrite,
           state: dict[str, Any]) -> tuple[list[bytes], int, bool]:
    """(bytes to write, stream offset consumed, switch to transparent)."""
    out: list[bytes] = []
    while True:
        start = decoder.offset
        try:
            event = decoder.next_event()
        except ProtocolError as exc:
            if exc.recoverable:  # the packet's extent was known and consumed: pass it on
                out.append(bytes(raw[start - base:decoder.offset - base]))
                continue
            return out, start, True
        if event is None:
            return out, decoder.offset, False
        original = bytes(raw[start - base:decoder.offset - base])
        replacement = rewrite(event, state)
        if replacement is None:
            out.append(original)
            continue
        for item in replacement:
            if item is CLOSE:
                out_closed = b"".join(out)
                raise _ClosedWith(out_closed)
            out.append(encode(item) if isinstance(item, Packet) else bytes(item))


class _ClosedWith(Exception):
    """A mutation hung up: write what came before, then close."""

    def __init__(self, pending: bytes) -> None:
        super().__init__()
        self.pending = pending
