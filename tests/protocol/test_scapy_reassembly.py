"""Stream reassembly of pcaps, on hand-made captures whose TCP misbehaves on purpose."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw
from scapy.utils import wrpcap

from gearcheck.commands.dissect import format_dissection
from gearcheck.protocol import Packet, encode, encode_raw
from gearcheck.protocol.capture import Direction, Flow, dissect_capture, dissect_pcap
from gearcheck.protocol.scapy_layer import Gearman, GearmanEchoReq, GearmanSubmitJob

CLIENT, SERVER = ("10.0.0.1", 51000), ("10.0.0.2", 7003)
ISN_C, ISN_S = 0xFFFFFF00, 1000  # the client's sequence numbers wrap around 2**32


def _segment(src: tuple[str, int], dst: tuple[str, int], seq: int, data: bytes, t: float,
             flags: str = "PA", v6: bool = False) -> ScapyPacket:
    ip = IPv6(src=f"::{src[0][-1]}", dst=f"::{dst[0][-1]}") if v6 else IP(src=src[0], dst=dst[0])
    ether = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")  # no ARP lookups
    pkt = ether / ip / TCP(sport=src[1], dport=dst[1], seq=seq % 2**32, flags=flags)
    if data:
        pkt = pkt / Raw(data)
    pkt.time = t
    return pkt


def _handshake(t: float = 0.0, v6: bool = False) -> list[ScapyPacket]:
    return [_segment(CLIENT, SERVER, ISN_C, b"", t, "S", v6),
            _segment(SERVER, CLIENT, ISN_S, b"", t + 0.001, "SA", v6)]


def test_out_of_order_retransmitted_and_wrapping_segments(tmp_path: Path) -> None:
    submit = encode(Packet.build("SUBMIT_JOB", b"reverse", b"", b"x" * 3000))
    echo = encode(Packet.build("ECHO_REQ", b"hi"))
    stream = submit + echo + b"status\n"
    a, b, c = stream[:1000], stream[1000:2500], stream[2500:]
    s0 = ISN_C + 1
    packets = [
        *_handshake(),
        _segment(CLIENT, SERVER, s0, a, 1.0),
        _segment(CLIENT, SERVER, s0 + 2500, c, 1.1),  # arrives before b
        _segment(CLIENT, SERVER, s0 + 1000, b, 1.2),
        _segment(CLIENT, SERVER, s0 + 500, stream[500:1800], 1.3),  # overlapping retransmission
        _segment(SERVER, CLIENT, ISN_S + 1, encode(Packet.build("JOB_CREATED", b"H:1")), 1.4),
    ]
    path = tmp_path / "reordered.pcap"
    wrpcap(str(path), packets)
    dissection = dissect_capture(path)
    assert dissection.errors == []
    assert dissection.flows == [Flow(CLIENT, SERVER)]
    got = [(p.direction, type(p.packet).__name__, float(p.packet.time))
           for p in dissection.packets]
    assert got == [
        (Direction.TO_SERVER, "GearmanSubmitJob", 1.2),  # complete once b arrived
        (Direction.TO_SERVER, "GearmanEchoReq", 1.2),
        (Direction.TO_SERVER, "GearmanText", 1.2),
        (Direction.TO_CLIENT, "GearmanJobCreated", 1.4),
    ]
    submit_pkt = dissection.packets[0].packet
    assert isinstance(submit_pkt, GearmanSubmitJob) and submit_pkt.data == b"x" * 3000
    assert bytes(submit_pkt) == submit


def test_without_a_handshake_the_bound_port_is_the_server() -> None:
    gearman_port = ("10.0.0.9", 4730)
    packets = [
        _segment(gearman_port, CLIENT, 5, encode(Packet.build("ECHO_RES", b"x")), 2.0),
        _segment(CLIENT, gearman_port, 9, encode(Packet.build("ECHO_REQ", b"x")), 1.0),
    ]
    (req, res) = dissect_capture(packets).packets
    assert req.flow == res.flow == Flow(CLIENT, gearman_port)
    assert (req.direction, res.direction) == (Direction.TO_SERVER, Direction.TO_CLIENT)
    # Neither port bound and no SYN: the lower port is taken for the server.
    other = [_segment(("10.0.0.3", 60000), ("10.0.0.4", 9999), 1,
                      encode(Packet.build("ECHO_REQ", b"y")), 1.0)]
    (only,) = dissect_capture(other).packets
    assert only.flow.server == ("10.0.0.4", 9999) and only.direction is Direction.TO_SERVER


def test_malformed_streams_are_reported_where_they_break(tmp_path: Path) -> None:
    missing_nul = encode_raw(b"\0REQ", 7, b"no separators")
    bad_magic = encode_raw(b"\0BAD", 16, b"zz")
    client_stream = encode(Packet.build("ECHO_REQ", b"ok")) + missing_nul + bad_magic
    server_stream = encode(Packet.build("ECHO_RES", b"ok")) + encode(Packet.build("NOOP"))[:7]
    packets = [
        *_handshake(v6=True),
        _segment(CLIENT, SERVER, ISN_C + 1, client_stream, 1.0, v6=True),
        _segment(SERVER, CLIENT, ISN_S + 1, server_stream, 1.1, v6=True),
    ]
    path = tmp_path / "malformed.pcap"
    wrpcap(str(path), packets)
    dissection = dissect_capture(path)
    kinds = [(p.direction, p.packet.summary()) for p in dissection.packets]
    assert kinds[0] == (Direction.TO_SERVER, "REQ ECHO_REQ data='ok'")
    assert kinds[1] == (Direction.TO_SERVER, "REQ SUBMIT_JOB body='no separators'")
    assert kinds[2][0] is Direction.TO_SERVER and kinds[2][1].startswith("magic=b'\\x00BAD'")
    assert kinds[3] == (Direction.TO_CLIENT, "RES ECHO_RES data='ok'")
    assert isinstance(dissection.packets[4].packet, Raw)  # 7 bytes: not even a header
    errors = {(e.direction, e.offset): e.message for e in dissection.errors}
    assert "bad magic" in errors[(Direction.TO_SERVER, len(client_stream) - len(bad_magic))]
    assert "closed in the middle of a binary packet" in errors[(Direction.TO_CLIENT, 14)]
    assert dissection.flows[0].client == (f"::{CLIENT[0][-1]}", CLIENT[1])
    lines = format_dissection(dissection)
    assert any("! at stream offset" in line and "bad magic" in line for line in lines)
    assert any("[::1]:51000 > [::2]:7003" in line for line in lines)


def test_a_hole_in_the_capture_stops_that_direction(tmp_path: Path) -> None:
    echo = encode(Packet.build("ECHO_REQ", b"a" * 100))
    packets = [
        *_handshake(),
        _segment(CLIENT, SERVER, ISN_C + 1, echo, 1.0),
        _segment(CLIENT, SERVER, ISN_C + 1 + len(echo) + 50, echo, 1.1),  # 50 bytes never seen
    ]
    path = tmp_path / "hole.pcap"
    wrpcap(str(path), packets)
    dissection = dissect_capture(path)
    assert [type(p.packet) for p in dissection.packets] == [GearmanEchoReq]
    (error,) = dissection.errors
    assert error.offset == len(echo) and "50 byte(s) missing" in error.message
    assert dissect_pcap(path, ports=[1234]) == []  # the port filter leaves nothing
    assert len(dissect_pcap(path, ports=[SERVER[1]])) == 1
    assert isinstance(Gearman(echo), GearmanEchoReq)


def test_missing_start_of_a_stream_is_a_hole() -> None:
    late = _segment(CLIENT, SERVER, ISN_C + 101, encode(Packet.build("ECHO_REQ", b"z")), 1.0)
    dissection = dissect_capture([*_handshake(), late])
    assert dissection.packets == []
    (error,) = dissection.errors
    assert error.offset == 0 and "100 byte(s) missing" in error.message
