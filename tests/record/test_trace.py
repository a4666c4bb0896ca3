"""The trace recorder and reader: the codec's events as JSON lines, whatever the chunking.

Bytes built by the codec go through ``TraceRecorder`` in one piece, one byte at a
time and in random cuts; the records must be the same each time and must give
back every argument byte for byte. Malformed input becomes error and raw
records that keep the bytes. ``read_trace`` names the file and line of what it
cannot read.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from gearcheck.protocol import Packet, encode
from gearcheck.protocol.capture import Direction
from gearcheck.record.trace import (
    TraceError,
    TraceRecorder,
    TraceWriter,
    decode_bytes,
    header,
    read_trace,
)

PACKETS = [
    Packet.build("CAN_DO", "resize"),
    Packet.build("SUBMIT_JOB_HIGH", "resize", "u-1", b"\x00\xff binary \x00 payload"),
    Packet.build("SUBMIT_JOB_BG", "ingest", "", "text payload with ünïcode"),
    Packet.build("WORK_STATUS", "H:host:1", 1, 3),
    Packet.build("SUBMIT_JOB_EPOCH", "later", "", 1_900_000_000, b"x" * 70_000),
]
STREAM = b"".join(encode(p) for p in PACKETS) + b"status\r\nversion\n"


def _record(chunks: list[bytes], keep_payloads: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    recorder = TraceRecorder(out.append, 100.0, keep_payloads=keep_payloads)
    conn = recorder.open(100.0, "127.0.0.1:1", "127.0.0.1:2")
    for i, chunk in enumerate(chunks):
        recorder.data(conn, Direction.TO_SERVER, 100.0 + i, chunk)
    recorder.close(conn, 200.0)
    return [{k: v for k, v in r.items() if k != "t"} for r in out]


def _cuts(data: bytes, rng: random.Random) -> list[bytes]:
    points = sorted(rng.sample(range(1, len(data)), 40))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def test_chunking_does_not_change_the_records() -> None:
    whole = _record([STREAM])
    assert _record([bytes([b]) for b in STREAM[:2000]] + [STREAM[2000:]]) == whole
    rng = random.Random(7)
    for _ in range(5):
        assert _record(_cuts(STREAM, rng)) == whole


def test_records_give_back_every_argument_byte_for_byte() -> None:
    records = [r for r in _record([STREAM]) if "type" in r]
    assert [r["type"] for r in records] == [p.name for p in PACKETS]
    for packet, record in zip(PACKETS, records, strict=True):
        assert {k: decode_bytes(v) for k, v in record["args"].items()} == packet.named_args()
        assert record["size"] == len(packet.payload)
        assert record["bytes"] == len(encode(packet))
    # Binary bytes travel as base64, text as text.
    assert records[1]["args"]["data"] == {"b64": "AP8gYmluYXJ5IAAgcGF5bG9hZA=="}
    assert records[2]["args"]["data"] == "text payload with ünïcode"
    lines = [r["line"] for r in _record([STREAM]) if "line" in r]
    assert lines == ["status", "version"]


def test_without_payloads_only_their_length_is_kept() -> None:
    records = [r for r in _record([STREAM], keep_payloads=False) if "type" in r]
    assert records[4]["args"]["data"] == {"len": 70_000}
    assert records[1]["args"]["function"] == "resize"  # names stay


def test_unframed_bytes_are_kept_raw() -> None:
    bad = encode(Packet.build("ECHO_REQ", "ok")) + b"\0REQ\0\0\0\x07\0\0\0\x02ab" \
        + b"\0BAD" + b"\0" * 8
    records = _record([bad[:20], bad[20:], b"after"])
    errors = [r for r in records if "error" in r]
    assert "needs 3 arguments" in errors[0]["error"]  # recoverable: decoding goes on
    assert bytes.fromhex(errors[0]["raw"]) == b"\0REQ\0\0\0\x07\0\0\0\x02ab"
    assert "bad magic" in errors[1]["error"]
    assert bytes.fromhex(errors[1]["raw"]) == b"\0BAD" + b"\0" * 8
    assert [bytes.fromhex(r["raw"]) for r in records if "raw" in r and "error" not in r] \
        == [b"after"]
    closed = records[-1]
    assert closed["event"] == "close" and closed["undecoded_bytes"] == 12 + 5


def test_a_written_trace_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    writer = TraceWriter(path, header("test", 100.0, note="unit"))
    recorder = TraceRecorder(writer.write, 100.0)
    conn = recorder.open(100.5, "a:1", "b:2")
    recorder.data(conn, Direction.TO_SERVER, 101.0, STREAM)
    recorder.close(conn, 102.0)
    writer.close()
    trace = read_trace(path)
    assert trace.header["note"] == "unit" and trace.start == 100.0
    assert trace.connections() == [1]
    assert len(list(trace.packets())) == len(PACKETS)
    assert trace.records[0]["t"] == 0.5


@pytest.mark.parametrize(("text", "problem"), [
    ("", "empty file"),
    ('{"hello": 1}\n', ":1: not a gearcheck trace"),
    ('{"gearcheck_trace": 1}\nnot json\n', ":2: not a JSON line"),
    ('{"gearcheck_trace": 1}\n{"t": 0, "conn": 1, "dir": "to_server"}\n',
     ":2: a record needs"),
    ('{"gearcheck_trace": 1}\n{"t": "x", "conn": 1, "event": "open"}\n',
     ":2: field 't' is missing or not a number"),
    ('{"gearcheck_trace": 1}\n{"t": 0, "conn": 1, "dir": "up", "type": "NOOP"}\n',
     ":2: field 'dir' must be one of"),
    ('{"gearcheck_trace": 1}\n{"t": 0, "conn": 1, "dir": "to_server", "type": "CAN_DO", '
     '"args": {"function": 5}}\n', ":2: argument value 5"),
])
def test_a_bad_trace_is_named_by_file_and_line(tmp_path: Path, text: str,
                                               problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(TraceError) as caught:
        read_trace(path)
    assert str(caught.value).startswith(str(path))
    assert problem in str(caught.value)


def test_the_header_is_json_with_the_start_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    TraceWriter(path, header("proxy", 1234.5)).close()
    first = json.loads(path.read_text().splitlines()[0])
    assert first["gearcheck_trace"] == 1 and first["start"] == 1234.5
