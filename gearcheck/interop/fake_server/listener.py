"""A loopback listener that turns a library's connections into one queue of events.

Strategy: bind port 0 on 127.0.0.1; an accept thread hands each connection
to a reader thread that feeds the codec's ``Decoder`` and queues
(connection id, Packet | AdminLine | "closed" | ProtocolError). The player
consumes that single queue in arrival order and writes replies on the
connection a packet came from. ``close`` shuts everything, so no thread or
socket outlives a case.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any

from ...protocol import Decoder, Packet, ProtocolError, encode


class Listener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.events: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.conns: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.accepted += 1
                cid = self.accepted
                self.conns[cid] = conn
            self.events.put((cid, "connected"))
            threading.Thread(target=self._read, args=(cid, conn), daemon=True).start()

    def _read(self, cid: int, conn: socket.socket) -> None:
        decoder = Decoder()
        while True:
            try:
                data = conn.recv(256 * 1024)
            except OSError:
                data = b""
            if not data:
                self.events.put((cid, "closed"))
                return
            decoder.feed(data)
            try:
                for event in decoder:
                    self.events.put((cid, event))
            except ProtocolError as exc:
                self.events.put((cid, exc))
                self.events.put((cid, "closed"))
                return

    def send(self, cid: int, packet: Packet) -> bytes:
        raw = encode(packet)
        with self._lock:
            conn = self.conns.get(cid)
        if conn is not None:
            try:
                conn.sendall(raw)
            except OSError:
                pass
        return raw

    def hang_up(self, cid: int) -> None:
        with self._lock:
            conn = self.conns.pop(cid, None)
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns, self.conns = list(self.conns.values()), {}
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
