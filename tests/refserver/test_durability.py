"""Background jobs survive kill -9 with --queue sqlite:PATH, in priority order."""

from __future__ import annotations

import sqlite3

from gearcheck.protocol import Packet, PacketType
from gearcheck.targets import RefServerTarget
from gearcheck.wire import Connection

T = PacketType


def test_acknowledged_background_jobs_survive_kill_9(tmp_path) -> None:
    queue = tmp_path / "queue.sqlite"
    target = RefServerTarget(log_dir=tmp_path, queue_path=queue)
    with target, Connection.open(target.address) as c, Connection.open(target.address) as w:
        submitted = []
        for ptype, data in [(T.SUBMIT_JOB_LOW_BG, b"low"), (T.SUBMIT_JOB_BG, b"n1"),
                            (T.SUBMIT_JOB_HIGH_BG, b"high"), (T.SUBMIT_JOB_BG, b"n2"),
                            (T.SUBMIT_JOB_BG, b"done-before-crash"),
                            (T.SUBMIT_JOB, b"foreground")]:
            c.send(Packet.build(ptype, b"durable", b"u-" + data, data))
            submitted.append(c.expect(T.JOB_CREATED).args[0])
        c.send(Packet.build(T.SUBMIT_JOB_EPOCH, b"durable", b"", b"4000000000", b"future"))
        epoch_handle = c.expect(T.JOB_CREATED).args[0]
        w.send(Packet.build(T.CAN_DO, b"other"))
        c.send(Packet.build(T.SUBMIT_JOB_BG, b"other", b"", b"finished"))
        finished = c.expect(T.JOB_CREATED).args[0]
        w.send(Packet.build(T.GRAB_JOB))
        assert w.expect(T.JOB_ASSIGN).args[0] == finished
        w.send(Packet.build(T.WORK_COMPLETE, finished, b""))
        w.echo()   # the completion was processed (and its row deleted)
        # the fg job and the bg job run below are not durable work
        w.send(Packet.build(T.CAN_DO, b"durable"))
        w.send(Packet.build(T.GRAB_JOB))
        assert w.expect(T.JOB_ASSIGN).args[2] == b"high"
        w.send(Packet.build(T.WORK_COMPLETE, submitted[2], b""))
        w.echo()
        target.kill()   # kill -9: no clean shutdown, no final commit
    rows = sqlite3.connect(queue).execute("SELECT count(*) FROM gearcheck_queue").fetchone()
    assert rows == (5,)   # low, n1, n2, done-before-crash, future

    restarted = RefServerTarget(log_dir=tmp_path, queue_path=queue)
    with restarted, Connection.open(restarted.address) as w:
        w.send(Packet.build(T.CAN_DO, b"durable"))
        order = []
        for _ in range(4):
            w.send(Packet.build(T.GRAB_JOB_UNIQ))
            job = w.expect(T.JOB_ASSIGN_UNIQ)
            order.append((job.args[0], job.args[3]))
            w.send(Packet.build(T.WORK_COMPLETE, job.args[0], b""))
        assert [d for _, d in order] == [b"n1", b"n2", b"done-before-crash", b"low"]
        assert order[0][0] == submitted[1]   # same handles after the restart
        w.send(Packet.build(T.GRAB_JOB))
        assert w.expect(T.NO_JOB)           # the epoch job is still held, fg job gone
        w.send(Packet.build(T.GET_STATUS, epoch_handle))
        assert w.expect(T.STATUS_RES).args[1] == b"1"
        w.echo()
    rows = sqlite3.connect(queue).execute(
        "SELECT data FROM gearcheck_queue").fetchall()
    assert rows == [(b"future",)]


def test_unwritable_queue_path_is_a_clear_start_error(tmp_path) -> None:
    import subprocess
    import sys

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = subprocess.run([sys.executable, "-m", "gearcheck.refserver", "--port", "0",
                          "--queue", f"sqlite:{blocker}/q.sqlite"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "cannot open queue file" in out.stderr
    bad = subprocess.run([sys.executable, "-m", "gearcheck.refserver", "--queue", "redis:x"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "expected sqlite:PATH" in bad.stderr
