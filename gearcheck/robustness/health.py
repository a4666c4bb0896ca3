"""The sentinel: after every hostile input, is the server still well?

Strategy: one long-lived connection of our own (the sentinel) that never
sends anything hostile. ``check`` asks it for an ECHO (or, for servers that
do not answer ECHO, an admin ``status``) within a deadline; a refused
reconnect or an exited process means the server died. Connection leaks are
measured from the server's own view where it offers one (the admin
``workers`` listing has one row per connection in gearmand and the reference
server) and otherwise from /proc/<pid>/fd when we started the process; the
count must come back to the baseline within a grace period once the input's
sockets are closed. Memory is the RSS in /proc/<pid>/status, compared with the
baseline taken before the first input.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..protocol import ProtocolError
from ..wire import Address, Connection, WireError

FINDING_KINDS = ("died", "unresponsive", "leak", "memory")
_WORKERS_MAX_LINE = 16 << 20


@dataclass(frozen=True)
class Health:
    ok: bool
    kind: str = ""  # one of FINDING_KINDS when not ok
    detail: str = ""


def rss_kib(pid: int) -> int | None:
    """Resident set size of a process in KiB (None when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def open_sockets(pid: int) -> int | None:
    """How many sockets a process holds open (listening ones included)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Sentinel:
    """Health checks on a server that is being fed hostile input."""

    def __init__(self, address: Address, *, deadline_s: float = 5.0, pid: int | None = None,
                 leak_grace_s: float = 3.0, memory_limit_mib: int = 256) -> None:
        self.address = address
        self.deadline_s = deadline_s
        self.pid = pid
        self.leak_grace_s = leak_grace_s
        self.memory_limit_kib = memory_limit_mib * 1024
        self._conn: Connection | None = None
        self.probe = "echo"
        self.count_source = "none"  # "workers", "proc" or "none"
        self.baseline_connections: int | None = None
        self.baseline_rss_kib: int | None = None
        self.peak_rss_kib: int | None = None

    # -- set-up ------------------------------------------------------------
    def start(self) -> Sentinel:
        conn = self._connection()
        try:
            conn.echo(b"sentinel", timeout=self.deadline_s)
        except WireError:
            self.close()
            conn = self._connection()
            conn.admin("status", timeout=self.deadline_s)
            self.probe = "status"
        if self._workers_count() is not None:
            self.count_source = "workers"
        elif self.pid is not None and open_sockets(self.pid) is not None:
            self.count_source = "proc"
        self.baseline_connections = self.connections()
        if self.pid is not None:
            self.baseline_rss_kib = self.peak_rss_kib = rss_kib(self.pid)
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = Connection.open(self.address, timeout=self.deadline_s)
            # ``workers`` rows list every registered function: fuzzed 64 KiB names included
            self._conn.decoder.max_line = _WORKERS_MAX_LINE
        return self._conn

    # -- checks ------------------------------------------------------------
    def answers(self) -> Health:
        """Does the sentinel get its ECHO (or status) answered within the deadline?"""
        if self.pid is not None and not process_alive(self.pid):
            return Health(False, "died", f"server process {self.pid} exited")
        for attempt in range(2):
            try:
                conn = self._connection()
                if self.probe == "echo":
                    token = f"sentinel-{time.monotonic_ns()}".encode()
                    conn.echo(token, timeout=self.deadline_s)
                else:
                    conn.admin("status", timeout=self.deadline_s)
                return Health(True)
            except (OSError, WireError, ProtocolError) as exc:
                self.close()
                refused = isinstance(exc, ConnectionRefusedError) or "refused" in str(exc)
                if refused or (self.pid is not None and not process_alive(self.pid)):
                    return Health(False, "died", f"server at {self.address} is gone: {exc}")
                if attempt == 1:
                    return Health(False, "unresponsive",
                                  f"sentinel {self.probe} not answered within "
                                  f"{self.deadline_s:.1f}s: {exc}")
        raise AssertionError("unreachable")

    def connections(self) -> int | None:
        if self.count_source == "workers":
            return self._workers_count()
        if self.count_source == "proc" and self.pid is not None:
            return open_sockets(self.pid)
        return None

    def _workers_count(self) -> int | None:
        try:
            lines = self._connection().admin("workers", timeout=self.deadline_s)
        except (OSError, WireError, ValueError, ProtocolError):
            self.close()
            return None
        if lines and lines[0].startswith(b"ERR"):
            return None
        return sum(1 for line in lines if line.strip() != b".")

    def no_leak(self) -> Health:
        if self.baseline_connections is None:
            return Health(True)
        deadline = time.monotonic() + self.leak_grace_s
        count = self.connections()
        while count is not None and count > self.baseline_connections:
            if time.monotonic() > deadline:
                return Health(False, "leak",
                              f"{count} connections open ({self.count_source}) after the input's "
                              f"sockets closed; {self.baseline_connections} before "
                              f"(waited {self.leak_grace_s:.0f}s)")
            time.sleep(0.02)
            count = self.connections()
        if count is not None and count < self.baseline_connections:
            self.baseline_connections = count
        return Health(True)

    def memory_bounded(self) -> Health:
        if self.pid is None or self.baseline_rss_kib is None:
            return Health(True)
        rss = rss_kib(self.pid)
        if rss is None:
            return Health(True)
        self.peak_rss_kib = max(self.peak_rss_kib or 0, rss)
        if rss - self.baseline_rss_kib > self.memory_limit_kib:
            return Health(False, "memory",
                          f"server RSS {rss // 1024} MiB, {(rss - self.baseline_rss_kib) // 1024} "
                          f"MiB above the {self.baseline_rss_kib // 1024} MiB baseline")
        return Health(True)

    def check(self) -> Health:
        for probe in (self.answers, self.no_leak, self.memory_bounded):
            health = probe()
            if not health.ok:
                return health
        return Health(True)
