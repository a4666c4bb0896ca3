"""Each class of bad input: the offending connection gets its reaction, the server keeps serving."""

from __future__ import annotations

import pytest

from gearcheck.protocol import Packet, PacketType, encode_raw
from gearcheck.wire import ConnectionClosed, ReceiveTimeout

T = PacketType
REQ, RES = b"\0REQ", b"\0RES"


def closed_without_reply(c, timeout: float = 3.0) -> None:
    with pytest.raises(ConnectionClosed):
        c.recv(timeout)


def still_serves(kit) -> None:
    other = kit.conn()
    assert other.echo(b"still here") >= 0
    f = kit.fn()
    assert kit.submit(other, f, ptype=T.SUBMIT_JOB_BG)


@pytest.mark.parametrize("raw", [
    encode_raw(b"\0XYZ", 16, b"hi"),         # bad magic
    encode_raw(REQ, 0, b""),                 # type 0
    encode_raw(REQ, 43, b""),                # first unknown type
], ids=["bad-magic", "type-0", "type-43"])
def test_framing_errors_close_only_that_connection(kit, raw) -> None:
    c = kit.conn()
    c.send_raw(raw)
    closed_without_reply(c)
    still_serves(kit)


def test_largest_type_number(refkit, tmp_path) -> None:
    """Type 0xFFFFFFFF: the reference server closes that connection; gearmand 1.1.20 dies."""
    from gearcheck.targets import GearmandTarget
    from gearcheck.wire import Connection

    c = refkit.conn()
    c.send_raw(encode_raw(REQ, 0xFFFFFFFF, b"x"))
    closed_without_reply(c)
    still_serves(refkit)
    with GearmandTarget(log_dir=tmp_path) as gearmand:   # its own: this one will crash
        proc = gearmand.process
        assert proc is not None
        with Connection.open(gearmand.address) as g:
            g.send_raw(encode_raw(REQ, 0xFFFFFFFF, b""))
            closed_without_reply(g)
        assert proc.wait(5) != 0   # the whole server exited


def test_response_magic_on_a_request(kit) -> None:
    c = kit.conn()
    c.send_raw(encode_raw(RES, 16, b"hello"))
    assert c.expect(T.ERROR).args == (b"INVALID_MAGIC", b"Request magic expected")
    kit.sync(c)
    still_serves(kit)


def test_truncated_packet_waits_then_peer_closes(kit) -> None:
    c = kit.conn()
    c.send_raw(encode_raw(REQ, 16, b"abc", size=100))   # declares more than it sends
    with pytest.raises(ReceiveTimeout):
        c.recv(0.3)
    c.close()                                           # closed mid-packet
    half = kit.conn()
    half.send_raw(b"\0RE")                               # not even a whole header
    half.close()
    still_serves(kit)


def test_missing_nul_separators(kit) -> None:
    c = kit.conn()
    c.send_raw(encode_raw(REQ, int(T.SUBMIT_JOB), b"function-only"))
    if kit.name == "gearmand":    # stalls waiting for NULs past the packet end (5.3 #9)
        with pytest.raises(ReceiveTimeout):
            c.recv(0.3)
    else:
        err = c.expect(T.ERROR)
        assert err.args[0] == b"INVALID_PACKET" and b"SUBMIT_JOB" in err.args[1]
        kit.sync(c)              # the stream is still in sync
    still_serves(kit)


def test_oversized_declared_size_is_refused_without_reading_it(kit) -> None:
    c = kit.conn()
    c.send_raw(encode_raw(REQ, 16, b"", size=0x7FFFFFFF))
    if kit.name == "gearmand":    # no cap: it waits for 2 GiB that never come
        with pytest.raises(ReceiveTimeout):
            c.recv(0.3)
    else:
        err = c.expect(T.ERROR)
        assert err.args[0] == b"ARGUMENT_TOO_LARGE" and b"2147483647" in err.args[1]
        closed_without_reply(c)
    still_serves(kit)


def test_endless_admin_line_closes_the_connection(kit) -> None:
    c = kit.conn()
    c.send_raw(b"s" * 70_000)
    closed_without_reply(c)
    still_serves(kit)


def test_internal_failures(kit) -> None:
    """Oversized GET_STATUS handle, 25-digit CAN_DO_TIMEOUT: gearmand says nothing (and may
    drop the connection); the reference server answers known=0 / ignores the timeout."""
    c = kit.conn()
    c.send(Packet.build(T.GET_STATUS, b"H" * 80))
    if kit.name == "gearmand":
        with pytest.raises((ReceiveTimeout, ConnectionClosed)):
            c.recv(0.3)
    else:
        assert c.expect(T.STATUS_RES).args == (b"H" * 80, b"0", b"0", b"0", b"0")
    t = kit.conn()
    t.send(Packet.build(T.CAN_DO_TIMEOUT, b"f", b"9" * 25))   # no reply from either
    t.send(Packet.build(T.ECHO_REQ, b"after"))
    if kit.name == "gearmand":    # sometimes the failure then costs the peer its connection
        try:
            reply = t.recv(0.5)
        except (ReceiveTimeout, ConnectionClosed):
            reply = None
        assert reply is None or reply == Packet.build(T.ECHO_RES, b"after")
    else:
        assert t.expect(T.ECHO_RES).args == (b"after",)
    still_serves(kit)


def test_limits_are_configurable(tmp_path) -> None:
    from gearcheck.targets import RefServerTarget
    from gearcheck.wire import Connection

    args = ["--max-packet", "4096", "--max-connections", "3", "--max-queued-jobs", "2"]
    with RefServerTarget(log_dir=tmp_path, extra_args=args) as target:
        with Connection.open(target.address) as c:
            c.send(Packet.build(T.ECHO_REQ, b"x" * 4096))
            assert len(c.expect(T.ECHO_RES).args[0]) == 4096
            for i in range(2):
                c.send(Packet.build(T.SUBMIT_JOB_BG, b"f", b"", b"%d" % i))
                c.expect(T.JOB_CREATED)
            c.send(Packet.build(T.SUBMIT_JOB_BG, b"f", b"", b"3"))
            assert c.expect(T.ERROR).args == (b"QUEUE_ERROR", b"Job queue is full")
            c.send(Packet.build(T.ECHO_REQ, b"x" * 4097))
            assert c.expect(T.ERROR).args[0] == b"ARGUMENT_TOO_LARGE"
        conns = [Connection.open(target.address) for _ in range(4)]
        try:
            for conn in conns[:3]:
                conn.echo()
            closed_without_reply(conns[3])
        finally:
            for conn in conns:
                conn.close()
