"""Small, deliberately hostile TCP servers for testing that the harness survives them.

Strategy: one listening socket on a free loopback port and one thread per
connection, each running a behaviour function that ignores what the harness
says and misbehaves in one specific way. They are the fakes whose
misbehaviour *is* the subject. ``HostileServer`` is a context manager that
always closes every socket and joins its threads. Run as a script
(``python hostile_servers.py fragile --port N``) the ``fragile`` server is a
real process the fuzzer can crash and restart: it answers ECHO and ``workers``
like a server, and exits on the first bad magic it sees.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[socket.socket, threading.Event], None]


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Bytes that are no Gearman at all: a binary-looking header with a bad magic."""
    conn.sendall(b"\0XYZ\xde\xad\xbe\xef" * 64)
    stop.wait(30)


def _trickle(conn: socket.socket, stop: threading.Event, chunk: bytes, pause_s: float) -> None:
    """Send ``chunk`` every ``pause_s`` until stopped or the peer goes away."""
    while not stop.is_set():
        try:
            conn.sendall(chunk)
        except OSError:
            return
        time.sleep(pause_s)


def _endless_reply(conn: socket.socket, stop: threading.Event) -> None:
    """A reply that never ends: a valid header declaring 32 MiB, then a trickle forever."""
    conn.sendall(b"\0RES" + struct.pack(">II", 17, 32 << 20))
    _trickle(conn, stop, b"x" * 256, 0.01)


def _endless_line(conn: socket.socket, stop: threading.Event) -> None:
    """An admin-style line that never gets its newline."""
    _trickle(conn, stop, b"a" * 4096, 0.005)


def _four_gib(conn: socket.socket, stop: threading.Event) -> None:
    """An ECHO_RES header declaring 4 GiB - 1, and a few bytes of it."""
    conn.sendall(b"\0RES" + struct.pack(">II", 17, 0xFFFFFFFF) + b"abc")
    stop.wait(30)


def _close_mid_packet(conn: socket.socket, stop: threading.Event) -> None:
    """Half of a JOB_CREATED packet, then the connection closes."""
    conn.recv(65536)
    conn.sendall(b"\0RES" + struct.pack(">II", 8, 10) + b"H:x")


def _never_reads(conn: socket.socket, stop: threading.Event) -> None:
    """Accepts, then neither reads nor writes."""
    stop.wait(60)


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    """Accepts and resets the connection at once."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


BEHAVIOURS: dict[str, Behaviour] = {
    "garbage": _garbage, "endless-reply": _endless_reply, "endless-line": _endless_line,
    "four-gib": _four_gib, "close-mid-packet": _close_mid_packet, "never-reads": _never_reads,
    "reset": _reset,
}
NEVER_ACCEPTS = "never-accepts"
ALL_KINDS = (*BEHAVIOURS, NEVER_ACCEPTS)


class HostileServer:
    """One hostile behaviour on a free loopback port, for the length of a ``with`` block."""

    def __init__(self, kind: str) -> None:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown hostile server {kind!r}; known: {', '.join(ALL_KINDS)}")
        self.kind = kind
        self.stop = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1 if kind == NEVER_ACCEPTS else 64)
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.conns: list[socket.socket] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        if self.kind != NEVER_ACCEPTS:
            t = threading.Thread(target=self._accept_loop, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        try:
            BEHAVIOURS[self.kind](conn, self.stop)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


# -- the fragile server, a real process the fuzzer may crash --------------------------
def _fragile_connection(conn: socket.socket) -> None:
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while buf:
            if buf[0] != 0:
                line, sep, rest = buf.partition(b"\n")
                if not sep:
                    break
                buf = rest
                if line.strip().startswith(b"workers"):
                    conn.sendall(f"{threading.active_count() - 1} 127.0.0.1 - :\n.\n".encode())
                continue
            if len(buf) < 12:
                break
            magic, ptype, size = buf[:4], *struct.unpack(">II", buf[4:12])
            if magic not in (b"\0REQ", b"\0RES"):
                os._exit(3)  # the defect the fuzzer must find: a bad magic kills the process
            if len(buf) < 12 + size:
                break
            payload, buf = buf[12:12 + size], buf[12 + size:]
            if ptype == 16:
                conn.sendall(b"\0RES" + struct.pack(">II", 17, len(payload)) + payload)


def serve_fragile(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_fragile_connection, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["fragile"])
    parser.add_argument("--port", type=int, required=True)
    serve_fragile(parser.parse_args().port)
