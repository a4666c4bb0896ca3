"""Real traffic between a client, a worker and gearmand, captured on loopback and dissected.

tcpdump writes the capture (``--immediate-mode -U``, so every packet reaches
the file as it is seen); the test waits until tcpdump says it is listening,
runs the conversation, waits until the whole conversation is in the file, and
stops tcpdump. Every wait has a deadline. On a loaded machine tcpdump can miss
packets (kernel drops); such a capture is taken again, at most three times.
The capture is then read three ways: the whole-stream view (``dissect_pcap``),
plain per-segment ``rdpcap``, and scapy's ``TCPSession``, and printed by
``gearcheck dissect``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.sendrecv import sniff
from scapy.sessions import TCPSession
from scapy.utils import rdpcap

from gearcheck.cli import main as gearcheck_main
from gearcheck.commands.dissect import format_dissection
from gearcheck.protocol import Packet, PacketType, encode, parse_status
from gearcheck.protocol.capture import (
    Direction,
    DissectedPacket,
    Dissection,
    dissect_capture,
    dissect_pcap,
)
from gearcheck.protocol.scapy_layer import (
    Gearman,
    GearmanCanDo,
    GearmanEchoReq,
    GearmanJobAssign,
    GearmanText,
    bind_port,
    unbind_port,
)
from gearcheck.targets import GearmandTarget
from gearcheck.wire import Connection
from tests.tcpdump import Tcpdump

BIG = 100_000  # the SUBMIT_JOB/JOB_ASSIGN data: more than one TCP segment on loopback


def _wait_for_capture(path: Path, done: Callable[[Dissection], bool],
                      deadline_s: float) -> str | None:
    """None once ``done(dissection)`` holds for the file, else what it had at the deadline."""
    deadline = time.monotonic() + deadline_s
    seen = ""
    while time.monotonic() < deadline:
        try:
            dissection = dissect_capture(path)
            if done(dissection):
                return None
            seen = "\n".join(format_dissection(dissection))
        except Exception as exc:  # a record half-written at the end of the file
            seen = repr(exc)
        time.sleep(0.05)
    return seen


@dataclass(frozen=True)
class Conversation:
    path: Path
    server_port: int
    client_port: int
    worker_port: int
    function: bytes
    unique: bytes
    data: bytes
    handle: bytes
    result: bytes


@pytest.fixture(scope="module")
def conversation(gearmand: GearmandTarget,
                 tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    """The conversation, captured. A capture that lost packets (tcpdump reports
    kernel drops on a busy machine) is taken again, at most three times."""
    folder = tmp_path_factory.mktemp("capture")
    failures = []
    for attempt in range(1, 4):
        path = folder / f"gearman-{attempt}.pcap"
        with Tcpdump(gearmand.address.port, path) as capture:
            conversation = _converse(gearmand, path)

            def complete(dissection: Dissection, c: Conversation = conversation) -> bool:
                mine = {c.client_port, c.worker_port}
                return not [e for e in dissection.errors if e.flow.client[1] in mine] and any(
                    p.direction is Direction.TO_CLIENT and isinstance(p.packet, GearmanText)
                    and p.packet.text == b"." and p.flow.client[1] == c.client_port
                    for p in dissection.packets)

            missing = _wait_for_capture(path, complete, deadline_s=5.0)
        if missing is None:
            return conversation
        failures.append(f"attempt {attempt}: tcpdump said {capture.messages.strip()!r}; "
                        f"the capture has:\n{missing}")
    raise AssertionError("no complete capture of the conversation:\n" + "\n".join(failures))


def _converse(gearmand: GearmandTarget, path: Path) -> Conversation:
    """ECHO, CAN_DO, SUBMIT_JOB, GRAB_JOB/JOB_ASSIGN, WORK_COMPLETE and admin status."""
    address = gearmand.address
    tag = uuid.uuid4().hex[:8]
    function, unique, result = f"capture-{tag}".encode(), f"u-{tag}".encode(), b"reversed"
    data = bytes(range(256)) * (BIG // 256) + b"end"
    with Connection.open(address) as client, Connection.open(address) as worker:
        client.echo(b"echo from the client")
        # Two packets in one write: one TCP segment, dissected as a chain.
        worker.send_raw(encode(Packet.build("CAN_DO", function))
                        + encode(Packet.build("ECHO_REQ", b"worker ready")))
        assert worker.expect(PacketType.ECHO_RES).arg("data") == b"worker ready"
        client.send(Packet.build("SUBMIT_JOB", function, unique, data))
        handle = client.expect(PacketType.JOB_CREATED).arg("handle")
        worker.send(Packet.build("GRAB_JOB"))
        assigned = worker.expect(PacketType.JOB_ASSIGN)
        assert assigned.arg("data") == data
        worker.send(Packet.build("WORK_COMPLETE", handle, result))
        assert client.expect(PacketType.WORK_COMPLETE).arg("data") == result
        status = parse_status(client.admin("status"))
        assert status[function.decode()].workers == 1
        client_port = client.sock.getsockname()[1]
        worker_port = worker.sock.getsockname()[1]
    return Conversation(path, address.port, client_port, worker_port, function, unique,
                        data, handle, result)


def _conn(packets: list[DissectedPacket], local_port: int) -> list[DissectedPacket]:
    return [p for p in packets if p.flow.client[1] == local_port]


def _summary(items: list[DissectedPacket]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        pkt = item.packet
        name = "TEXT" if isinstance(pkt, GearmanText) else pkt.packet_type.name
        out.append((item.direction.arrow, name))
    return out


def test_stream_view_has_the_whole_conversation_with_named_arguments(
        conversation: Conversation) -> None:
    c = conversation
    dissected = dissect_pcap(c.path)
    assert all(p.flow.server[1] == c.server_port for p in dissected)
    client = _conn(dissected, c.client_port)
    worker = _conn(dissected, c.worker_port)
    assert _summary(client) == [
        (">", "ECHO_REQ"), ("<", "ECHO_RES"), (">", "SUBMIT_JOB"), ("<", "JOB_CREATED"),
        ("<", "WORK_COMPLETE"), (">", "TEXT")] + [("<", "TEXT")] * (len(client) - 6)
    assert _summary(worker) == [
        (">", "CAN_DO"), (">", "ECHO_REQ"), ("<", "ECHO_RES"), (">", "GRAB_JOB"),
        ("<", "JOB_ASSIGN"), (">", "WORK_COMPLETE")]

    echo_req, echo_res, submit, created, complete, status_cmd, *status_rows = (
        p.packet for p in client)
    assert echo_req.data == echo_res.data == b"echo from the client"
    assert echo_req.magic == b"\0REQ" and echo_res.magic == b"\0RES"
    assert (submit.function, submit.unique, submit.data) == (c.function, c.unique, c.data)
    assert submit.size == len(c.function) + len(c.unique) + len(c.data) + 2
    assert created.handle == c.handle
    assert (complete.handle, complete.data) == (c.handle, c.result)
    assert status_cmd.text == b"status"
    rows = [row.text for row in status_rows]
    assert rows[-1] == b"."
    assert parse_status(rows)[c.function.decode()].workers == 1

    can_do, _ready, _ready_res, grab, assign, work_complete = (p.packet for p in worker)
    assert can_do.function == c.function
    assert grab.size == 0
    assert (assign.handle, assign.function, assign.data) == (c.handle, c.function, c.data)
    assert (work_complete.handle, work_complete.data) == (c.handle, c.result)
    assert work_complete.magic == b"\0REQ" and complete.magic == b"\0RES"
    times = [float(p.packet.time) for p in dissected]
    assert times == sorted(times)
    assert dissect_capture(c.path).errors == []


def test_rdpcap_dissects_each_segment_with_the_layer(conversation: Conversation) -> None:
    c = conversation
    bind_port(c.server_port)
    try:
        segments = [p for p in rdpcap(str(c.path)) if p.haslayer(TCP) and len(p[TCP].payload)]
    finally:
        unbind_port(c.server_port)
    layers = [p[TCP].payload for p in segments]
    assert all(isinstance(layer, (Gearman, GearmanText)) for layer in layers)
    # CAN_DO and ECHO_REQ went out in one write: one segment, a chain of two.
    chains = [layer for layer in layers if isinstance(layer, GearmanCanDo)]
    assert len(chains) == 1
    assert chains[0].function == c.function
    assert isinstance(chains[0].payload, GearmanEchoReq)
    assert chains[0].payload.data == b"worker ready"
    assert any(isinstance(layer, GearmanText) and layer.text == b"status" for layer in layers)
    # A packet bigger than a segment shows truncated here: that is what dissect_pcap is for.
    (assign_head,) = [layer for layer in layers if isinstance(layer, GearmanJobAssign)]
    assert assign_head.handle == c.handle
    assert assign_head.size > len(assign_head.data)
    assert c.data.startswith(assign_head.data)


def test_scapy_tcp_session_reassembles_the_big_packets(conversation: Conversation) -> None:
    c = conversation
    bind_port(c.server_port)
    try:
        sessions = sniff(offline=str(c.path), session=TCPSession)
    finally:
        unbind_port(c.server_port)
    found: dict[str, Gearman] = {}
    for chain in sessions:
        layer = chain.getlayer(Gearman)
        index = 1
        while layer is not None:
            if layer.packet_type is not None:
                found.setdefault(layer.packet_type.name, layer)
            index += 1
            layer = chain.getlayer(Gearman, index)
    assert found["SUBMIT_JOB"].data == c.data
    assert found["JOB_ASSIGN"].data == c.data
    assert found["JOB_ASSIGN"].handle == c.handle


def test_cli_prints_the_conversation(conversation: Conversation,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    c = conversation
    assert gearcheck_main(["dissect", str(c.path), "--port", str(c.server_port)]) == 0
    lines = capsys.readouterr().out.splitlines()
    client = f"127.0.0.1:{c.client_port}"
    server = f"127.0.0.1:{c.server_port}"
    fn = c.function.decode()
    assert any(f"{client} > {server}  REQ SUBMIT_JOB function='{fn}' unique='{c.unique.decode()}'"
               f" data=" in line and f"({len(c.data)} bytes)" in line for line in lines)
    assert any(f"{client} < {server}  RES JOB_CREATED handle='{c.handle.decode()}'" in line
               for line in lines)
    assert any(f"{client} > {server}  TEXT 'status'" in line for line in lines)
    assert any(f"TEXT '{fn}\\t0\\t0\\t1'" in line for line in lines)
    first_time = float(lines[0].split()[0])
    assert first_time == 0.0
    assert len(lines) == len(dissect_pcap(c.path))


def test_cli_rejects_what_is_not_a_capture(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.pcap"
    assert gearcheck_main(["dissect", str(missing)]) == 2
    assert "no such file" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a pcap file at all")
    assert gearcheck_main(["dissect", str(garbage)]) == 2
    assert f"cannot read {garbage} as a capture" in capsys.readouterr().err
