"""The differences `gearcheck explore` found, pinned on both servers.

Each test asserts both sides of a row that explore's triage added to
docs/refserver-vs-gearmand.md: what gearmand 1.1.20 does and what the
reference server does instead.
"""

from __future__ import annotations

from gearcheck.protocol import Packet, PacketType
from gearcheck.wire import Connection, ReceiveTimeout

T = PacketType


def _drain(c: Connection) -> list[str]:
    names = []
    try:
        while True:
            names.append(c.recv(0.3).name)  # type: ignore[union-attr]
    except ReceiveTimeout:
        return names


def test_jobs_requeued_together_come_back_in_order(kit) -> None:
    """Row "Jobs requeued together": gearmand hands them out in reverse, we in queue order."""
    f = kit.fn()
    c = kit.conn()
    handles = [kit.submit(c, f, b"d%d" % i, ptype=T.SUBMIT_JOB_BG) for i in range(3)]
    w = kit.worker(f)
    assert [kit.grab(w, T.GRAB_JOB).args[0] for _ in handles] == handles
    w.send(Packet.build(T.CANT_DO, f))
    kit.sync(w)
    other = kit.worker(f)
    again = []
    for _ in handles:
        job = kit.grab(other, T.GRAB_JOB)
        again.append(job.args[0])
        other.send(Packet.build(T.WORK_COMPLETE, job.args[0], b""))
    assert again == (handles[::-1] if kit.name == "gearmand" else handles)


def test_a_sleeping_worker_that_gives_up_its_job_is_not_woken_for_it(kit) -> None:
    """Row "CANT_DO or RESET_ABILITIES from a sleeping worker": gearmand NOOPs the worker that
    just dropped the function; both wake a sleeping worker that can still do it."""
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f, ptype=T.SUBMIT_JOB_BG)
    quitter = kit.worker(f)
    assert kit.grab(quitter, T.GRAB_JOB).args[0] == h
    stayer = kit.worker(f)
    stayer.send(Packet.build(T.PRE_SLEEP))
    kit.sync(stayer)
    quitter.send(Packet.build(T.PRE_SLEEP))
    quitter.send(Packet.build(T.CANT_DO, f))
    quitter.send(Packet.build(T.ECHO_REQ, b"after"))
    assert _drain(quitter) == (["NOOP", "ECHO_RES"] if kit.name == "gearmand" else ["ECHO_RES"])
    assert _drain(stayer) == ["NOOP"]
    assert kit.grab(stayer, T.GRAB_JOB).args[0] == h
    stayer.send(Packet.build(T.WORK_COMPLETE, h, b""))
