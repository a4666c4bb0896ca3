"""wait_read: the harness knows when its peer has read what it sent, whatever the load.

The peer is a plain socket in a thread, so each test controls exactly when it
reads; the subject is the kernel bookkeeping (engine.peer_read) and the mirrored
step built on it, not a library.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gearcheck.engine.loader import MirroredFormat, load_mirrored_file
from gearcheck.engine.mirrored import Listener, MirroredRuntime, play_steps
from gearcheck.engine.peer_read import (
    PeerReadUnknown,
    ReadState,
    peer_receive_queue,
    read_state,
    unacknowledged,
    wait_until_read,
)
from gearcheck.protocol import Decoder, Packet, PacketType, encode
from gearcheck.results import CaseResult, FailureKind, Verdict


@contextmanager
def connected_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(ours, theirs): two ends of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        theirs = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def delivered(ours: socket.socket) -> None:
    """Until the peer's kernel has acknowledged everything sent (deadline 5 s)."""
    until = time.monotonic() + 5
    while unacknowledged(ours) and time.monotonic() < until:
        time.sleep(0.001)
    assert unacknowledged(ours) == 0


def test_the_peer_has_read_only_once_its_process_took_every_byte() -> None:
    with connected_pair() as (ours, theirs):
        assert read_state(ours) is ReadState.READ  # nothing sent, nothing to read
        ours.sendall(b"x" * 100)
        delivered(ours)
        assert wait_until_read(ours, time.monotonic() + 0.2) is ReadState.PENDING
        assert peer_receive_queue(ours) == 100
        theirs.recv(60)
        assert read_state(ours) is ReadState.PENDING
        assert peer_receive_queue(ours) == 40
        theirs.recv(100)
        assert wait_until_read(ours, time.monotonic() + 2) is ReadState.READ


@pytest.mark.parametrize("unread", [b"", b"left behind"])
def test_a_peer_that_closed_its_socket_reads_nothing_more(unread: bytes) -> None:
    with connected_pair() as (ours, theirs):
        if unread:
            ours.sendall(unread)  # closing with unread bytes resets the connection
            delivered(ours)
        theirs.close()
        assert wait_until_read(ours, time.monotonic() + 2) is ReadState.CLOSED


def test_a_peer_the_kernel_does_not_list_is_a_harness_problem() -> None:
    a, b = socket.socketpair()  # AF_UNIX: no TCP table lists it
    with a, b, pytest.raises(PeerReadUnknown):
        peer_receive_queue(a)


FORMAT = MirroredFormat(driver={})
SCRIPT = """\
id: LIB-WORKER-902
title: two packets with wait_read between them reach the peer in two reads
role: worker
level: MUST
source: test
actors: [lib]
timeout: 3
steps:
  - expect: {on: lib, packet: PRE_SLEEP}
  - send: {on: lib, packet: ERROR, args: {code: X, text: first}}
  - WAIT
  - send: {on: lib, packet: NOOP}
  - expect: {on: lib, packet: GRAB_JOB}
"""


BOTH = len(encode(Packet.build(PacketType.ERROR, b"X", b"first"))) + len(
    encode(Packet.build(PacketType.NOOP)))


def _peer(address: tuple[str, int], first_read: str, reads: list[list[Packet]]) -> None:
    """Starts reading when ``first_read`` says (``late``: after 0.5 s, ``both``: once both
    packets wait in its socket, ``never``); every recv() is kept as the packets it held."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(encode(Packet.build(PacketType.PRE_SLEEP)))
        if first_read == "never":
            time.sleep(1.5)
            return
        if first_read == "late":
            time.sleep(0.5)
        else:
            until = time.monotonic() + 5
            while len(sock.recv(4096, socket.MSG_PEEK)) < BOTH and time.monotonic() < until:
                time.sleep(0.01)
        decoder = Decoder()
        while True:
            data = sock.recv(4096)
            if not data:
                return
            decoder.feed(data)
            got = []
            while (event := decoder.next_event()) is not None:
                assert isinstance(event, Packet)
                got.append(event)
            reads.append(got)
            if any(p.type is PacketType.NOOP for p in got):
                sock.sendall(encode(Packet.build(PacketType.GRAB_JOB)))


def _play(tmp_path: Path, wait: str, first_read: str) -> tuple[CaseResult, list[list[Packet]]]:
    f = tmp_path / "w.yaml"
    f.write_text(SCRIPT.replace("WAIT", wait))
    (scenario,), errors = load_mirrored_file(f, FORMAT)
    assert not errors, errors
    reads: list[list[Packet]] = []
    with Listener() as listener:
        rt = MirroredRuntime(scenario, listener)
        peer = threading.Thread(target=_peer, daemon=True, args=(
            (listener.address.host, listener.address.port), first_read, reads))
        peer.start()
        try:
            result = play_steps(scenario, rt)
        finally:
            rt.close_all()
        peer.join(10)
    return result, reads


def test_wait_read_holds_the_next_send_until_the_peer_has_read(tmp_path: Path) -> None:
    # The peer sleeps before its first recv(), as a process on a busy machine may: without
    # wait_read both packets would be waiting for it and one recv() would take both.
    result, reads = _play(tmp_path, "wait_read: {on: lib}", "late")
    assert result.verdict is Verdict.PASS, result.message
    assert [[p.type for p in r] for r in reads] == [[PacketType.ERROR], [PacketType.NOOP]]
    assert any("has read everything sent" in str(e.summary) for e in result.transcript)


def test_without_wait_read_the_two_packets_share_a_read(tmp_path: Path) -> None:
    result, reads = _play(tmp_path, "sleep: 0.01", "both")
    assert result.verdict is Verdict.PASS, result.message
    assert [[p.type for p in r] for r in reads] == [[PacketType.ERROR, PacketType.NOOP]]


def test_a_peer_that_never_reads_fails_the_step(tmp_path: Path) -> None:
    result, _ = _play(tmp_path, "wait_read: {on: lib, within: 0.5}", "never")
    assert result.verdict is Verdict.FAIL
    assert result.failure_kind is FailureKind.TIMEOUT
    assert "did not read the bytes sent to it within 0.50 s" in result.message


def test_wait_read_names_an_actor_that_exists(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text(SCRIPT.replace("WAIT", "wait_read: {on: other}"))
    _, errors = load_mirrored_file(f, FORMAT)
    assert any("wait_read.on" in str(e) and "other" in str(e) for e in errors), errors
