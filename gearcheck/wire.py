"""One blocking Gearman connection on top of the sans-I/O codec.

Strategy: a thin loop around ``protocol.Decoder``: ``send`` encodes and writes,
``recv`` returns the next decoded event and reads from the socket only when the
decoder needs more bytes, each read bounded by what is left of the deadline.
It uses the standard ``socket`` module, so under gevent's monkey-patching (as
in Locust) it yields to other greenlets instead of blocking the process.

Every byte sent and every event received can be reported to an ``observer``
(the scenario engine keeps transcripts that way). Nothing here waits without a
deadline, and nothing allocates what a peer merely declares.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .protocol import (
    DEFAULT_MAX_PAYLOAD,
    AdminLine,
    AdminReplyCollector,
    Decoder,
    Event,
    Packet,
    PacketType,
    encode,
)

DEFAULT_TIMEOUT = 5.0
_RECV_CHUNK = 256 * 1024

Observer = Callable[[str, float, "Event | None", bytes], None]
"""Called as observer(direction, timestamp, event, raw) with direction "send" or "recv"."""


class WireError(Exception):
    """Base of the errors a connection raises besides protocol errors."""


class ConnectTimeout(WireError, TimeoutError):
    pass


class ConnectFailed(WireError, ConnectionError):
    pass


class ReceiveTimeout(WireError, TimeoutError):
    """No complete event arrived before the deadline."""


class ConnectionClosed(WireError, EOFError):
    """The peer closed the connection (cleanly, between events)."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int = 4730) -> Address:
        """'host:port', 'host' or ':port'; IPv6 in brackets ('[::1]:4730')."""
        text = text.strip()
        if not text:
            raise ValueError("empty server address")
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, port_text = text.split(":")
        else:
            host, port_text = text, ""
        host = host or "127.0.0.1"
        if not port_text:
            return cls(host, default_port)
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"server address {text!r}: port {port_text!r} is not a number") \
                from None
        if not 0 < port < 65536:
            raise ValueError(f"server address {text!r}: port {port} is out of range")
        return cls(host, port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Connection:
    """A blocking, deadline-bounded Gearman connection."""

    def __init__(self, sock: socket.socket, *, address: Address | None = None,
                 max_payload: int = DEFAULT_MAX_PAYLOAD, observer: Observer | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sock = sock
        self.address = address
        self.timeout = timeout
        self.decoder = Decoder(max_payload=max_payload)
        self.observer = observer
        self.closed = False

    @classmethod
    def open(cls, address: Address | str | tuple[str, int], *,
             timeout: float = DEFAULT_TIMEOUT, connect_timeout: float | None = None,
             **kwargs: object) -> Connection:
        if isinstance(address, str):
            address = Address.parse(address)
        elif isinstance(address, tuple):
            address = Address(*address)
        try:
            sock = socket.create_connection((address.host, address.port),
                                            timeout=connect_timeout or timeout)
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {address} timed out after "
                                 f"{connect_timeout or timeout:.1f}s") from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {address}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, address=address, timeout=timeout, **kwargs)  # type: ignore[arg-type]

    # -- sending -----------------------------------------------------------
    def send(self, packet: Packet) -> None:
        raw = encode(packet)
        self._note("send", packet, raw)
        self._sendall(raw)

    def send_many(self, packets: Iterable[Packet]) -> None:
        """Several packets in one write (pipelining)."""
        chunks = []
        for p in packets:
            raw = encode(p)
            self._note("send", p, raw)
            chunks.append(raw)
        self._sendall(b"".join(chunks))

    def send_raw(self, data: bytes) -> None:
        self._note("send", None, data)
        self._sendall(data)

    def send_line(self, text: str | bytes) -> None:
        line = text.encode("utf-8") if isinstance(text, str) else text
        if not line.endswith(b"\n"):
            line += b"\n"
        self._note("send", AdminLine(line.rstrip(b"\r\n")), line)
        self._sendall(line)

    def _sendall(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise ReceiveTimeout(f"sending {len(data)} bytes to {self.address} did not finish "
                                 f"within {self.timeout:.1f}s (peer not reading)") from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ConnectionClosed(f"{self.address} closed the connection while we were "
                                   f"sending ({exc.strerror})") from None

    # -- receiving ---------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Event:
        """The next packet or admin line; ReceiveTimeout / ConnectionClosed otherwise."""
        event = self.decoder.next_event()
        if event is not None:
            if self.observer is not None:  # re-encoding costs: only for a transcript
                self._note("recv", event, _raw_of(event))
            return event
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self.decoder.at_eof:
                raise ConnectionClosed(f"{self.address} closed the connection")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReceiveTimeout(
                    f"nothing complete from {self.address} within "
                    f"{self.timeout if timeout is None else timeout:.3f}s"
                    + (f" ({self.decoder.buffered} byte(s) of a partial event buffered)"
                       if self.decoder.buffered else ""))
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(_RECV_CHUNK)
            except TimeoutError:
                continue
            except (ConnectionResetError, ConnectionAbortedError):
                data = b""
            if data:
                self.decoder.feed(data)
            else:
                self.decoder.feed_eof()
            event = self.decoder.next_event()
            if event is not None:
                if self.observer is not None:
                    self._note("recv", event, _raw_of(event))
                return event

    def recv_packet(self, timeout: float | None = None) -> Packet:
        event = self.recv(timeout)
        if not isinstance(event, Packet):
            raise WireError(f"expected a binary packet from {self.address}, got {event!r}")
        return event

    def expect(self, ptype: PacketType, timeout: float | None = None) -> Packet:
        """The next packet, which must be of type ``ptype``."""
        packet = self.recv_packet(timeout)
        if packet.type != ptype:
            detail = ""
            if packet.type == PacketType.ERROR:
                detail = f" ({packet.args[0]!r}: {packet.args[1]!r})"
            raise WireError(f"expected {ptype.name} from {self.address}, "
                            f"got {packet.name}{detail}")
        return packet

    def request(self, packet: Packet, reply: PacketType, timeout: float | None = None) -> Packet:
        self.send(packet)
        return self.expect(reply, timeout)

    def admin(self, command: str, timeout: float | None = None) -> list[bytes]:
        """Send one admin command and return its reply lines (with the closing '.')."""
        self.send_line(command)
        collector = AdminReplyCollector(command)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not collector.done:
            event = self.recv(max(0.0, deadline - time.monotonic()))
            if not isinstance(event, AdminLine):
                raise WireError(f"expected a text reply to {command!r} from {self.address}, "
                                f"got {event!r}")
            collector.feed_line(event.text)
        return collector.lines

    def echo(self, data: bytes = b"ping", timeout: float | None = None) -> float:
        """Round-trip an ECHO_REQ; returns the seconds it took."""
        start = time.perf_counter()
        reply = self.request(Packet.build(PacketType.ECHO_REQ, data), PacketType.ECHO_RES,
                             timeout)
        if reply.args[0] != data:
            raise WireError(f"ECHO_RES from {self.address} carried {reply.args[0][:40]!r}, "
                            f"sent {data[:40]!r}")
        return time.perf_counter() - start

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _note(self, direction: str, event: Event | None, raw: bytes) -> None:
        if self.observer is not None:
            self.observer(direction, time.time(), event, raw)


def _raw_of(event: Event) -> bytes:
    if isinstance(event, Packet):
        return encode(event)
    return event.text + b"\n"


def connect(address: Address | str | tuple[str, int], **kwargs: object) -> Connection:
    return Connection.open(address, **kwargs)  # type: ignore[arg-type]
