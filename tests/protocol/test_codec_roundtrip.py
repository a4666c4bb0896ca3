"""Every packet type survives encode -> decode, in any chunking of the stream."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gearcheck.protocol import (
    SPECS,
    AdminLine,
    Decoder,
    Magic,
    Packet,
    PacketType,
    encode,
    spec_for,
)

# NUL is legal only in an argument that runs to the end of the payload.
_field = st.binary(max_size=64).filter(lambda b: b"\0" not in b)
_last = st.binary(max_size=256)


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    ptype = draw(st.sampled_from(list(PacketType)))
    spec = SPECS[ptype]
    args = [draw(_field) for _ in range(max(spec.arity - 1, 0))]
    if spec.arity:
        args.append(draw(_last))
    magic = draw(st.sampled_from(list(Magic)))
    return Packet(magic, ptype, tuple(args))


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=20))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _decode_chunks(chunks: list[bytes]) -> list[object]:
    dec = Decoder()
    out: list[object] = []
    for chunk in chunks:
        dec.feed(chunk)
        out.extend(dec.events())
    dec.feed_eof()
    assert dec.next_event() is None
    assert dec.at_eof
    return out


@pytest.mark.parametrize("ptype", list(PacketType), ids=lambda t: t.name)
def test_every_type_round_trips_with_named_arguments(ptype: PacketType) -> None:
    spec = SPECS[ptype]
    named = {name: f"{name}-value".encode() for name in spec.args}
    if spec.args:
        named[spec.args[-1]] = b"last\0with\0nuls"
    packet = Packet.build(ptype, **named)
    wire = encode(packet)
    magic, number, size = struct.unpack(">4sII", wire[:12])
    assert magic == spec.magic.value
    assert number == int(ptype)
    assert size == len(wire) - 12
    (decoded,) = _decode_chunks([wire])
    assert decoded == packet
    for name, value in named.items():
        assert decoded.arg(name) == value


@given(st.lists(packets(), min_size=1, max_size=8), st.data())
@settings(max_examples=200, deadline=None)
def test_any_packets_in_any_chunking(pkts: list[Packet], data: st.DataObject) -> None:
    stream = b"".join(encode(p) for p in pkts)
    chunks = data.draw(chunkings(stream))
    assert _decode_chunks(chunks) == pkts


@given(st.lists(st.one_of(packets(), st.binary(min_size=1, max_size=40).filter(
    lambda b: b"\n" not in b and b"\r" not in b and b[0] != 0).map(AdminLine)), max_size=8),
    st.data())
@settings(max_examples=150, deadline=None)
def test_admin_lines_and_packets_interleave(events: list[object], data: st.DataObject) -> None:
    parts = [encode(e) if isinstance(e, Packet) else e.text + b"\r\n" for e in events]
    chunks = data.draw(chunkings(b"".join(parts)))
    assert _decode_chunks(chunks) == events


def test_zero_argument_type_keeps_ignored_payload_and_stays_in_sync() -> None:
    wire = (struct.pack(">4sII", b"\0REQ", PacketType.GRAB_JOB, 3) + b"abc"
            + encode(Packet.build("ECHO_REQ", b"x")))
    grab, echo = _decode_chunks([wire])
    assert grab.type is PacketType.GRAB_JOB and grab.args == () and grab.extra == b"abc"
    assert echo.arg("data") == b"x"


def test_admin_line_drops_one_carriage_return_only() -> None:
    assert _decode_chunks([b"status\r\n", b"x\r\r\n", b"\n"]) == [
        AdminLine(b"status"), AdminLine(b"x\r"), AdminLine(b"")]


def test_build_checks_argument_names_and_counts() -> None:
    with pytest.raises(TypeError, match="missing argument"):
        Packet.build("SUBMIT_JOB", function="f", unique="u")
    with pytest.raises(TypeError, match="no argument"):
        Packet.build("ECHO_REQ", payload=b"x")
    with pytest.raises(TypeError, match="takes 3 argument"):
        Packet.build("SUBMIT_JOB", "f", "u")
    with pytest.raises(KeyError, match="unknown packet type name"):
        spec_for("SUBMIT_JOBS")


def test_build_accepts_text_and_numbers() -> None:
    p = Packet.build("WORK_STATUS", handle="H:x:1", numerator=3, denominator="4")
    assert p.args == (b"H:x:1", b"3", b"4")
    assert p.magic is Magic.REQ


def test_table_covers_every_type_1_to_42() -> None:
    assert [int(t) for t in SPECS] == list(range(1, 43))
    assert SPECS[PacketType.STATUS_RES_UNIQUE].args[-1] == "client_count"
    assert SPECS[PacketType.SUBMIT_REDUCE_JOB].args == (
        "function", "unique", "reducer", "aggregate", "data")
