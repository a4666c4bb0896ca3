"""Play one hostile input against a server, over real sockets, within bounded time.

Strategy: a ``FuzzInput`` is plain data (the bytes, how to send them, over how
many connections, how to end) so it can be generated, shrunk, saved as hex and
replayed. ``play`` opens the connections, writes the bytes in one go or in
chunks (one byte per write is the dribble), drains whatever the server answers
for a short while (capped in time and bytes: nothing the server declares is
ever allocated), then closes with FIN or RST. Every socket operation has a
timeout; a server that refuses or stalls is simply noted, because judging it
is the sentinel's job.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field, replace

from ..wire import Address

ENDINGS = ("close", "reset", "drop")  # FIN after draining, RST after draining, FIN at once
_DRAIN_CAP = 1 << 20


@dataclass(frozen=True)
class FuzzInput:
    kind: str  # what generated it, e.g. "packet:huge-size", "mutation", "dribble"
    payload: bytes
    chunk_size: int = 0  # 0: one write; n: n bytes per write (1 = dribble)
    connections: int = 1
    ending: str = "close"
    notes: tuple[str, ...] = field(default=())

    def smaller(self, **changes: object) -> FuzzInput:
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "bytes": len(self.payload), "chunk_size": self.chunk_size,
                "connections": self.connections, "ending": self.ending,
                "notes": list(self.notes)}


@dataclass
class PlayResult:
    connected: int = 0
    refused: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    closed_by_server: int = 0
    send_stalled: int = 0


def play(inp: FuzzInput, address: Address, *, connect_timeout: float = 2.0,
         drain_s: float = 0.05, max_drain_s: float = 0.3) -> PlayResult:
    result = PlayResult()
    socks: list[socket.socket] = []
    try:
        for _ in range(max(1, inp.connections)):
            try:
                s = socket.create_connection((address.host, address.port),
                                             timeout=connect_timeout)
            except OSError:
                result.refused += 1
                continue
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
            result.connected += 1
        for s in socks:
            _send(s, inp, result)
        if inp.ending != "drop":
            deadline = time.monotonic() + max_drain_s
            for s in socks:
                _drain(s, deadline, drain_s, result)
    finally:
        for s in socks:
            if inp.ending == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                s.close()
            except OSError:
                pass
    return result


def _send(s: socket.socket, inp: FuzzInput, result: PlayResult) -> None:
    s.settimeout(1.0)
    step = inp.chunk_size or len(inp.payload) or 1
    try:
        for i in range(0, len(inp.payload), step):
            s.sendall(inp.payload[i:i + step])
            result.bytes_sent += len(inp.payload[i:i + step])
    except TimeoutError:
        result.send_stalled += 1
    except OSError:
        result.closed_by_server += 1


def _drain(s: socket.socket, deadline: float, quiet_s: float, result: PlayResult) -> None:
    got = 0
    while got < _DRAIN_CAP:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        s.settimeout(min(quiet_s, remaining))
        try:
            data = s.recv(65536)
        except TimeoutError:
            return
        except OSError:
            result.closed_by_server += 1
            return
        if not data:
            result.closed_by_server += 1
            return
        got += len(data)
        result.bytes_received += len(data)
