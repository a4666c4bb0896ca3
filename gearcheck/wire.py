"""One blocking Gearman connection on top of the sans-I/O codec.

Strategy: a thin loop around ``protocol.Decoder``: ``send`` encodes and writes,
``recv`` returns the next decoded event and reads from the socket only when the
decoder needs more bytes, each read bounded by what is left of the deadline.
It uses the standard ``socket`` module, so under gevent's monkey-patching (as
in Locust) it yields to other greenlets instead of blocking the process.

Every write and every event received can be reported to an ``observer`` (the
scenario engine keeps transcripts and captures that way) with the exact bytes
that went out or came in for it, never a re-encoding: a send reports the bytes
it writes, a receive the bytes the decoder consumed for the event (the span
between the decoder's stream offsets before and after it), kept only while an
observer listens. The end of the stream is reported once, as ``END_OF_STREAM``
(and raised to the caller as ``ConnectionClosed``); bytes that break the
framing are reported once, with the ``ProtocolError``. Each report carries the
wall-clock time of the write, or of the socket read that completed the event.
A connection knows its socket's real ``local`` and ``peer`` endpoints.

Nothing here waits without a deadline, and nothing allocates what a peer
merely declares.

TLS: a ``TLSClient`` (the CA to trust, and a client certificate for servers
that require one) wraps the socket right after connecting; the handshake has
the connect deadline. ``Connection.open`` uses the process's default
(``set_default_tls``, which ``--tls`` sets) unless given ``tls=`` (``None``
forces plaintext, as a case that checks a server refuses it needs). A failed
handshake or a TLS alert later is one ``WireError`` whose message says what
the peer or the certificate check said, never a traceback.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from .protocol import (
    DEFAULT_MAX_PAYLOAD,
    AdminLine,
    AdminReplyCollector,
    Decoder,
    Event,
    Packet,
    PacketType,
    ProtocolError,
    encode,
)

DEFAULT_TIMEOUT = 5.0
CONNECT_DEADLINE_S = 8.0
"""Connecting to a live server: when its listen backlog is full (gear.Server listens with a
backlog of 1, and cases run side by side) the kernel drops the SYN and sends it again after
1 s, 3 s and 7 s. A shorter deadline takes a slow accept for a failure."""
_RECV_CHUNK = 256 * 1024
_COMPACT_UNREPORTED_AT = 1 << 16



class EndOfStream:
    """The peer closed the connection: the one value that stands for end of stream."""

    _instance: EndOfStream | None = None

    def __new__(cls) -> EndOfStream:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<connection closed>"


END_OF_STREAM: Final = EndOfStream()


class Observer(Protocol):
    """Told of every write and every event read, with the bytes that made it.

    ``direction`` is "send" or "recv"; ``wall`` is ``time.time()`` of the write or of
    the socket read that completed the event; ``what`` is, for a send, what the caller
    said the bytes are (the ``Packet`` or ``AdminLine`` it encoded, or the ``about`` of
    ``send_raw``: None when it said nothing) and, for a receive, the decoded ``Event``,
    ``END_OF_STREAM`` (``raw`` empty) or the ``ProtocolError`` that stopped the framing
    (``raw``: every byte read and not framed); ``raw`` is exactly the bytes written or read.
    """

    def __call__(self, direction: str, wall: float, what: Any, raw: bytes) -> None: ...


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


class TLSFailed(ConnectFailed):
    """The TLS handshake failed (certificate check, protocol, or the peer hung up)."""


class TLSSetupError(WireError, ValueError):
    """A TLS option cannot be used (an unreadable CA, certificate or key file)."""


@dataclass(frozen=True)
class TLSClient:
    """How gearcheck reaches a server over TLS.

    ``ca``: the CA file that must have signed the server's certificate (None: the
    system's trust store). ``cert``/``key``: the client certificate, for servers
    that require one. ``server_name``: the name checked against the server's
    certificate (default: the host of the address, an IP address included).
    """

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None

    def context(self) -> ssl.SSLContext:
        return _tls_context(self)

    def to_dict(self) -> dict[str, str | None]:
        return {"ca": str(self.ca) if self.ca else None,
                "cert": str(self.cert) if self.cert else None,
                "key": str(self.key) if self.key else None, "server_name": self.server_name}

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> TLSClient:
        def path(key: str) -> Path | None:
            value = data.get(key)
            return Path(value) if value else None
        return cls(ca=path("ca"), cert=path("cert"), key=path("key"),
                   server_name=data.get("server_name") or None)

    def describe(self) -> str:
        parts = [f"CA {self.ca}" if self.ca else "system CAs"]
        if self.cert:
            parts.append(f"client certificate {self.cert}")
        return "TLS (" + ", ".join(parts) + ")"


@functools.lru_cache(maxsize=16)
def _tls_context(tls: TLSClient) -> ssl.SSLContext:
    if tls.key is not None and tls.cert is None:
        raise TLSSetupError("a TLS client key was given without its certificate (--tls-cert)")
    try:
        context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise TLSSetupError(f"TLS CA file {tls.ca}: cannot be used "
                            f"({getattr(exc, 'strerror', None) or exc})") from None
    if tls.cert is not None:
        try:
            context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
        except (OSError, ssl.SSLError) as exc:
            raise TLSSetupError(f"TLS client certificate {tls.cert} / key {tls.key}: cannot be "
                                f"used ({getattr(exc, 'strerror', None) or exc})") from None
    return context


_default_tls: TLSClient | None = None


def set_default_tls(tls: TLSClient | None) -> None:
    """Make every ``Connection.open`` without ``tls=`` use ``tls`` (None: plaintext)."""
    global _default_tls
    if tls is not None:
        tls.context()  # a bad file fails here, once, with its name
    _default_tls = tls


def default_tls() -> TLSClient | None:
    return _default_tls


# TLS by address: a server gearcheck starts with TLS says so here while it runs, so every
# connection to it (the probe, the cases, explore's lanes) speaks TLS and no other does.
_tls_by_address: dict[Address, TLSClient] = {}


def use_tls_for(address: Address, tls: TLSClient | None) -> None:
    """Connections to ``address`` without ``tls=`` use ``tls`` (None: forget the address)."""
    if tls is None:
        _tls_by_address.pop(address, None)
    else:
        _tls_by_address[address] = tls


def tls_for(address: Address) -> TLSClient | None:
    return _tls_by_address.get(address, _default_tls)


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the server's certificate was not accepted: {exc.verify_message} (is the "
                "TLS CA the one that signed it?)")
    reason = getattr(exc, "reason", None) or str(exc)
    return str(reason).replace("_", " ").lower()


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

    @classmethod
    def of_socket(cls, sock: socket.socket, peer: bool = False) -> Address | None:
        """The socket's own (or, with ``peer``, its peer's) address; None once it is gone."""
        try:
            name = sock.getpeername() if peer else sock.getsockname()
        except OSError:
            return None
        if not isinstance(name, tuple):  # an AF_UNIX socket: no host and port
            return None
        return cls(str(name[0]), int(name[1]))

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
        self.observer = observer  # given here, before any byte is read, or never
        self.closed = False
        self.local = Address.of_socket(sock)
        self.peer = Address.of_socket(sock, peer=True)
        # For an observer: the bytes read and not yet reported are _unreported[_unreported_pos:],
        # starting at stream offset _unreported_at (a read position, not front deletions:
        # a 10,000-row admin reply read at once would otherwise be copied 10,000 times).
        self._unreported = bytearray()
        self._unreported_pos = 0
        self._unreported_at = 0
        self._read_wall = 0.0
        self._ended_reported = False

    @classmethod
    def open(cls, address: Address | str | tuple[str, int], *,
             timeout: float = DEFAULT_TIMEOUT, connect_timeout: float | None = None,
             tls: TLSClient | Literal["default"] | None = "default",
             **kwargs: object) -> Connection:
        if isinstance(address, str):
            address = Address.parse(address)
        elif isinstance(address, tuple):
            address = Address(*address)
        if tls == "default":
            tls = tls_for(address)
        context = tls.context() if tls is not None else None
        try:
            sock = socket.create_connection((address.host, address.port),
                                            timeout=connect_timeout or timeout)
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {address} timed out after "
                                 f"{connect_timeout or timeout:.1f}s") from None
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {address}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            assert tls is not None
            sock = _handshake(context, sock, address, tls.server_name or address.host,
                              connect_timeout or timeout)
        return cls(sock, address=address, timeout=timeout, **kwargs)  # type: ignore[arg-type]

    # -- sending -----------------------------------------------------------
    def send(self, packet: Packet) -> None:
        raw = encode(packet)
        if self.observer is not None:
            self.observer("send", time.time(), packet, raw)
        self._sendall(raw)

    def send_many(self, packets: Iterable[Packet]) -> None:
        """Several packets in one write (pipelining); an observer hears of each."""
        chunks = []
        observer = self.observer
        wall = time.time()
        for p in packets:
            raw = encode(p)
            if observer is not None:
                observer("send", wall, p, raw)
            chunks.append(raw)
        self._sendall(b"".join(chunks))

    def send_raw(self, data: bytes, about: object = None) -> None:
        """Write ``data`` as it is; ``about`` says what it is, for the observer only."""
        if self.observer is not None:
            self.observer("send", time.time(), about, data)
        self._sendall(data)

    def send_line(self, text: str | bytes) -> None:
        line = text.encode("utf-8") if isinstance(text, str) else text
        if not line.endswith(b"\n"):
            line += b"\n"
        if self.observer is not None:
            self.observer("send", time.time(), AdminLine(line.rstrip(b"\r\n")), line)
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
        except ssl.SSLError as exc:
            raise ConnectionClosed(f"{self.address} ended the TLS session while we were "
                                   f"sending: {_tls_reason(exc)}") from None

    # -- receiving ---------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Event:
        """The next packet or admin line; ReceiveTimeout / ConnectionClosed otherwise."""
        event = (self.decoder.next_event() if self.observer is None
                 else self._observed_next_event())
        if event is not None:
            return event
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self.decoder.at_eof:
                if self.observer is not None and not self._ended_reported:
                    self._ended_reported = True
                    self.observer("recv", self._read_wall, END_OF_STREAM, b"")
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
            except ssl.SSLError as exc:  # an alert: e.g. the server wants a client certificate
                raise ConnectionClosed(f"{self.address} ended the TLS session: "
                                       f"{_tls_reason(exc)}") from None
            if self.observer is not None:
                self._read_wall = time.time()
                self._unreported += data
            if data:
                self.decoder.feed(data)
            else:
                self.decoder.feed_eof()
            event = (self.decoder.next_event() if self.observer is None
                     else self._observed_next_event())
            if event is not None:
                return event

    def _observed_next_event(self) -> Event | None:
        """The decoder's next event; the observer is told of it with the bytes it spans."""
        try:
            event = self.decoder.next_event()
        except ProtocolError as exc:
            if self._ended_reported:
                raise
            if self.decoder.failed is exc:  # framing is lost: everything unread is garbage
                self._ended_reported = True
                self._report_received(exc, len(self._unreported) - self._unreported_pos)
            else:                            # the event's extent was known: those bytes
                self._report_received(exc, self.decoder.offset - self._unreported_at)
            raise
        if event is not None:
            self._report_received(event, self.decoder.offset - self._unreported_at)
        return event

    def _report_received(self, what: object, size: int) -> None:
        buf, start = self._unreported, self._unreported_pos
        raw = bytes(buf[start:start + size])
        end = start + size
        if end >= len(buf):
            buf.clear()
            end = 0
        elif end > _COMPACT_UNREPORTED_AT:
            del buf[:end]
            end = 0
        self._unreported_pos = end
        self._unreported_at += size
        assert self.observer is not None
        self.observer("recv", self._read_wall, what, raw)

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

def _handshake(context: ssl.SSLContext, sock: socket.socket, address: Address,
               server_name: str, timeout: float) -> socket.socket:
    sock.settimeout(timeout)
    try:
        return context.wrap_socket(sock, server_hostname=server_name)
    except TimeoutError:
        sock.close()
        raise ConnectTimeout(f"TLS handshake with {address} did not finish within "
                             f"{timeout:.1f}s (does the server speak TLS on this port?)") from None
    except ssl.SSLError as exc:
        sock.close()
        raise TLSFailed(f"TLS handshake with {address} failed: {_tls_reason(exc)}") from None
    except OSError as exc:
        sock.close()
        raise TLSFailed(f"TLS handshake with {address} failed: the server closed the "
                        f"connection ({exc.strerror or exc}; does it speak TLS?)") from None


def connect(address: Address | str | tuple[str, int], **kwargs: object) -> Connection:
    return Connection.open(address, **kwargs)  # type: ignore[arg-type]
