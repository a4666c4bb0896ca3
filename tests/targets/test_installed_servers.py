"""The servers scripts/install-implementations.sh builds from crates.io, the Go module proxy
and npm: each starts on a free loopback port, runs a real job, stops, and leaves no process."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from gearcheck.protocol import Packet, PacketType
from gearcheck.targets import ProcessTarget, TargetError, load_registry
from gearcheck.targets.crash_watch import CrashWatch
from gearcheck.targets.g2 import G2Target
from gearcheck.targets.registry import select
from gearcheck.targets.rustygeard import RustygeardTarget
from gearcheck.wire import Connection

T = PacketType
INSTALLED = ["rustygeard-0.15.0", "g2", "abraxas-2.1.10"]




@pytest.mark.parametrize("name", INSTALLED)
def test_installed_server_starts_runs_a_job_and_stops(name: str, tmp_path: Path) -> None:
    target = select(load_registry(), [name])[0].create(log_dir=tmp_path)
    assert isinstance(target, ProcessTarget)
    started = time.monotonic()
    with target:
        assert time.monotonic() - started < 10, "a registry server must start quickly"
        pid = target.pid
        assert pid is not None and target.address.host == "127.0.0.1"
        with Connection.open(target.address, timeout=5) as client, \
                Connection.open(target.address, timeout=5) as worker:
            assert client.echo(b"ping", timeout=5) >= 0
            fn = f"gc.installed.{name}".encode()
            worker.send(Packet.build(T.CAN_DO, fn))
            client.send(Packet.build(T.SUBMIT_JOB, fn, b"u-" + name.encode(), b"payload"))
            handle = client.expect(T.JOB_CREATED, timeout=5).args[0]
            # GRAB_JOB_UNIQ: the one grab all three answer (g2 ignores a plain GRAB_JOB)
            worker.send(Packet.build(T.GRAB_JOB_UNIQ))
            assign = worker.recv_packet(timeout=5)
            while assign.type == T.NOOP:  # g2 wakes a worker that never slept: harmless
                assign = worker.recv_packet(timeout=5)
            assert assign.type == T.JOB_ASSIGN_UNIQ, assign
            assert assign.args == (handle, fn, b"u-" + name.encode(), b"payload")
            worker.send(Packet.build(T.WORK_COMPLETE, handle, b"done"))
            done = client.expect(T.WORK_COMPLETE, timeout=5)
            assert done.args == (handle, b"done")
    assert target.process is None
    assert not psutil.pid_exists(pid)


def test_a_missing_build_names_the_install_script(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEARCHECK_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(TargetError, match=r"rustygeard-0\.15\.0 is not installed.*"
                                          r"scripts/install-implementations\.sh"):
        RustygeardTarget(log_dir=tmp_path).command(4730)


def test_g2_keeps_its_http_api_and_storage_on_loopback_and_in_its_log_folder(
        tmp_path: Path) -> None:
    argv = G2Target(log_dir=tmp_path).command(4999)
    web = argv[argv.index("--web.addr") + 1]
    assert argv[argv.index("--addr") + 1] == "127.0.0.1:4999"
    assert web.startswith("127.0.0.1:") and web != "127.0.0.1:4999"
    assert Path(argv[argv.index("--storage-dir") + 1]).parent == tmp_path


def test_a_crashed_server_is_restarted_on_its_port_and_the_crash_is_noted(
        tmp_path: Path) -> None:
    # g2 0.0.0-2019 dereferences a nil worker on CANT_DO from a connection that never sent
    # CAN_DO and the whole process dies (docs/findings.md): a real crash to watch.
    target = G2Target(log_dir=tmp_path)
    with target, CrashWatch(target) as watch:
        port, first_pid = target.address.port, target.pid
        with Connection.open(target.address, timeout=5) as conn:
            conn.send(Packet.build(T.CANT_DO, b"never-registered"))
        deadline = time.monotonic() + 15
        while not watch.crashes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.crashes and watch.crashes[0].restarted
        assert watch.crashes[0].exit_code not in (None, 0)
        assert target.address.port == port and target.pid != first_pid
        with Connection.open(target.address, timeout=5) as conn:
            assert conn.echo(b"back", timeout=5) >= 0
    assert target.process is None
