"""The decoder's buffer strategy: the fed bytes kept as they are, a bytearray only while a
partial event waits. Offsets, caller-owned buffers and long streams must not notice."""

from __future__ import annotations

import pytest

from gearcheck.protocol import (
    AdminLine,
    BadMagicError,
    Decoder,
    Packet,
    PacketType,
    encode,
)

T = PacketType


def _submit(i: int, size: int = 10) -> bytes:
    return encode(Packet.build(T.SUBMIT_JOB, b"f", b"u%d" % i, b"x" * size))


def test_caller_may_reuse_its_buffer_after_feed() -> None:
    d = Decoder()
    chunk = bytearray(_submit(1))
    d.feed(chunk)
    chunk[:] = b"\xff" * len(chunk)                 # the caller overwrites its buffer
    assert d.next_event() == Packet.build(T.SUBMIT_JOB, b"f", b"u1", b"x" * 10)
    view = memoryview(bytearray(_submit(2)))
    d.feed(view[:5])                                # partial: switches to a bytearray
    d.feed(view[5:])
    view[:] = b"\0" * len(view)
    assert d.next_event().args[1] == b"u2"


def test_offsets_survive_the_switch_between_bytes_and_bytearray() -> None:
    d = Decoder()
    stream = _submit(1) + _submit(2) + b"status\n" + _submit(3)
    d.feed(stream[:len(_submit(1)) + 3])            # one packet and the start of the next
    assert d.next_event().args[1] == b"u1"
    assert d.next_event() is None
    d.feed(stream[len(_submit(1)) + 3:])
    assert d.next_event().args[1] == b"u2"
    assert d.next_event() == AdminLine(b"status")
    assert d.next_event().args[1] == b"u3"
    assert d.offset == len(stream) and d.buffered == 0
    d.feed(b"\0BAD" + bytes(8))
    with pytest.raises(BadMagicError) as err:
        d.next_event()
    assert err.value.offset == len(stream)


def test_long_pipelined_stream_in_odd_chunks() -> None:
    stream = b"".join(_submit(i, size=i % 300) for i in range(3000))   # > compaction point
    d = Decoder()
    got = []
    for start in range(0, len(stream), 7919):
        d.feed(stream[start:start + 7919])
        while (event := d.next_event()) is not None:
            got.append(event)
    assert [p.args[1] for p in got] == [b"u%d" % i for i in range(3000)]
    assert d.offset == len(stream) and d.buffered == 0


def test_large_payload_in_many_chunks() -> None:
    big = encode(Packet.build(T.SUBMIT_JOB_BG, b"f", b"", b"y" * 3_000_000))
    d = Decoder()
    for start in range(0, len(big), 65536):
        assert d.next_event() is None
        d.feed(big[start:start + 65536])
    packet = d.next_event()
    assert packet.args[2] == b"y" * 3_000_000
    assert d.buffered == 0


@pytest.mark.parametrize("chunk", [1, 3, 7, 12, 100, 1 << 20])
def test_offset_before_and_after_an_event_spans_exactly_its_bytes(chunk: int) -> None:
    """How wire.Connection knows the bytes of each event without re-encoding it."""
    from gearcheck.protocol import MissingArgumentsError, encode_raw

    short = encode_raw(b"\0RES", int(T.JOB_ASSIGN), b"H:1")  # recoverable: args missing
    parts = [_submit(1), b"OK\r\n", short, _submit(2, 70_000), b"\n", _submit(3, 0)]
    stream = b"".join(parts)
    d = Decoder()
    spans: list[bytes] = []
    for i in range(0, len(stream), chunk):
        d.feed(stream[i:i + chunk])
        while True:
            start = d.offset
            try:
                event = d.next_event()
            except MissingArgumentsError:
                event = None
                assert d.offset > start
            if d.offset > start:
                spans.append(stream[start:d.offset])
            if event is None and d.offset == start:
                break
    assert spans == parts
