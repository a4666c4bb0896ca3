"""The scapy layer against the codec: same bytes for every type, malformed packets on purpose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.packet import Raw

from gearcheck.protocol import (
    SPECS,
    BadMagicError,
    Decoder,
    Magic,
    MissingArgumentsError,
    Packet,
    PacketType,
    UnknownPacketTypeError,
    encode,
    encode_raw,
)
from gearcheck.protocol.scapy_layer import (
    GEARMAN_CLASSES,
    Gearman,
    GearmanEchoReq,
    GearmanEchoRes,
    GearmanJobAssign,
    GearmanJobCreated,
    GearmanSubmitJob,
    GearmanText,
    bind_port,
    bound_ports,
    summarize,
    unbind_port,
)


def _sample_args(ptype: PacketType) -> dict[str, bytes]:
    spec = SPECS[ptype]
    named = {name: f"{name}-{int(ptype)}".encode() for name in spec.args}
    if spec.args:
        named[spec.args[-1]] += b"\0with\0nuls"  # the last argument may hold NULs
    return named


def _decode_one(data: bytes) -> Packet:
    decoder = Decoder()
    decoder.feed(data)
    events = decoder.events()
    assert len(events) == 1 and isinstance(events[0], Packet), events
    return events[0]


@pytest.mark.parametrize("ptype", list(PacketType), ids=lambda t: t.name)
def test_every_type_builds_the_codec_bytes_and_dissects_back(ptype: PacketType) -> None:
    named = _sample_args(ptype)
    expected = encode(Packet.build(ptype, **named))

    built = Gearman(type=ptype.name, **named)
    assert type(built) is GEARMAN_CLASSES[ptype]
    assert bytes(built) == expected
    assert bytes(Gearman(type=int(ptype), **named)) == expected
    assert bytes(Gearman.from_codec(Packet.build(ptype, **named))) == expected

    dissected = Gearman(expected)
    assert type(dissected) is GEARMAN_CLASSES[ptype]
    assert dissected.type == int(ptype)
    assert dissected.size == len(expected) - 12
    assert bytes(dissected.magic) == SPECS[ptype].magic.value
    assert dissected.named_args() == named
    for name, value in named.items():
        assert getattr(dissected, name) == value
    assert dissected.to_codec() == _decode_one(expected)
    assert not dissected.payload  # nothing left over


_no_nul = st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"."))


@st.composite
def _codec_packets(draw: st.DrawFn) -> Packet:
    ptype = draw(st.sampled_from(list(PacketType)))
    spec = SPECS[ptype]
    args = [draw(_no_nul) for _ in spec.args[:-1]]
    if spec.args:
        args.append(draw(st.binary(max_size=200)))
    magic = draw(st.sampled_from(list(Magic)))
    extra = draw(st.binary(max_size=20)) if not spec.args else b""
    return Packet(magic, ptype, tuple(args), extra)


@given(_codec_packets())
def test_arbitrary_arguments_agree_with_the_codec(packet: Packet) -> None:
    wire = encode(packet)
    fields = {"type": packet.type.name, "magic": packet.magic.value}
    if packet.spec.arity:
        fields.update(packet.named_args())
    else:
        fields["extra"] = packet.extra
    assert bytes(Gearman(**fields)) == wire
    assert Gearman(wire).to_codec() == packet
    assert _decode_one(wire) == packet


@given(st.lists(_codec_packets(), min_size=1, max_size=6))
def test_several_packets_in_one_buffer_dissect_as_a_chain(packets: list[Packet]) -> None:
    wire = b"".join(encode(p) for p in packets)
    chain = Gearman(wire)
    layers = [chain.getlayer(Gearman, i + 1) for i in range(len(packets))]
    assert [layer.to_codec() for layer in layers] == packets
    assert chain.getlayer(Gearman, len(packets) + 1) is None
    assert bytes(chain) == wire


def test_text_and_binary_mixed_in_one_buffer() -> None:
    wire = (b"status\r\n" + encode(Packet.build("ECHO_REQ", b"ping")) + b"workers\n"
            + encode(Packet.build("NOOP")) + b"vers")
    chain = Gearman(wire)
    first = chain
    assert isinstance(first, GearmanText) and first.text == b"status" and first.eol == b"\r\n"
    echo = chain[GearmanEchoReq]
    assert echo.data == b"ping"
    second_line = chain.getlayer(GearmanText, 2)
    assert second_line.text == b"workers" and second_line.eol == b"\n"
    last = chain.getlayer(GearmanText, 3)
    assert last.text == b"vers" and last.eol == b""  # cut off: no line ending yet
    assert bytes(chain) == wire
    assert bytes(GearmanText(text=b"status")) == b"status\n"


def test_named_access_and_int_arguments() -> None:
    pkt = Gearman(type="WORK_STATUS", handle="H:1", numerator=3, denominator=10)
    assert bytes(pkt) == encode(Packet.build("WORK_STATUS", "H:1", 3, 10))
    assert pkt.args == (b"H:1", b"3", b"10")
    submit = Gearman(type="SUBMIT_JOB", function=b"f", unique=b"u", data=b"x")
    assert isinstance(submit, GearmanSubmitJob) and isinstance(submit, Gearman)
    assert submit.haslayer(Gearman)
    assert summarize(submit) == "REQ SUBMIT_JOB function='f' unique='u' data='x'"


def test_wrong_size_is_sent_as_given() -> None:
    pkt = Gearman(type="ECHO_REQ", data=b"abc", size=1000)
    wire = bytes(pkt)
    assert wire == encode_raw(Magic.REQ.value, 16, b"abc", size=1000)
    decoder = Decoder()
    decoder.feed(wire)
    assert decoder.next_event() is None  # waits for 997 more bytes
    assert "size=1000 (body has 3)" in summarize(pkt)
    short = Gearman(type="SUBMIT_JOB", function=b"f", unique=b"u", data=b"data", size=4)
    # The codec frames 4 bytes ("f\0u\0"), leaving "data" as the next thing on the wire.
    assert bytes(short)[8:12] == b"\0\0\0\x04"


def test_bad_magic_builds_and_dissects() -> None:
    wire = bytes(Gearman(type="ECHO_REQ", magic=b"\0BAD", data=b"x"))
    assert wire[:4] == b"\0BAD"
    decoder = Decoder()
    decoder.feed(wire)
    with pytest.raises(BadMagicError):
        decoder.next_event()
    back = Gearman(wire)
    assert back.magic == b"\0BAD" and back.data == b"x"
    with pytest.raises(ValueError, match="bad magic"):
        back.to_codec()
    assert bytes(Gearman(type="ECHO_RES", magic=Magic.REQ.value, data=b"y"))[:4] == b"\0REQ"


def test_unknown_type_number_builds_and_dissects_raw() -> None:
    wire = bytes(Gearman(type=99, body=b"what"))
    assert wire == encode_raw(Magic.REQ.value, 99, b"what")
    decoder = Decoder()
    decoder.feed(wire)
    with pytest.raises(UnknownPacketTypeError):
        decoder.next_event()
    back = Gearman(wire)
    assert type(back) is Gearman and back.type == 99 and back.body == b"what"
    assert back.packet_type is None
    assert bytes(Gearman(type=0)) == encode_raw(Magic.REQ.value, 0, b"")


def test_missing_nuls_builds_raw_body_and_dissects_raw() -> None:
    wire = bytes(Gearman(type="SUBMIT_JOB", body=b"no separators"))
    assert wire == encode_raw(Magic.REQ.value, 7, b"no separators")
    decoder = Decoder()
    decoder.feed(wire)
    with pytest.raises(MissingArgumentsError):
        decoder.next_event()
    back = Gearman(wire)
    assert type(back) is Gearman and back.body == b"no separators"
    assert back.args == (b"no separators",)
    with pytest.raises(ValueError, match="SUBMIT_JOB needs 3 arguments"):
        back.to_codec()
    # The raw body of a well-formed payload is just another way to build it.
    ok = Gearman(type="JOB_ASSIGN", body=b"H\0f\0d")
    assert ok.to_codec() == Packet.build("JOB_ASSIGN", b"H", b"f", b"d")


def test_payload_on_a_no_argument_type_is_kept_as_extra() -> None:
    wire = bytes(Gearman(type="GRAB_JOB", extra=b"junk"))
    assert wire == encode(Packet(Magic.REQ, PacketType.GRAB_JOB, (), b"junk"))
    assert Gearman(wire).to_codec() == _decode_one(wire)


def test_truncated_header_is_raw() -> None:
    assert isinstance(Gearman(b"\0REQ\0\0"), Raw)


def test_bad_keywords_get_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"SUBMIT_JOB has no field\(s\) \['handle'\]"):
        Gearman(type="SUBMIT_JOB", handle=b"x")
    with pytest.raises(ValueError, match="unknown Gearman packet type name 'NOPE'"):
        Gearman(type="NOPE")


def test_replies_answer_their_requests() -> None:
    echo = Gearman(type="ECHO_REQ", data=b"a")
    assert Gearman(type="ECHO_RES", data=b"a").answers(echo)
    assert not Gearman(type="ECHO_RES", data=b"b").answers(echo)
    submit = Gearman(type="SUBMIT_JOB_BG", function=b"f", unique=b"", data=b"")
    assert GearmanJobCreated(handle=b"H:1").answers(submit)
    assert not GearmanJobAssign().answers(submit)
    assert Gearman(type="NO_JOB").answers(Gearman(type="GRAB_JOB"))


def test_tcp_reassemble_returns_only_complete_packets() -> None:
    echo = encode(Packet.build("ECHO_RES", b"x" * 100))
    assert Gearman.tcp_reassemble(echo[:50], {}, {}) is None
    got = Gearman.tcp_reassemble(echo + echo[:20], {}, {})
    assert isinstance(got, GearmanEchoRes) and got.data == b"x" * 100
    assert bytes(got.payload) == echo[:20]  # the incomplete rest is left as padding
    line = GearmanText.tcp_reassemble(b"OK 1.1\r\n", {}, {})
    assert isinstance(line, GearmanText) and line.text == b"OK 1.1"


def test_tcp_port_bindings() -> None:
    pkt = Gearman(type="ECHO_REQ", data=b"hello")
    assert 4730 in bound_ports()
    on_default = IP(bytes(IP() / TCP(sport=40000, dport=4730) / pkt))
    assert on_default[GearmanEchoReq].data == b"hello"
    port = 47301
    elsewhere = bytes(IP() / TCP(sport=port, dport=40000) / pkt)
    assert not IP(elsewhere).haslayer(Gearman)
    bind_port(port)
    try:
        assert IP(elsewhere)[GearmanEchoReq].data == b"hello"
    finally:
        unbind_port(port)
    assert not IP(elsewhere).haslayer(Gearman)
    assert port not in bound_ports()
