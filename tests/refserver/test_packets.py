"""Every packet type, over real sockets, against the reference server and gearmand."""

from __future__ import annotations

import pytest

from gearcheck.protocol import Packet, PacketType

T = PacketType


def test_echo_keeps_bytes_and_nuls(kit) -> None:
    c = kit.conn()
    for payload in (b"", b"hello\0world", bytes(range(256)) * 64):
        c.send(Packet.build(T.ECHO_REQ, payload))
        assert c.expect(T.ECHO_RES).args[0] == payload


def test_pipelined_echoes_answer_in_order(kit) -> None:
    c = kit.conn()
    c.send_many(Packet.build(T.ECHO_REQ, b"%d" % i) for i in range(200))
    assert [c.expect(T.ECHO_RES).args[0] for _ in range(200)] == [b"%d" % i for i in range(200)]


@pytest.mark.parametrize("ptype", [T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH,
                                   T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG])
def test_each_submit_type_creates_a_queued_job(kit, ptype) -> None:
    c = kit.conn()
    f = kit.fn()
    h1 = kit.submit(c, f, b"a", ptype=ptype)
    h2 = kit.submit(c, f, b"b", ptype=ptype)
    assert h1 != h2 and 0 < len(h1) < 64
    assert kit.status(c, h1) == (h1, b"1", b"0", b"0", b"0")


def test_foreground_job_round_trip_forwards_every_work_packet(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f, b"payload\0with nul")
    job = kit.grab(w, T.GRAB_JOB)
    assert job.type == T.JOB_ASSIGN and job.args == (h, f, b"payload\0with nul")
    w.send(Packet.build(T.WORK_DATA, h, b"d\01"))
    w.send(Packet.build(T.WORK_WARNING, h, b"careful"))
    w.send(Packet.build(T.WORK_STATUS, h, b"3", b"4"))
    kit.sync(w)
    assert c.expect(T.WORK_DATA).args == (h, b"d\01")
    assert c.expect(T.WORK_WARNING).args == (h, b"careful")
    assert c.expect(T.WORK_STATUS).args == (h, b"3", b"4")
    assert kit.status(c, h) == (h, b"1", b"1", b"3", b"4")
    w.send(Packet.build(T.WORK_COMPLETE, h, b"done"))
    assert c.expect(T.WORK_COMPLETE).args == (h, b"done")
    assert kit.status(c, h) == (h, b"0", b"0", b"0", b"0")
    w.send(Packet.build(T.WORK_COMPLETE, h, b"again"))
    err = w.expect(T.ERROR)
    assert err.args == (b"JOB_NOT_FOUND", b"Job given in work result not found")


def test_work_fail_is_forwarded_and_ends_the_job(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f)
    kit.grab(w)
    w.send(Packet.build(T.WORK_FAIL, h))
    assert c.expect(T.WORK_FAIL).args == (h,)
    assert kit.status(c, h)[1] == b"0"


@pytest.mark.parametrize("ptype,text", [
    (T.WORK_STATUS, b"Job given in work result not found"),
    (T.WORK_COMPLETE, b"Job given in work result not found"),
    (T.WORK_FAIL, b"Job given in work result not found"),
    (T.WORK_DATA, b"Job does not exist on server"),
    (T.WORK_WARNING, b"Job does not exist on server"),
    (T.WORK_EXCEPTION, b"An exception was received for a job that does not exist"),
])
def test_work_packets_for_unknown_handles_get_job_not_found(kit, ptype, text) -> None:
    w = kit.conn()
    args = {T.WORK_STATUS: (b"H:x:999999", b"1", b"2"), T.WORK_FAIL: (b"H:x:999999",)}
    w.send(Packet.build(ptype, *args.get(ptype, (b"H:x:999999", b"data"))))
    assert w.expect(T.ERROR).args == (b"JOB_NOT_FOUND", text)
    kit.sync(w)


def test_work_from_a_connection_not_holding_the_job_is_refused(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f)
    kit.grab(w)
    other = kit.conn()
    other.send(Packet.build(T.WORK_COMPLETE, h, b"stolen"))
    assert other.expect(T.ERROR).args[0] == b"JOB_NOT_FOUND"
    assert kit.status(c, h)[:3] == (h, b"1", b"1")


def test_work_fail_with_oversized_handle(kit) -> None:
    w = kit.conn()
    w.send(Packet.build(T.WORK_FAIL, b"H" * 64))
    assert w.expect(T.ERROR).args[0] == b"ARGUMENT_TOO_LARGE"


