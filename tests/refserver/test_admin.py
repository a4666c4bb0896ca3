"""Every admin text command, on both servers where gearmand agrees."""

from __future__ import annotations

import os

import pytest

from gearcheck.protocol import Packet, PacketType, parse_priority_status, parse_status

T = PacketType


def test_status_and_prioritystatus(kit) -> None:
    f = kit.fn()
    w = kit.worker(f)
    c = kit.conn()
    kit.submit(c, f, ptype=T.SUBMIT_JOB_HIGH_BG)
    kit.submit(c, f, ptype=T.SUBMIT_JOB_BG)
    kit.submit(c, f, ptype=T.SUBMIT_JOB_LOW_BG)
    kit.submit(c, f, ptype=T.SUBMIT_JOB_LOW_BG)
    kit.grab(w)   # takes the HIGH one
    status = parse_status(c.admin("status"))[f.decode()]
    assert (status.total, status.running, status.workers) == (4, 1, 1)
    prio = parse_priority_status(c.admin("prioritystatus"))[f.decode()]
    assert (prio.high, prio.normal, prio.low, prio.workers) == (0, 1, 2, 1)
    assert c.admin("StAtUs extra tokens")[-1] == b"."


def test_workers_lists_every_connection(kit) -> None:
    f, g = kit.fn(), kit.fn()
    kit.worker(f, g, client_id=b"wid")
    rows = kit.conn().admin("workers")
    assert rows[-1] == b"."
    assert any(r.endswith(b" wid : " + g + b" " + f) for r in rows), rows   # newest first
    assert any(r.endswith(b" - :") for r in rows)   # the admin connection itself


def test_version_getpid_verbose(kit) -> None:
    c = kit.conn()
    version = c.admin("version")
    assert len(version) == 1 and version[0].startswith(b"OK ")
    if kit.name == "refserver":
        from gearcheck.refserver import __version__
        assert version == [b"OK " + __version__.encode()]
    pid = c.admin("getpid")[0]
    assert pid == b"OK %d" % kit.target.pid
    level = c.admin("verbose")[0]
    assert level.split()[1] in {b"FATAL", b"ALERT", b"CRITICAL", b"ERROR", b"WARNING",
                                b"NOTICE", b"INFO", b"DEBUG"}


def test_show_jobs_and_show_unique_jobs(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f, unique=b"U-" + f, ptype=T.SUBMIT_JOB_BG)
    rows = [r.split(b"\t") for r in c.admin("show jobs")[:-1]]
    assert [h, b"0", b"0", b"1"] in rows
    assert b"U-" + f in c.admin("show unique jobs")
    c.send_line("show nonsense")
    assert c.recv().text == b"ERR UNKNOWN_SHOW_ARGUMENTS"


