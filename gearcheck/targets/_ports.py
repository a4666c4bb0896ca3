"""Free loopback ports: bind port 0, read what the kernel chose, let it go.

Another process can take the port between the probe and the server's bind;
targets that start servers retry with a new port when that happens.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
