"""Each class of malformed input has its own error type, a message that says
what and where, and a defined effect on the stream (fatal or recoverable)."""

from __future__ import annotations

import struct
import tracemalloc

import pytest

from gearcheck.protocol import (
    AdminLineTooLongError,
    BadMagicError,
    Decoder,
    Magic,
    MissingArgumentsError,
    Packet,
    PacketTooLargeError,
    ProtocolError,
    TruncatedPacketError,
    UnexpectedMagicError,
    UnknownPacketTypeError,
    encode,
    encode_raw,
)

ECHO = encode(Packet.build("ECHO_REQ", b"after"))


def _first_error(data: bytes, eof: bool = False, **kw: object) -> ProtocolError:
    dec = Decoder(**kw)  # type: ignore[arg-type]
    dec.feed(data)
    if eof:
        dec.feed_eof()
    with pytest.raises(ProtocolError) as info:
        while dec.next_event() is not None:
            pass
    return info.value


def test_bad_magic_is_fatal_and_names_offset() -> None:
    err = _first_error(ECHO + b"\0XYZ" + b"\0" * 8)
    assert isinstance(err, BadMagicError)
    assert not err.recoverable
    assert err.offset == len(ECHO)
    assert "bad magic" in str(err) and f"offset {len(ECHO)}" in str(err)


def test_bad_magic_detected_before_a_full_header_arrives() -> None:
    assert isinstance(_first_error(b"\0RE?"), BadMagicError)


@pytest.mark.parametrize("number", [0, 43, 99, 0xFFFFFFFF])
def test_unknown_type_is_fatal(number: int) -> None:
    err = _first_error(encode_raw(b"\0REQ", number, b""))
    assert isinstance(err, UnknownPacketTypeError)
    assert str(number) in str(err)


def test_oversized_declaration_is_refused_without_allocating_it() -> None:
    header = encode_raw(b"\0REQ", int(Packet.build("ECHO_REQ", b"").type), b"", size=2**32 - 1)
    tracemalloc.start()
    try:
        err = _first_error(header + b"abc", max_payload=1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(err, PacketTooLargeError)
    assert "4294967295" in str(err) and "1024" in str(err)
    assert peak < 1024 * 1024


def test_declared_size_within_limit_waits_for_bytes_it_never_preallocates() -> None:
    dec = Decoder(max_payload=2**32)
    tracemalloc.start()
    try:
        dec.feed(encode_raw(b"\0REQ", 16, b"", size=2**31))
        assert dec.next_event() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_truncated_packet_at_eof() -> None:
    err = _first_error(ECHO[:-2], eof=True)
    assert isinstance(err, TruncatedPacketError)
    assert "binary packet" in str(err)


def test_truncated_admin_line_at_eof() -> None:
    err = _first_error(b"stat", eof=True)
    assert isinstance(err, TruncatedPacketError)
    assert "admin line" in str(err)


def test_admin_line_too_long() -> None:
    err = _first_error(b"x" * 200, max_line=100)
    assert isinstance(err, AdminLineTooLongError)
    assert "100" in str(err)


def test_missing_nul_separators_is_recoverable_and_stream_stays_in_sync() -> None:
    dec = Decoder()
    dec.feed(encode_raw(b"\0REQ", 7, b"only-function") + ECHO)
    with pytest.raises(MissingArgumentsError) as info:
        dec.next_event()
    err = info.value
    assert err.recoverable
    assert err.packet_type == 7 and err.payload == b"only-function"
    assert "SUBMIT_JOB" in str(err) and "0 NUL separator" in str(err)
    assert dec.next_event() == Packet.build("ECHO_REQ", b"after")


def test_unexpected_magic_is_recoverable_and_carries_the_packet() -> None:
    dec = Decoder(expect_magic=Magic.REQ)
    dec.feed(encode(Packet.build("ECHO_REQ", b"x", magic=Magic.RES)) + ECHO)
    with pytest.raises(UnexpectedMagicError) as info:
        dec.next_event()
    assert info.value.recoverable
    assert info.value.packet.type.name == "ECHO_REQ"
    assert dec.next_event() == Packet.build("ECHO_REQ", b"after")


def test_fatal_error_repeats_and_feed_after_eof_is_refused() -> None:
    dec = Decoder()
    dec.feed(b"\0BAD" + b"\0" * 8)
    for _ in range(2):
        with pytest.raises(BadMagicError):
            dec.next_event()
    dec.feed_eof()
    with pytest.raises(RuntimeError):
        dec.feed(b"x")


def test_each_malformed_class_has_a_distinct_error_type() -> None:
    kinds = {BadMagicError, UnknownPacketTypeError, PacketTooLargeError, AdminLineTooLongError,
             TruncatedPacketError, MissingArgumentsError, UnexpectedMagicError}
    assert len(kinds) == 7
    assert all(issubclass(k, ProtocolError) for k in kinds)
    header_only = struct.pack(">4sII", b"\0REQ", 16, 5)
    assert isinstance(_first_error(header_only, eof=True), TruncatedPacketError)