def test_maxqueue(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    c.admin(f"create function {f.decode()}\r\n")   # gearmand needs the \r (5.3 #3)
    assert c.admin(f"maxqueue {f.decode()} 2") == [b"OK"]
    kit.submit(c, f, b"1", ptype=T.SUBMIT_JOB_BG)
    kit.submit(c, f, b"2", ptype=T.SUBMIT_JOB_BG)
    c.send(Packet.build(T.SUBMIT_JOB_BG, f, b"", b"3"))
    assert c.expect(T.ERROR).args == (b"QUEUE_ERROR", b"Job queue is full")
    assert c.admin(f"maxqueue {f.decode()} 5 2 5") == [b"OK"]
    kit.submit(c, f, b"h", ptype=T.SUBMIT_JOB_HIGH_BG)     # HIGH limit 5: accepted
    c.send(Packet.build(T.SUBMIT_JOB_BG, f, b"", b"n"))     # NORMAL limit 2: refused
    assert c.expect(T.ERROR).args[0] == b"QUEUE_ERROR"
    assert c.admin(f"maxqueue {f.decode()}") == [b"OK"]    # back to unlimited
    kit.submit(c, f, b"n", ptype=T.SUBMIT_JOB_BG)
    c.send_line("maxqueue")
    assert c.recv().text == (b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent"
                             b"+to+this+command+maxqueue")


def test_cancel_job(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f)
    admin = kit.conn()
    assert admin.admin(f"cancel job {h.decode()}") == [b"OK"]
    assert c.expect(T.WORK_FAIL).args == (h,)
    assert admin.admin("cancel job H:nowhere:1") == [b"ERR UNKNOWN_JOB"]
    admin.send_line("cancel thing x")
    assert admin.recv().text == b"ERR UNKNOWN_ERROR"


def test_cancelled_job_does_not_swallow_its_unique(kit) -> None:
    """gearmand lets a new submission rejoin the cancelled job (reference 5.3 #2)."""
    f = kit.fn()
    c = kit.conn()
    h = kit.submit(c, f, unique=b"cx", ptype=T.SUBMIT_JOB_BG)
    assert kit.conn().admin(f"cancel job {h.decode()}") == [b"OK"]
    again = kit.submit(c, f, unique=b"cx", ptype=T.SUBMIT_JOB_BG)
    if kit.name == "gearmand":
        assert again == h
    else:
        assert again != h
        w = kit.worker(f)
        assert kit.grab(w).args[0] == again


def test_create_and_drop_function(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    assert c.admin(f"create function {f.decode()}") == [b"OK"]
    names = parse_status(c.admin("status"))
    if kit.name == "gearmand":       # drops the last character on a bare \n (5.3 #3)
        assert f.decode()[:-1] in names
        f = f[:-1]
    else:
        assert names[f.decode()].total == 0
    assert c.admin(f"drop function {f.decode()}") == [b"OK"]
    assert f.decode() not in parse_status(c.admin("status"))
    assert c.admin(f"drop function {f.decode()}") == [b"ERR function not found"]
    w = kit.worker(f)
    assert c.admin(f"drop function {f.decode()}") == [
        b"ERR there are still connected workers or executing clients"]
    w.close()
    for bad in ("create", "create function", "drop", "drop function"):
        c.send_line(bad)
        assert c.recv().text.startswith(b"ERR INVALID_ARGUMENTS")


def test_one_trailing_space_names_the_empty_function(kit) -> None:
    """gearmand splits `drop function ` into three words, the last empty: the function ""
    (what the clean-up after GM-SUBMIT-017 relies on); `cancel job ` looks up handle ""."""
    c = kit.conn()
    for command, reply in (("create function ", b"OK"), ("drop function ", b"OK"),
                           ("cancel job ", b"ERR UNKNOWN_JOB")):
        c.send_line(command + "\r")  # gearmand closes on `create function \n` (5.3 #3)
        assert c.recv().text == reply, command
        listed = "" in parse_status(c.admin("status"))
        assert listed is command.startswith("create"), command


def test_drop_function_with_queued_jobs(kit) -> None:
    f = kit.fn()
    c = kit.conn()
    kit.submit(c, f, ptype=T.SUBMIT_JOB_BG)
    reply = c.admin(f"drop function {f.decode()}")
    if kit.name == "gearmand":   # orphans the job (reference 5.3 #4)
        assert reply == [b"OK"]
    else:
        assert reply == [b"ERR there are still queued jobs"]
        assert parse_status(c.admin("status"))[f.decode()].total == 1


def test_unknown_commands(kit) -> None:
    c = kit.conn()
    c.send_line("bogus")
    assert c.recv().text == b"ERR UNKNOWN_COMMAND Unknown+server+commandbogus"
    c.send_line("")
    assert c.recv().text == b"ERR UNKNOWN_COMMAND Unknown+server+command"
    c.send_line("show")
    assert c.recv().text == b"ERR UNKNOWN_COMMAND Unknown+server+commandshow"
    c.send_raw(b"status\r\nversion\n")   # pipelined, answered in order
    lines = []
    while not lines or not lines[-1].startswith(b"OK"):
        lines.append(c.recv().text)
    assert lines[-2] == b"." and lines[-1].startswith(b"OK ")
    kit.sync(c)


def test_shutdown(kit, tmp_path) -> None:
    c = kit.conn()
    if kit.name == "gearmand":   # removed in 1.1.15
        c.send_line("shutdown")
        assert c.recv().text.startswith(b"ERR UNKNOWN_COMMAND")
        return
    from gearcheck.targets import RefServerTarget
    from gearcheck.wire import Connection

    locked = RefServerTarget(log_dir=tmp_path, extra_args=["--no-admin-shutdown"])
    with locked, Connection.open(locked.address) as admin:
        admin.send_line("shutdown")
        assert admin.recv().text == b"ERR UNKNOWN_COMMAND Unknown+server+commandshutdown"
    for command in ("shutdown", "shutdown graceful"):
        target = RefServerTarget(log_dir=tmp_path)
        with target:
            proc = target.process
            assert proc is not None
            with Connection.open(target.address) as admin:
                admin.send_line(command)
                assert admin.recv().text == b"OK"
            assert proc.wait(10) == 0


@pytest.mark.parametrize("command", ["status", "workers", "version", "getpid", "verbose"])
def test_admin_does_not_disturb_binary_traffic(kit, command) -> None:
    c = kit.conn()
    c.admin(command)
    kit.sync(c)
    assert os.getpid() > 0
