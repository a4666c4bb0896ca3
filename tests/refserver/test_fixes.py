"""Regression tests for reference-server bugs the conformance suite found.

One test per fix, named after the suite case that caught it; each runs on both
servers where gearmand agrees, so the fix is checked against the real thing.
"""

from __future__ import annotations

from gearcheck.protocol import Packet, PacketType

T = PacketType


def test_dash_unique_with_empty_workload_never_coalesces(kit) -> None:
    """GM-UNIQ-006a: ``-`` coalesces on identical non-empty workloads only."""
    f = kit.fn()
    c = kit.conn()
    first = kit.submit(c, f, b"", b"-", T.SUBMIT_JOB_BG)
    second = kit.submit(c, f, b"", b"-", T.SUBMIT_JOB_BG)
    assert first != second
    fg = kit.submit(c, f, b"", b"-")                       # foreground too
    assert fg not in (first, second)
    assert kit.submit(c, f, b"w", b"-", T.SUBMIT_JOB_BG) == kit.submit(c, f, b"w", b"-",
                                                                       T.SUBMIT_JOB_BG)


def test_results_need_the_exact_handle_the_worker_holds(refkit) -> None:
    """Workers' held jobs are looked up by the handle text (a faster path than parsing the
    number): only the canonical handle, from the worker that holds the job, is accepted."""
    kit = refkit
    f = kit.fn()
    w1, w2 = kit.worker(f), kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f)
    assert kit.grab(w1).args[0] == h
    prefix, _, number = h.rpartition(b":")
    for other, handle in ((w2, h), (w1, prefix + b":0" + number), (w1, prefix + b":+" + number)):
        other.send(Packet.build(T.WORK_COMPLETE, handle, b"r"))
        assert other.expect(T.ERROR).args[0] == b"JOB_NOT_FOUND"
    w1.send(Packet.build(T.WORK_FAIL, h + b"\0"))     # one trailing NUL is tolerated
    assert c.expect(T.WORK_FAIL).args == (h + b"\0",)   # and forwarded verbatim, as gearmand
    w1.send(Packet.build(T.WORK_COMPLETE, h, b"late"))       # the job is over
    assert w1.expect(T.ERROR).args[0] == b"JOB_NOT_FOUND"
    kit.silent(c)


def test_same_connection_coalesced_twice_gets_every_result_twice(kit) -> None:
    """gearmand keeps one client entry per foreground submission: a connection that joined
    a job twice gets each WORK_* twice and counts twice in STATUS_RES_UNIQUE (found through
    the coalescing-storm load profile, whose client owes each submission its own result)."""
    f = kit.fn()
    c, other = kit.conn(), kit.conn()
    u = b"twice-" + f
    h = kit.submit(c, f, b"x", unique=u)
    assert kit.submit(c, f, b"y", unique=u) == h
    assert kit.submit(other, f, b"z", unique=u) == h
    c.send(Packet.build(T.GET_STATUS_UNIQUE, u))
    assert c.expect(T.STATUS_RES_UNIQUE).args[-1] == b"3"
    other.close()                                     # the other client leaves: c stays twice
    w = kit.worker(f)
    assert kit.grab(w).args[0] == h
    w.send(Packet.build(T.WORK_DATA, h, b"d"))
    w.send(Packet.build(T.WORK_COMPLETE, h, b"r"))
    got = [c.recv_packet() for _ in range(4)]
    assert sorted((p.type, p.args) for p in got) == sorted(
        [(T.WORK_DATA, (h, b"d"))] * 2 + [(T.WORK_COMPLETE, (h, b"r"))] * 2)
    kit.silent(c)
