"""Mirrored scenarios: the engine accepts a peer's connections and plays the server.

The peer here is a worker written with gearcheck's own codec (wire.Connection):
the subject is the engine's mirrored mode (accept, mirrored magic, assign after
the grab the peer sent, captures, failure on a wrong packet), not a library.
"""

from __future__ import annotations

import threading
from pathlib import Path

from gearcheck.engine.loader import MirroredFormat, load_mirrored_file
from gearcheck.engine.mirrored import Listener, MirroredRuntime, play_steps
from gearcheck.protocol import Magic, Packet, PacketType
from gearcheck.results import FailureKind, Verdict
from gearcheck.wire import Connection

FORMAT = MirroredFormat(driver={})
SCRIPT = """\
id: LIB-WORKER-901
title: a worker grabs, gets a job and completes it
role: worker
level: MUST
source: test
actors: [lib]
steps:
  - expect: {on: lib, packet: CAN_DO, args: {function: {capture: served}}}
  - expect: {on: lib, packet: [GRAB_JOB, GRAB_JOB_UNIQ]}
  - assign: {on: lib, handle: "H:1", function: "${served}", unique: u, data: abc}
  - expect: {on: lib, packet: WORK_COMPLETE, args: {handle: "H:1", data: cba}}
  - close: lib
"""


def _worker(address, grab: PacketType, complete_with: bytes, seen: list[Packet]) -> None:
    with Connection.open(address, timeout=5) as conn:
        conn.send(Packet.build(PacketType.CAN_DO, b"rev"))
        conn.send(Packet.build(grab))
        job = conn.recv_packet(5)
        seen.append(job)
        conn.send(Packet.build(PacketType.WORK_COMPLETE, job.args[0], complete_with))
        try:
            conn.recv(5)  # until the harness hangs up
        except Exception:
            pass


def _play(tmp_path: Path, grab: PacketType, complete_with: bytes):
    f = tmp_path / "w.yaml"
    f.write_text(SCRIPT)
    (scenario,), errors = load_mirrored_file(f, FORMAT)
    assert not errors
    seen: list[Packet] = []
    with Listener() as listener:
        rt = MirroredRuntime(scenario, listener)
        peer = threading.Thread(target=_worker, args=(listener.address, grab, complete_with,
                                                      seen), daemon=True)
        peer.start()
        try:
            result = play_steps(scenario, rt)
        finally:
            rt.close_all()
        peer.join(10)
    return result, seen


def test_the_harness_answers_a_grab_the_way_it_was_asked(tmp_path: Path) -> None:
    result, seen = _play(tmp_path, PacketType.GRAB_JOB, b"cba")
    assert result.verdict is Verdict.PASS, result.message
    assert seen[0].type is PacketType.JOB_ASSIGN and seen[0].magic is Magic.RES
    assert seen[0].args == (b"H:1", b"rev", b"abc")  # the captured function went back
    result, seen = _play(tmp_path, PacketType.GRAB_JOB_UNIQ, b"cba")
    assert result.verdict is Verdict.PASS, result.message
    assert seen[0].type is PacketType.JOB_ASSIGN_UNIQ and seen[0].args[2] == b"u"
    assert any(e.direction == "recv" and e.actor == "lib" for e in result.transcript)


def test_a_wrong_result_fails_at_its_step_with_what_arrived(tmp_path: Path) -> None:
    result, _ = _play(tmp_path, PacketType.GRAB_JOB, b"abc")
    assert result.verdict is Verdict.FAIL
    assert result.failure_kind is FailureKind.MISMATCH
    assert result.failing_step == 3
    assert 'WORK_COMPLETE.data: expected "cba", got "abc"' in result.message, result.message
