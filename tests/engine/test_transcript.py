"""A case's transcript holds the bytes really sent and read, with real endpoints and times."""

from __future__ import annotations

from gearcheck.protocol import Packet, PacketType, encode
from gearcheck.results import NOTE_CLOSED, NOTE_CONNECTED, Verdict

from .conftest import summary

CASE = """actors: [client, admin, rogue]
steps:
  - send: {on: client, packets: [{packet: ECHO_REQ, args: {data: pipelined}, times: 2}]}
  - expect: {on: client, packet: ECHO_RES, args: {data: pipelined}}
  - expect: {on: client, packet: ECHO_RES, args: {data: pipelined}}
  - send: {on: client, packet: ECHO_REQ, args: {data: in-chunks}, chunk: 7}
  - expect: {on: client, packet: ECHO_RES, args: {data: in-chunks}}
  - admin: {on: admin, command: "maxqueue ${fn} 5", reply: {line: OK}}
  - send: {on: rogue, malformed: {type: 99, payload: "x"}}
  - expect_close: {on: rogue}
"""


def test_the_transcript_is_the_bytes_on_the_wire(run_yaml, refserver) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml(CASE, refserver.address)
    assert result.verdict is Verdict.PASS, summary(result)
    entries = result.transcript
    wire = [e for e in entries if e.direction in ("send", "recv")]
    by_actor = {name: [e for e in entries if e.actor == name]
                for name in ("client", "admin", "rogue")}

    # a connection's opening and closing notes name its real endpoints (the writes and
    # reads between are on it); each actor has its own local port
    for es in by_actor.values():
        assert es[0].summary["note"] == NOTE_CONNECTED and es[-1].summary["note"] == NOTE_CLOSED
        assert es[0].peer == es[-1].peer == str(refserver.address)
        assert es[0].local == es[-1].local == es[0].summary["local"]
        assert all(e.local is None and e.peer is None for e in es[1:-1])
        walls = [e.wall for e in es]
        assert all(w is not None for w in walls) and walls == sorted(walls)  # type: ignore[type-var]
    assert len({es[0].local for es in by_actor.values()}) == 3

    echo_req = encode(Packet.build(PacketType.ECHO_REQ, b"pipelined"))
    echo_res = encode(Packet.build(PacketType.ECHO_RES, b"pipelined"))
    client = [e for e in by_actor["client"] if e.direction != "note"]
    # the pipelined pair: one write, said to be the two packets it was built from
    assert bytes.fromhex(client[0].raw_hex) == echo_req * 2
    assert [p["type"] for p in client[0].summary["packets"]] == ["ECHO_REQ", "ECHO_REQ"]
    # the replies: one entry each, with exactly its own bytes
    assert [bytes.fromhex(e.raw_hex) for e in client[1:3]] == [echo_res, echo_res]
    # a chunked write: one entry per write, the first one says what the whole is
    chunked = encode(Packet.build(PacketType.ECHO_REQ, b"in-chunks"))
    chunks = [e for e in client if e.direction == "send"][1:]
    assert b"".join(bytes.fromhex(e.raw_hex) for e in chunks) == chunked
    assert [e.summary["chunk"] for e in chunks] == ["1/3", "2/3", "3/3"]
    assert chunks[0].summary["type"] == "ECHO_REQ" and "type" not in chunks[1].summary

    # the admin reply as gearmand writes it, "OK\r\n": a re-encoding would have lost the CR
    admin = [e for e in by_actor["admin"] if e.direction != "note"]
    assert admin[0].summary["line"].startswith("maxqueue gc.")
    assert bytes.fromhex(admin[0].raw_hex) == admin[0].summary["line"].encode() + b"\n"
    assert bytes.fromhex(admin[1].raw_hex) == b"OK\r\n" and admin[1].summary == {"line": "OK"}

    # the malformed write says what the case built, and the close is one "recv" of no bytes
    rogue = [e for e in by_actor["rogue"] if e.direction != "note"]
    assert rogue[0].summary["malformed"]["number"] == 99
    assert bytes.fromhex(rogue[0].raw_hex) == b"\0REQ\0\0\0\x63\0\0\0\x01x"
    assert [(e.direction, e.raw_hex, e.summary) for e in rogue[1:]] == [
        ("recv", "", {"note": "closed by the server"})]
    assert not [e for e in entries if e.direction == "note" and "closed by the server"
                in str(e.summary)]
    assert len(wire) == len(client) + len(admin) + len(rogue)
