"""Has the peer read what we sent? The kernel's answer, for a peer on this machine.

Strategy: how a library behaves can depend on how the bytes it gets are split
into reads (pygearman stops handling a read's packets at an ERROR), and TCP
gives the sender no say in that. A case that wants two packets to reach the
library in two separate reads must know that the first was read before it sends
the second. Nothing on the wire says so, but the kernel does, in two steps:

1. our socket's unacknowledged bytes (``TIOCOUTQ``) are zero: everything we sent
   is in the peer's receive queue (the peer's kernel acknowledged it);
2. the peer's socket, found in /proc/net/tcp (or tcp6) by the mirrored address
   pair, has an empty receive queue (``rcv_nxt - copied_seq``): the peer process
   has read all of it.

A peer socket that its process has closed (listed with inode 0, or gone) will
read nothing more, which ``wait_until_read`` reports as ``CLOSED``. Linux only,
and only for a peer on this machine: the harness-as-server cases always are.
"""

from __future__ import annotations

import enum
import fcntl
import socket
import struct
import sys
import termios
import time
from pathlib import Path

PROC_TABLES = {socket.AF_INET: Path("/proc/net/tcp"), socket.AF_INET6: Path("/proc/net/tcp6")}
POLL_S = 0.002


class PeerReadUnknown(OSError):
    """The kernel cannot tell us (not Linux, or the peer is not on this machine)."""


class ReadState(enum.Enum):
    READ = "read"          # everything sent was read by the peer process
    CLOSED = "closed"      # the peer process closed its socket
    PENDING = "pending"    # not yet


def unacknowledged(sock: socket.socket) -> int:
    """Bytes we sent that the peer's kernel has not acknowledged (or we have not sent yet)."""
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
    return int(struct.unpack("i", raw)[0])


def _proc_address(family: int, host: str, port: int) -> str:
    """An address as /proc/net/tcp{,6} writes it: 32-bit words in host byte order, hex."""
    packed = socket.inet_pton(family, host)
    words = [int.from_bytes(packed[i:i + 4], sys.byteorder) for i in range(0, len(packed), 4)]
    return "".join(f"{w:08X}" for w in words) + f":{port:04X}"


def peer_receive_queue(sock: socket.socket) -> int | None:
    """Bytes in the peer's receive queue that its process has not read; None when the
    peer's process no longer has the socket. Raises PeerReadUnknown when the table
    cannot be read or does not list the peer's end at all."""
    family = sock.family
    table = PROC_TABLES.get(family)
    if table is None:
        raise PeerReadUnknown(f"no kernel table for address family {family!r}")
    ours = sock.getsockname()
    try:
        theirs = sock.getpeername()
    except OSError:  # reset by the peer: its process closed the socket with bytes unread
        return None
    # The peer's line has its address as local and ours as remote.
    wanted = (_proc_address(family, theirs[0], theirs[1]), _proc_address(family, ours[0],
                                                                          ours[1]))
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError as exc:
        raise PeerReadUnknown(f"cannot read {table}: {exc}") from None
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or (fields[1].upper(), fields[2].upper()) != wanted:
            continue
        rx_queue = int(fields[4].partition(":")[2], 16)
        inode = int(fields[9])
        return rx_queue if inode != 0 else None
    raise PeerReadUnknown(f"{table} lists no socket {theirs[0]}:{theirs[1]} connected to "
                          f"{ours[0]}:{ours[1]} (is the peer on this machine?)")


def read_state(sock: socket.socket) -> ReadState:
    if unacknowledged(sock) > 0:
        return ReadState.PENDING
    unread = peer_receive_queue(sock)
    if unread is None:
        return ReadState.CLOSED
    return ReadState.READ if unread == 0 else ReadState.PENDING


def wait_until_read(sock: socket.socket, until: float) -> ReadState:
    """READ or CLOSED as soon as it holds, PENDING when ``until`` (monotonic) passes first."""
    while True:
        state = read_state(sock)
        if state is not ReadState.PENDING or time.monotonic() >= until:
            return state
        time.sleep(POLL_S)
