"""The queue back ends' database servers, started for real: they answer, they die when
killed (and come back with their data), they stop answering while paused, and nothing
is left behind when they stop."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gearcheck.targets import TargetError
from gearcheck.targets._database import DatabaseServer, exchange
from gearcheck.targets.mariadb import MariaDBServer
from gearcheck.targets.memcached import MemcachedServer
from gearcheck.targets.postgres import PostgresServer
from gearcheck.targets.queue_stores import STORES
from gearcheck.targets.redis import RedisServer


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except OSError:
        return True


def _owner(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def _write(db: DatabaseServer) -> None:
    if isinstance(db, MariaDBServer):
        db.sql("CREATE TABLE gearman.marker (v INT); INSERT INTO gearman.marker VALUES (42)")
    elif isinstance(db, PostgresServer):
        db.sql("CREATE TABLE marker (v INT); INSERT INTO marker VALUES (42)")
    elif isinstance(db, RedisServer):
        assert db.command_reply("SET", "marker", "42").startswith(b"+OK")
    else:
        assert exchange(db.host, db.port, b"set marker 0 0 2\r\n42\r\n").startswith(b"STORED")


def _read(db: DatabaseServer) -> str:
    if isinstance(db, MariaDBServer):
        return db.sql("SELECT v FROM gearman.marker").strip()
    if isinstance(db, PostgresServer):
        return db.sql("SELECT v FROM marker").strip()
    if isinstance(db, RedisServer):
        return "42" if b"42" in db.command_reply("GET", "marker") else ""
    return "42" if b"42" in exchange(db.host, db.port, b"get marker\r\n") else ""


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(STORES))
def test_a_database_server_dies_when_killed_and_keeps_what_it_committed(
        backend: str, tmp_path: Path) -> None:
    db = STORES[backend](log_dir=tmp_path)
    with db:
        assert db.answers() and db.process is not None
        if os.geteuid() == 0 and db.account:  # refuses root: runs as the package's account
            assert _owner(db.process.pid) != 0
        _write(db)
        pid, port = db.process.pid, db.port
        db.kill()
        assert not Path(f"/proc/{pid}").exists(), "the process is gone"
        assert _refused(port) and not db.answers(), "the database really went away"
        db.start()
        assert db.port == port and db.answers()
        # memcached keeps nothing on disk; every other server must keep the committed row
        assert _read(db) == ("" if backend == "memcached" else "42")
        assert db.pause()
        assert not db.answers(), "a stopped (SIGSTOP) server answers nothing"
        assert db.resume() and db.answers()
        root = db.data_root
        assert root is not None and root.exists()
    assert db.process is None and not root.exists(), "stop removes the data directory"


def test_a_graceful_restart_keeps_the_port_and_the_data(tmp_path: Path) -> None:
    db = RedisServer(log_dir=tmp_path)
    with db:
        _write(db)
        port = db.port
        db.restart()
        assert db.port == port and _read(db) == "42"


def test_a_missing_database_server_is_a_clear_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)
    db = MemcachedServer(log_dir=tmp_path)
    try:
        with pytest.raises(TargetError, match="memcached is not installed; run scripts/install"):
            db.start()
    finally:
        db.stop()
    assert db.data_root is None
