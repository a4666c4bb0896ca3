"""Security properties of the reference server (issue 7): loopback by default, real limits,
shutdown that can be disabled, and no allocation in proportion to a declared size.

Every check runs against a real ``python -m gearcheck.refserver`` process.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

import pytest

from gearcheck.protocol import Packet, PacketType
from gearcheck.refserver.config import RefServerOptions
from gearcheck.robustness.health import process_alive, rss_kib
from gearcheck.targets import ProcessTarget
from gearcheck.targets.refserver import RefServerTarget
from gearcheck.wire import Connection, ConnectionClosed, WireError


class DefaultHostRefServer(ProcessTarget):
    """The reference server started without --host: whatever it binds by default."""

    name = "refserver-default-host"

    def command(self, port: int) -> list[str]:
        return [sys.executable, "-m", "gearcheck.refserver", "--port", str(port)]


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(addr)
    return found


def test_listens_on_loopback_only_by_default(tmp_path: Path) -> None:
    assert RefServerOptions().host == "127.0.0.1"
    with DefaultHostRefServer(log_dir=tmp_path) as server:
        assert _listening_addresses(server.address.port) == {"0100007F"}  # 127.0.0.1


def test_limits_have_safe_defaults() -> None:
    cfg = RefServerOptions()
    assert 0 < cfg.max_packet <= 64 * 1024 * 1024
    assert 0 < cfg.max_line <= 1024 * 1024
    assert 0 < cfg.max_connections <= 100_000
    assert 0 < cfg.max_queued_jobs <= 100_000_000


def test_configured_limits_are_enforced(tmp_path: Path) -> None:
    args = ["--max-connections", "4", "--max-packet", "1024", "--max-queued-jobs", "3"]
    with RefServerTarget(log_dir=tmp_path, extra_args=args) as server:
        # All eight stay open while they are counted: closing one would free a slot and
        # let a later connection be served legitimately.
        conns = [Connection.open(server.address, timeout=2.0) for _ in range(8)]
        answered = 0
        for c in conns:
            try:
                c.echo(b"x", timeout=2.0)
                answered += 1
            except (WireError, OSError):
                pass
        for c in conns:
            c.close()
        assert answered == 4
        time.sleep(0.2)
        with Connection.open(server.address, timeout=3.0) as c:
            c.send(Packet.build("ECHO_REQ", b"y" * 2048))
            with pytest.raises(ConnectionClosed):
                while True:  # an ERROR may come first; the connection must end
                    assert c.recv(3.0).type != PacketType.ECHO_RES  # type: ignore[union-attr]
        with Connection.open(server.address, timeout=3.0) as c:
            replies = []
            for i in range(4):
                c.send(Packet.build("SUBMIT_JOB_BG", "sec-limit", f"u{i}", "d"))
                replies.append(c.recv_packet(3.0).type)
        assert replies[:3] == [PacketType.JOB_CREATED] * 3
        assert replies[3] == PacketType.ERROR


def test_admin_shutdown_can_be_disabled(tmp_path: Path) -> None:
    with RefServerTarget(log_dir=tmp_path / "off", extra_args=["--no-admin-shutdown"]) as server:
        with Connection.open(server.address, timeout=3.0) as c:
            c.send_line("shutdown")
            assert c.recv(3.0).text.startswith(b"ERR")  # type: ignore[union-attr]
            c.echo(b"still up")
        assert server.pid is not None and process_alive(server.pid)
    with RefServerTarget(log_dir=tmp_path / "on") as server:
        proc = server.process
        assert proc is not None
        with Connection.open(server.address, timeout=3.0) as c:
            c.send_line("shutdown")
        proc.wait(10)  # enabled (the default): the server exits


def test_declared_sizes_are_never_allocated(tmp_path: Path) -> None:
    with RefServerTarget(log_dir=tmp_path) as server:
        assert server.pid is not None
        before = rss_kib(server.pid)
        assert before is not None
        socks = []
        try:
            for size in [0xFFFFFFFF] * 10 + [60 << 20] * 20:
                s = socket.create_connection((server.address.host, server.address.port), 3)
                s.sendall(b"\0REQ" + struct.pack(">II", 16, size) + b"z" * 65536)
                socks.append(s)
            time.sleep(1.0)
            with Connection.open(server.address, timeout=3.0) as c:
                c.echo(b"alive")
            after = rss_kib(server.pid)
        finally:
            for s in socks:
                s.close()
        assert after is not None
        # 20 x 60 MiB declared and 10 x 4 GiB: growth must be in the order of what was sent
        assert after - before < 48 * 1024, f"RSS grew from {before} to {after} KiB"
