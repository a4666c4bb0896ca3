"""Small deliberately hostile Gearman servers for the engine's own tests.

Strategy: one listening socket on a free loopback port and a thread per
connection. Each server reads whole packets with the real decoder and then
misbehaves in one named way: answers ECHO late, never answers, answers with
bytes that are not Gearman framing, or closes the connection. Used as context
managers so every thread and socket is gone when the test ends.
"""

from __future__ import annotations

import socket
import threading
import time

from gearcheck.protocol import Decoder, Packet, PacketType, encode


class HostileServer:
    def __init__(self, mode: str, delay: float = 0.0) -> None:
        self.mode = mode
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        decoder = Decoder()
        conn.settimeout(0.2)
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                decoder.feed(data)
                for event in decoder:
                    if not isinstance(event, Packet) or event.type != PacketType.ECHO_REQ:
                        continue
                    if self.mode == "close":
                        return
                    if self.mode == "silent":
                        continue
                    if self.mode == "garbage":
                        conn.sendall(b"\x00BAD\x00\x00\x00\x11\x00\x00\x00\x00")
                        continue
                    if self.mode == "late":
                        time.sleep(self.delay)
                    conn.sendall(encode(Packet.build(PacketType.ECHO_RES, event.args[0])))
