"""Ride out a managed server's restart: wait for a refused port to listen again, once.

Strategy: when the harness runs a server that crashes, it starts it again on
the same port (targets.crash_watch). The probe or the case that connects in
the fraction of a second before it listens again would be refused and judged
on a dead server: the probe would mark every later packet unsupported, the
case would be an ERROR that says nothing about the implementation. So a
refused connect waits up to ``WAIT_S`` for the port to listen again and tries
once more. A port that stays refused is remembered: the next refusals fail at
once (a server that is really gone costs one wait, not one per case), until a
connect succeeds again. Only refusals wait; timeouts and TLS failures do not.
"""

from __future__ import annotations

import socket
import time

from ..wire import Address, ConnectFailed, Connection, TLSFailed

WAIT_S = 4.0
POLL_S = 0.05
_gone: set[str] = set()


def listening(address: Address, within: float) -> bool:
    """True once a TCP connect to ``address`` succeeds before ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((address.host, address.port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


def open_riding_restarts(address: Address, **kwargs: object) -> Connection:
    """``Connection.open``, waiting once for a refused port that may be restarting."""
    try:
        conn = Connection.open(address, **kwargs)  # type: ignore[arg-type]
    except TLSFailed:
        raise
    except ConnectFailed:
        key = str(address)
        if key in _gone or not listening(address, WAIT_S):
            _gone.add(key)
            raise
        conn = Connection.open(address, **kwargs)  # type: ignore[arg-type]
    _gone.discard(str(address))
    return conn