def test_background_submitter_hears_nothing_but_status_is_visible(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    h = kit.submit(c, f, ptype=T.SUBMIT_JOB_BG)
    kit.grab(w)
    w.send(Packet.build(T.WORK_STATUS, h, b"7x", b"9"))
    kit.sync(w)
    assert kit.status(kit.conn(), h) == (h, b"1", b"1", b"7", b"9")
    w.send(Packet.build(T.WORK_COMPLETE, h, b"r"))
    kit.sync(w)
    kit.silent(c)
    assert kit.status(c, h)[1] == b"0"


def test_get_status_unknown_handle(kit) -> None:
    c = kit.conn()
    assert kit.status(c, b"H:nowhere:1") == (b"H:nowhere:1", b"0", b"0", b"0", b"0")


def test_get_status_unique(kit) -> None:
    f = kit.fn()
    c1, c2 = kit.conn(), kit.conn()
    u = kit.fn(b"u".decode())
    h = kit.submit(c1, f, unique=u)
    assert kit.submit(c2, f, unique=u) == h
    c1.send(Packet.build(T.GET_STATUS_UNIQUE, u))
    assert c1.expect(T.STATUS_RES_UNIQUE).args == (u, b"1", b"0", b"0", b"0", b"2")
    c1.send(Packet.build(T.GET_STATUS_UNIQUE, b"never-seen"))
    assert c1.expect(T.STATUS_RES_UNIQUE).args == (b"never-seen", b"0", b"0", b"0", b"0", b"0")


def test_options(kit) -> None:
    c = kit.conn()
    c.send(Packet.build(T.OPTION_REQ, b"EXCEPTIONS"))
    assert c.expect(T.OPTION_RES).args == (b"EXCEPTIONS",)
    for bad in (b"bogus", b"", b"x" * 70):
        c.send(Packet.build(T.OPTION_REQ, bad))
        assert c.expect(T.ERROR).args == (b"UNKNOWN_OPTION",
                                          b"Server does not recognize given option")
    kit.sync(c)


@pytest.mark.parametrize("opted_in", [True, False])
def test_work_exception_with_and_without_the_option(kit, opted_in) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    if opted_in:
        c.send(Packet.build(T.OPTION_REQ, b"exceptions"))
        c.expect(T.OPTION_RES)
    h = kit.submit(c, f)
    kit.grab(w)
    w.send(Packet.build(T.WORK_EXCEPTION, h, b"boom"))
    reply = c.recv_packet()
    if opted_in:
        assert reply.type == T.WORK_EXCEPTION and reply.args == (h, b"boom")
    else:
        assert reply.type == T.WORK_FAIL
        # gearmand appends a NUL (reference 5.3 #5); the reference server does not
        expected = h + b"\0" if kit.name == "gearmand" else h
        assert reply.args == (expected,)
    w.send(Packet.build(T.WORK_COMPLETE, h, b"late"))
    assert w.expect(T.ERROR).args[0] == b"JOB_NOT_FOUND"


def test_exceptions_server_option(tmp_path) -> None:
    from gearcheck.targets import RefServerTarget
    from gearcheck.wire import Connection

    with (RefServerTarget(extra_args=["--exceptions"], log_dir=tmp_path) as target,
          Connection.open(target.address) as w, Connection.open(target.address) as c):
        w.send(Packet.build(T.CAN_DO, b"f"))
        c.send(Packet.build(T.SUBMIT_JOB, b"f", b"", b"x"))
        h = c.expect(T.JOB_CREATED).args[0]
        w.send(Packet.build(T.GRAB_JOB))
        w.expect(T.JOB_ASSIGN)
        w.send(Packet.build(T.WORK_EXCEPTION, h, b"e"))
        assert c.expect(T.WORK_EXCEPTION).args == (h, b"e")


def test_grab_variants(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    assert kit.grab(kit.conn(), T.GRAB_JOB).type == T.NO_JOB   # no abilities
    h1 = kit.submit(c, f, b"d1", unique=b"u1-" + f)
    h2 = kit.submit(c, f, b"d2")
    a1 = kit.grab(w, T.GRAB_JOB_UNIQ)
    assert a1.type == T.JOB_ASSIGN_UNIQ and a1.args == (h1, f, b"u1-" + f, b"d1")
    a2 = kit.grab(w, T.GRAB_JOB_ALL)   # no reducer: gearmand answers JOB_ASSIGN_UNIQ
    assert a2.type == T.JOB_ASSIGN_UNIQ and a2.args == (h2, f, b"", b"d2")
    assert kit.grab(w, T.GRAB_JOB).type == T.NO_JOB
    assert kit.grab(w, T.GRAB_JOB_UNIQ).type == T.NO_JOB
    assert kit.grab(w, T.GRAB_JOB_ALL).type == T.NO_JOB


def test_reduce_jobs_use_the_five_field_layout(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    c.send(Packet.build(T.SUBMIT_REDUCE_JOB, f, b"", b"red", b"", b"data"))
    h = c.expect(T.JOB_CREATED).args[0]
    c.send(Packet.build(T.SUBMIT_REDUCE_JOB_BACKGROUND, f, b"", b"red2", b"", b"bg"))
    hb = c.expect(T.JOB_CREATED).args[0]
    a = kit.grab(w, T.GRAB_JOB_ALL)
    assert a.type == T.JOB_ASSIGN_ALL and a.args == (h, f, b"", b"red", b"data")
    b = kit.grab(w, T.GRAB_JOB)
    assert b.type == T.JOB_ASSIGN and b.args == (hb, f, b"bg")
    w.send(Packet.build(T.WORK_COMPLETE, h, b"r"))
    assert c.expect(T.WORK_COMPLETE).args == (h, b"r")
    c.send(Packet.build(T.SUBMIT_REDUCE_JOB, f, b"", b"r" * 65, b"", b"d"))
    assert c.expect(T.ERROR).args == (b"ARGUMENT_TOO_LARGE", b"Unique value too large")


@pytest.mark.parametrize("ptype", [T.SUBMIT_JOB_SCHED, T.ALL_YOURS, T.UNUSED, T.NOOP,
                                   T.JOB_CREATED, T.STATUS_RES, T.STATUS_RES_UNIQUE])
def test_types_gearmand_does_not_expect_get_invalid_command(kit, ptype) -> None:
    c = kit.conn()
    spec_args = {T.SUBMIT_JOB_SCHED: (b"f", b"", b"1", b"2", b"3", b"4", b"5", b"d"),
                 T.JOB_CREATED: (b"H:x:1",),
                 T.STATUS_RES: (b"h", b"0", b"0", b"0", b"0"),
                 T.STATUS_RES_UNIQUE: (b"u", b"0", b"0", b"0", b"0", b"0")}
    c.send(Packet(Packet.build(T.ECHO_REQ, b"").magic, ptype, spec_args.get(ptype, ())))
    assert c.expect(T.ERROR).args == (b"INVALID_COMMAND", b"Command not expected")
    kit.sync(c)


def test_unique_too_large(kit) -> None:
    c = kit.conn()
    f = kit.fn()
    c.send(Packet.build(T.SUBMIT_JOB, f, b"u" * 65, b"d"))
    assert c.expect(T.ERROR).args == (b"ARGUMENT_TOO_LARGE", b"Unique value too large")
    assert kit.submit(c, f, unique=b"u" * 63)


def test_set_client_id_shows_in_workers(kit) -> None:
    f = kit.fn()
    kit.worker(f, client_id=b"my worker id")
    rows = kit.conn().admin("workers")
    assert any(r.endswith(b" my worker id : " + f) for r in rows), rows


def test_can_do_cant_do_reset_abilities(kit) -> None:
    f, g = kit.fn(), kit.fn()
    w = kit.worker(f, g)
    c = kit.conn()
    w.send(Packet.build(T.CANT_DO, f))
    w.send(Packet.build(T.CANT_DO, b"never-registered"))
    kit.sync(w)
    kit.submit(c, f)
    assert kit.grab(w).type == T.NO_JOB
    hg = kit.submit(c, g)
    assert kit.grab(w).args[0] == hg
    w.send(Packet.build(T.RESET_ABILITIES))
    kit.sync(w)   # the held g job is requeued
    assert kit.status(c, hg)[:3] == (hg, b"1", b"0")
    assert kit.grab(w).type == T.NO_JOB
    assert kit.function_status(g) == (1, 0, 0)


def test_pre_sleep_and_noop(kit) -> None:
    f, other = kit.fn(), kit.fn()
    w1, w2 = kit.worker(f), kit.worker(f)
    w3 = kit.worker(other)
    for w in (w1, w2, w3):
        w.send(Packet.build(T.PRE_SLEEP))
    kit.sync(w3)
    kit.silent(w1, 0.1)
    c = kit.conn()
    kit.submit(c, f)
    assert w1.expect(T.NOOP) and w2.expect(T.NOOP)
    kit.submit(c, f)             # no second NOOP in the same sleep period
    kit.silent(w1, 0.2)
    kit.silent(w3, 0.1)          # another function's sleeper is left alone
    w1.send(Packet.build(T.PRE_SLEEP))   # runnable jobs exist: NOOP at once
    w1.expect(T.NOOP)


def test_one_connection_can_be_client_and_worker(kit) -> None:
    f = kit.fn()
    c = kit.worker(f)
    h = kit.submit(c, f, b"self")
    assert kit.grab(c).args[0] == h
    c.send(Packet.build(T.WORK_COMPLETE, h, b"ok"))
    assert c.expect(T.WORK_COMPLETE).args == (h, b"ok")


def test_can_do_timeout_requeues_the_job(kit) -> None:
    f = kit.fn()
    w = kit.conn()
    w.send(Packet.build(T.CAN_DO_TIMEOUT, f, b"1000"))
    kit.sync(w)
    c = kit.conn()
    h = kit.submit(c, f)
    assert kit.grab(w).args[0] == h
    w2 = kit.worker(f)
    w2.send(Packet.build(T.PRE_SLEEP))
    w2.expect(T.NOOP, timeout=4.0)   # the timeout requeued it and woke the sleeper
    assert kit.grab(w2).args[0] == h
    w.send(Packet.build(T.WORK_COMPLETE, h, b"late"))
    assert w.expect(T.ERROR).args[0] == b"JOB_NOT_FOUND"
    kit.silent(c, 0.1)
