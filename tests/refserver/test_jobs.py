"""Coalescing, priorities, requeues, disconnects and epoch jobs, on both servers."""

from __future__ import annotations

import time

from gearcheck.protocol import Packet, PacketType

T = PacketType


def test_same_unique_coalesces_and_every_client_gets_the_result(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c1, c2, c3 = kit.conn(), kit.conn(), kit.conn()
    u = b"same-" + f
    h = kit.submit(c1, f, b"first", unique=u)
    assert kit.submit(c2, f, b"second", unique=u, ptype=T.SUBMIT_JOB_HIGH) == h
    job = kit.grab(w)
    assert job.args == (h, f, u, b"first")          # first workload and priority kept
    assert kit.submit(c3, f, unique=u) == h          # a running job still coalesces
    w.send(Packet.build(T.WORK_DATA, h, b"part"))
    w.send(Packet.build(T.WORK_COMPLETE, h, b"all"))
    for c in (c1, c2, c3):
        assert c.expect(T.WORK_DATA).args == (h, b"part")
        assert c.expect(T.WORK_COMPLETE).args == (h, b"all")
    assert kit.grab(w).type == T.NO_JOB               # the worker ran it once
    assert kit.submit(c1, f, unique=u) != h           # a finished job's unique is free again


def test_coalescing_keys(kit) -> None:
    f, g = kit.fn(), kit.fn()
    c = kit.conn()
    assert kit.submit(c, f, b"p") != kit.submit(c, f, b"p")                  # empty unique
    assert kit.submit(c, f, b"p", b"-") == kit.submit(c, f, b"p", b"-")      # '-' = workload
    assert kit.submit(c, f, b"p", b"-") != kit.submit(c, f, b"q", b"-")
    assert kit.submit(c, f, b"p", b"U") != kit.submit(c, g, b"p", b"U")      # per function
    assert kit.submit(c, f, b"p", b"V") == kit.submit(c, f, b"p", b"V", T.SUBMIT_JOB_BG)


def test_background_joiner_gets_no_work_packets(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    fg, bg = kit.conn(), kit.conn()
    h = kit.submit(fg, f, unique=b"j")
    assert kit.submit(bg, f, unique=b"j", ptype=T.SUBMIT_JOB_BG) == h
    kit.grab(w)
    w.send(Packet.build(T.WORK_COMPLETE, h, b"r"))
    assert fg.expect(T.WORK_COMPLETE).args == (h, b"r")
    kit.silent(bg)


def test_priorities_and_fifo_within_one_function(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    order = [(T.SUBMIT_JOB_LOW_BG, b"l1"), (T.SUBMIT_JOB_BG, b"n1"), (T.SUBMIT_JOB_HIGH_BG, b"h1"),
             (T.SUBMIT_JOB_LOW_BG, b"l2"), (T.SUBMIT_JOB_BG, b"n2"), (T.SUBMIT_JOB_HIGH_BG, b"h2")]
    for ptype, data in order:
        kit.submit(c, f, data, ptype=ptype)
    w = kit.worker(f)
    got = [kit.grab(w, T.GRAB_JOB).args[2] for _ in order]
    assert got == [b"h1", b"h2", b"n1", b"n2", b"l1", b"l2"]


def test_priority_across_functions(kit) -> None:
    """Reference server: global (gearmand >= 2.0). gearmand 1.1.20: last CAN_DO first."""
    a, b = kit.fn("a"), kit.fn("b")
    c = kit.conn()
    kit.submit(c, a, b"a-norm", ptype=T.SUBMIT_JOB_BG)
    kit.submit(c, a, b"a-low", ptype=T.SUBMIT_JOB_LOW_BG)
    kit.submit(c, b, b"b-high", ptype=T.SUBMIT_JOB_HIGH_BG)
    kit.submit(c, b, b"b-low", ptype=T.SUBMIT_JOB_LOW_BG)
    w = kit.worker(b, a)   # CAN_DO b, then CAN_DO a
    got = [kit.grab(w, T.GRAB_JOB).args[2] for _ in range(4)]
    if kit.name == "gearmand":
        assert got == [b"a-norm", b"a-low", b"b-high", b"b-low"]
    else:
        assert got == [b"b-high", b"a-norm", b"a-low", b"b-low"]


def test_worker_loss_requeues_the_job(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f, b"w")
    w1 = kit.worker(f)
    assert kit.grab(w1).args[0] == h
    w2 = kit.worker(f)
    w2.send(Packet.build(T.PRE_SLEEP))
    kit.sync(w2)
    w1.close()
    w2.expect(T.NOOP)
    job = kit.grab(w2)
    assert job.args[0] == h and job.args[3] == b"w"
    w2.send(Packet.build(T.WORK_COMPLETE, h, b"second try"))
    assert c.expect(T.WORK_COMPLETE).args == (h, b"second try")


def test_retries_count_in_show_jobs(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f, ptype=T.SUBMIT_JOB_BG)
    w = kit.worker(f)
    kit.grab(w)
    w.send(Packet.build(T.CANT_DO, f))
    kit.sync(w)
    rows = [r.split(b"\t") for r in kit.conn().admin("show jobs")[:-1]]
    assert [h, b"1", b"0", b"1"] in rows


def test_foreground_job_is_dropped_when_its_client_leaves(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    kit.submit(c, f)
    c.close()
    w = kit.worker(f)
    time.sleep(0.1)
    assert kit.grab(w).type == T.NO_JOB   # gearmand discards it at grab time


def test_running_job_survives_its_client_leaving(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f)
    kit.grab(w)
    c.close()
    time.sleep(0.05)
    w.send(Packet.build(T.WORK_STATUS, h, b"1", b"2"))
    w.send(Packet.build(T.WORK_COMPLETE, h, b"nobody listens"))
    kit.sync(w)   # no ERROR arrived before the echo reply
    assert kit.status(kit.conn(), h)[1] == b"0"


def test_other_coalesced_client_still_gets_result(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c1, c2 = kit.conn(), kit.conn()
    h = kit.submit(c1, f, unique=b"two")
    kit.submit(c2, f, unique=b"two")
    c1.close()
    time.sleep(0.05)
    kit.grab(w)
    w.send(Packet.build(T.WORK_COMPLETE, h, b"r"))
    assert c2.expect(T.WORK_COMPLETE).args == (h, b"r")


def test_background_job_survives_a_foreground_joiner_leaving(kit) -> None:
    """gearmand drops it (reference 5.3 #1); the reference server keeps it."""
    f = kit.fn()
    bg, fg = kit.conn(), kit.conn()
    h = kit.submit(bg, f, unique=b"keep", ptype=T.SUBMIT_JOB_BG)
    kit.submit(fg, f, unique=b"keep")
    fg.close()
    time.sleep(0.1)
    w = kit.worker(f)
    job = kit.grab(w)
    if kit.name == "gearmand":
        assert job.type == T.NO_JOB
    else:
        assert job.args[0] == h


def test_epoch_job_is_held_until_due(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    due = int(time.time()) + 2
    c.send(Packet.build(T.SUBMIT_JOB_EPOCH, f, b"", str(due).encode(), b"later"))
    h = c.expect(T.JOB_CREATED).args[0]
    now_h = kit.submit(c, f, b"now", ptype=T.SUBMIT_JOB_BG)
    w = kit.worker(f)
    assert kit.grab(w).args[0] == now_h        # the waiting epoch job blocks nothing
    assert kit.grab(w).type == T.NO_JOB
    assert kit.function_status(f) == (2, 1, 1)
    w.send(Packet.build(T.PRE_SLEEP))
    if kit.name == "gearmand":                  # 1.1.x never wakes sleepers (#101)
        kit.silent(w, due - time.time() + 0.5)
    else:
        w.expect(T.NOOP, timeout=due - time.time() + 2)
        assert time.time() >= due - 0.01
    job = kit.grab(w)
    assert job.args[0] == h and job.args[3] == b"later"


def test_past_or_non_numeric_epoch_runs_now(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    for epoch in (b"1", b"abc"):
        c.send(Packet.build(T.SUBMIT_JOB_EPOCH, f, b"", epoch, b"e"))
        c.expect(T.JOB_CREATED)
    w = kit.worker(f)
    assert kit.grab(w).type == T.JOB_ASSIGN_UNIQ
    assert kit.grab(w).type == T.JOB_ASSIGN_UNIQ
