"""The foundation against a real gearmand: the codec and wire agree with it."""

from __future__ import annotations

import pytest

from gearcheck.protocol import (
    Packet,
    PacketType,
    parse_status,
    parse_version,
    parse_workers,
)
from gearcheck.targets import ExternalTarget, GearmandTarget, TargetError
from gearcheck.wire import Address, ConnectFailed, Connection, ReceiveTimeout


def test_echo_round_trip_with_nuls(gearmand_address: Address) -> None:
    with Connection.open(gearmand_address) as conn:
        conn.send(Packet.build("ECHO_REQ", b"hello\0world"))
        reply = conn.expect(PacketType.ECHO_RES)
        assert reply.arg("data") == b"hello\0world"
        assert conn.echo(b"") >= 0


def test_foreground_job_from_submit_to_work_complete(gearmand_address: Address) -> None:
    fn = b"gc-foundation-reverse"
    with Connection.open(gearmand_address) as worker, \
            Connection.open(gearmand_address) as client:
        worker.send(Packet.build("CAN_DO", fn))
        worker.send(Packet.build("SET_CLIENT_ID", "foundation-worker"))
        client.send(Packet.build("SUBMIT_JOB", function=fn, unique=b"", data=b"abc\0def"))
        handle = client.expect(PacketType.JOB_CREATED).arg("handle")
        assert handle.startswith(b"H:")

        worker.send(Packet.build("GRAB_JOB_UNIQ"))
        assign = worker.expect(PacketType.JOB_ASSIGN_UNIQ)
        assert assign.arg("handle") == handle
        assert assign.arg("function") == fn
        assert assign.arg("data") == b"abc\0def"

        worker.send(Packet.build("WORK_STATUS", handle, 1, 2))
        worker.send(Packet.build("WORK_COMPLETE", handle, assign.arg("data")[::-1]))
        status = client.expect(PacketType.WORK_STATUS)
        assert status.args == (handle, b"1", b"2")
        done = client.expect(PacketType.WORK_COMPLETE)
        assert done.arg("handle") == handle and done.arg("data") == b"fed\0cba"

        worker.send(Packet.build("GRAB_JOB"))
        worker.expect(PacketType.NO_JOB)
        with pytest.raises(ReceiveTimeout):
            client.recv(timeout=0.2)


def test_admin_status_and_workers_parsed(gearmand_address: Address) -> None:
    fn = "gc-foundation-status"
    with Connection.open(gearmand_address) as worker, \
            Connection.open(gearmand_address) as admin:
        worker.send(Packet.build("SET_CLIENT_ID", "status-worker"))
        worker.send(Packet.build("CAN_DO", fn))
        worker.send(Packet.build("SUBMIT_JOB_BG", function=fn, unique="", data="x"))
        worker.expect(PacketType.JOB_CREATED)
        status = parse_status(admin.admin("status"))
        assert status[fn].total == 1 and status[fn].running == 0 and status[fn].workers == 1
        workers = parse_workers(admin.admin("workers"))
        mine = [w for w in workers if w.client_id == "status-worker"]
        assert len(mine) == 1 and mine[0].functions == (fn,)
        assert mine[0].ip == "127.0.0.1"
        assert parse_version(admin.admin("version")).startswith("1.1.20")
        worker.send(Packet.build("GRAB_JOB"))
        handle = worker.expect(PacketType.JOB_ASSIGN).arg("handle")
        worker.send(Packet.build("WORK_COMPLETE", handle, b""))
        # the echo comes back after gearmand has handled the WORK_COMPLETE before it
        worker.send(Packet.build("ECHO_REQ", b"done"))
        worker.expect(PacketType.ECHO_RES)
        assert parse_status(admin.admin("status"))[fn].total == 0


def test_admin_and_binary_mixed_on_one_connection(gearmand_address: Address) -> None:
    with Connection.open(gearmand_address) as conn:
        conn.send_raw(b"version\n" + b"\0REQ\x00\x00\x00\x10\x00\x00\x00\x02hi")
        assert conn.recv().text.startswith(b"OK ")  # type: ignore[union-attr]
        assert conn.expect(PacketType.ECHO_RES).arg("data") == b"hi"


def test_target_stops_its_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = GearmandTarget(log_dir=tmp_path)
    with target:
        address = target.address
        pid = target.pid
        assert pid is not None
    with pytest.raises(ConnectFailed):
        Connection.open(address, timeout=1.0)
    assert (tmp_path / f"gearmand-{address.port}.log").exists()


def test_external_target_reports_unreachable_address() -> None:
    from gearcheck.targets import free_port

    with pytest.raises(TargetError, match="did not answer"):
        ExternalTarget(f"127.0.0.1:{free_port()}").start()


def test_address_parsing_errors_are_clear() -> None:
    assert Address.parse("127.0.0.1:4731") == Address("127.0.0.1", 4731)
    assert Address.parse("localhost") == Address("localhost", 4730)
    assert Address.parse("[::1]:5") == Address("::1", 5)
    with pytest.raises(ValueError, match="not a number"):
        Address.parse("host:abc")
    with pytest.raises(ValueError, match="out of range"):
        Address.parse("host:70000")
