"""Packets built with the scapy layer, sent to the real gearmand over scapy's StreamSocket."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from scapy.packet import Packet as ScapyPacket
from scapy.supersocket import StreamSocket

from gearcheck.protocol.scapy_layer import (
    Gearman,
    GearmanEchoRes,
    GearmanNoJob,
    GearmanText,
)
from gearcheck.targets import GearmandTarget


@pytest.fixture
def stream(gearmand: GearmandTarget) -> Iterator[StreamSocket]:
    address = gearmand.address
    sock = socket.create_connection((address.host, address.port), timeout=5)
    wrapped = StreamSocket(sock, Gearman)
    try:
        yield wrapped
    finally:
        wrapped.close()


def _layers(pkt: ScapyPacket) -> list[ScapyPacket]:
    out = []
    while pkt is not None and pkt.name != "NoPayload" and (
            isinstance(pkt, (Gearman, GearmanText))):
        out.append(pkt)
        pkt = pkt.payload
    return out


def _receive(stream: StreamSocket, count: int, deadline_s: float = 5.0) -> list[ScapyPacket]:
    """``count`` Gearman layers, however the server's bytes were split into reads."""
    got: list[ScapyPacket] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"only {len(got)} of {count} packets in {deadline_s}s: {got}")
        stream.ins.settimeout(left)
        got.extend(_layers(stream.recv()))
    return got


def test_sr1_echo_over_stream_socket(stream: StreamSocket) -> None:
    request = Gearman(type="ECHO_REQ", data=b"built with scapy\0and a NUL")
    reply = stream.sr1(request, timeout=5, verbose=False)
    assert reply is not None, "gearmand did not answer the ECHO_REQ within 5s"
    assert isinstance(reply, GearmanEchoRes)
    assert reply.magic == b"\0RES"
    assert reply.data == b"built with scapy\0and a NUL"
    assert reply.size == len(reply.data)


def test_two_requests_in_one_write_and_an_admin_line(stream: StreamSocket) -> None:
    stream.send(Gearman(type="ECHO_REQ", data=b"one") / Gearman(type="GRAB_JOB")
                / GearmanText(text=b"version"))
    first, second, third = _receive(stream, 3)
    assert isinstance(first, GearmanEchoRes) and first.data == b"one"
    assert isinstance(second, GearmanNoJob)
    assert isinstance(third, GearmanText) and third.text.startswith(b"OK ")
    assert third.eol == b"\n"  # gearmand 1.1.20 ends "version" with a bare \n


def test_large_reply_split_over_reads_is_reassembled(stream: StreamSocket) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: several TCP reads
    stream.send(Gearman(type="ECHO_REQ", data=data))
    (reply,) = _receive(stream, 1, deadline_s=10)
    assert isinstance(reply, GearmanEchoRes) and reply.data == data


def test_malformed_submit_reaches_gearmand_as_built(stream: StreamSocket) -> None:
    """A SUBMIT_JOB whose body has no NUL separators: gearmand drops the connection.

    The ECHO_REQ behind it is never answered, which shows the malformed packet
    went out as built (a well-formed one would have been answered by JOB_CREATED).
    """
    stream.send(Gearman(type="SUBMIT_JOB", body=b"no separators")
                / Gearman(type="ECHO_REQ", data=b"after"))
    stream.ins.settimeout(5)
    with pytest.raises(EOFError):
        stream.recv()
