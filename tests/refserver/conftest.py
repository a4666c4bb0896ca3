"""Fixtures for the reference-server tests: both servers, and a small toolkit.

``server`` runs each behavioural test twice, against gearcheck's reference
server and against the real gearmand 1.1.20, so the two are compared on the
same cases; tests that pin down a difference branch on ``server.name``.
``kit`` opens connections (always closed at the end), names functions
uniquely per test (the servers are shared by the whole session) and wraps the
request/reply steps the tests repeat.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from gearcheck.protocol import Packet, PacketType
from gearcheck.targets import ProcessTarget
from gearcheck.wire import Connection, ReceiveTimeout

T = PacketType


@pytest.fixture(params=["refserver", "gearmand"])
def server(request: pytest.FixtureRequest) -> ProcessTarget:
    return request.getfixturevalue(request.param)


class Kit:
    def __init__(self, target: ProcessTarget) -> None:
        self.target = target
        self.name = target.name
        self.conns: list[Connection] = []
        self._tag = uuid.uuid4().hex[:8]
        self._n = itertools.count(1)

    def conn(self) -> Connection:
        c = Connection.open(self.target.address, timeout=5.0)
        self.conns.append(c)
        return c

    def fn(self, label: str = "f") -> bytes:
        return f"{label}-{self._tag}-{next(self._n)}".encode()

    @staticmethod
    def sync(c: Connection) -> None:
        """Round-trip an ECHO so everything sent before it was processed."""
        c.echo(b"sync")

    def worker(self, *functions: bytes, client_id: bytes | None = None) -> Connection:
        w = self.conn()
        if client_id is not None:
            w.send(Packet.build(T.SET_CLIENT_ID, client_id))
        for f in functions:
            w.send(Packet.build(T.CAN_DO, f))
        self.sync(w)
        return w

    @staticmethod
    def submit(c: Connection, function: bytes, data: bytes = b"x", unique: bytes = b"",
               ptype: PacketType = T.SUBMIT_JOB) -> bytes:
        c.send(Packet.build(ptype, function, unique, data))
        return c.expect(T.JOB_CREATED).args[0]

    @staticmethod
    def grab(w: Connection, ptype: PacketType = T.GRAB_JOB_UNIQ) -> Packet:
        w.send(Packet.build(ptype))
        return w.recv_packet()

    @staticmethod
    def silent(c: Connection, timeout: float = 0.3) -> None:
        try:
            event = c.recv(timeout)
        except ReceiveTimeout:
            return
        raise AssertionError(f"expected nothing, got {event!r}")

    @staticmethod
    def status(c: Connection, handle: bytes) -> tuple[bytes, ...]:
        c.send(Packet.build(T.GET_STATUS, handle))
        return c.expect(T.STATUS_RES).args

    def function_status(self, function: bytes) -> tuple[int, int, int] | None:
        c = self.conn()
        for row in c.admin("status")[:-1]:
            name, total, running, workers = row.split(b"\t")
            if name == function:
                return int(total), int(running), int(workers)
        return None

    def close(self) -> None:
        for c in self.conns:
            c.close()


@pytest.fixture
def kit(server: ProcessTarget) -> Iterator[Kit]:
    k = Kit(server)
    try:
        yield k
    finally:
        k.close()


@pytest.fixture
def refkit(refserver: ProcessTarget) -> Iterator[Kit]:
    """The toolkit on the reference server only (behaviour gearmand does not share)."""
    k = Kit(refserver)
    try:
        yield k
    finally:
        k.close()


@pytest.fixture
def gmkit(gearmand: ProcessTarget) -> Iterator[Kit]:
    """The toolkit on gearmand only (pinning down gearmand's side of a difference)."""
    k = Kit(gearmand)
    try:
        yield k
    finally:
        k.close()
