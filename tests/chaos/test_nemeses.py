"""Each nemesis acts for real: the job server's process dies (or stops, or pauses), the
database really goes away, a worker process is killed, a client's connection is reset.

Every test plays a short plan with faults at fixed times against a server gearcheck
starts, then looks at the processes and at the history the run wrote.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from gearcheck.chaos.checker import check
from gearcheck.chaos.history import Event, load
from gearcheck.chaos.nemesis import NEMESES, applicable
from gearcheck.chaos.plan import FaultSpec, WorkloadShape, generate
from gearcheck.chaos.runner import run_cell
from gearcheck.targets import ExternalTarget, RefServerTarget, open_target
from gearcheck.wire import Connection, ReceiveTimeout


def _plan(seconds: float, faults: list[FaultSpec]):  # type: ignore[no-untyped-def]
    plan = generate(11, seconds, [], shape=WorkloadShape(rate=25.0, big_share=0.0))
    return replace(plan, faults=tuple(faults))


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


def _of(events: list[Event], type_: str, **match: object) -> list[Event]:
    return [e for e in events if e["type"] == type_
            and all(e.get(k) == v for k, v in match.items())]


@pytest.mark.slow
def test_server_and_actor_nemeses_act_on_the_reference_server(tmp_path: Path) -> None:
    faults = [FaultSpec(0.5, "kill", 0.4), FaultSpec(1.6, "stop", 0.4),
              FaultSpec(2.7, "pause", 0.6), FaultSpec(3.6, "worker-kill", 0.2, pick=1),
              FaultSpec(4.2, "client-gone", 0.2, pick=2)]
    run = run_cell(_plan(5.0, faults), target="refserver-sqlite", backend=None,
                   nemeses=[f.nemesis for f in faults], run_dir=tmp_path)
    events = load(run.history_path)
    servers = _of(events, "server")
    downs = [e for e in servers if e["state"] == "down"]
    assert [e["how"] for e in downs] == ["kill", "stop"]
    pids = [e["pid"] for e in servers if e["state"] == "up"]
    assert len(pids) == 3 and len(set(pids)) == 3, "each restart is a new process"
    assert all(_gone(pid) for pid in pids), "every server process is gone after the run"
    starts = {e["name"]: e["detail"] for e in _of(events, "nemesis", phase="start")}
    assert set(starts) == {"kill", "stop", "pause", "worker-kill", "client-gone"}
    assert "SIGSTOP" in starts["pause"] and "kill -9 of worker" in starts["worker-kill"]
    killed_worker = int(starts["worker-kill"].rsplit("pid ", 1)[1].rstrip(")"))
    assert _gone(killed_worker)
    assert _of(events, "worker", worker="w4", state="started"), "a new worker took its place"
    assert _of(events, "connected", client=2, conn=2), "the gone client connected again"
    assert run.faults_acted == 5 and not run.harness_problems
    judgement = check(events)
    assert judgement.counts["lost"] == 0 and judgement.counts["duplicated"] == 0


def test_pause_stops_the_process_until_resume(tmp_path: Path) -> None:
    target = RefServerTarget(log_dir=tmp_path)
    with target, Connection.open(target.address, timeout=5) as conn:
        assert target.pid is not None and target.pause()
        stat = Path(f"/proc/{target.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().split(") ")[1][0] != "T" and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal is delivered asynchronously
        assert stat.read_text().split(") ")[1][0] == "T"
        conn.send_line("version")
        with pytest.raises(ReceiveTimeout):
            conn.recv(0.3)
        assert target.resume()
        assert conn.recv(5.0) is not None


@pytest.mark.slow
def test_database_nemeses_take_the_queue_database_away(tmp_path: Path) -> None:
    faults = [FaultSpec(0.5, "db-kill", 0.5), FaultSpec(1.7, "db-restart", 0.5),
              FaultSpec(2.9, "db-pause", 0.5)]
    run = run_cell(_plan(3.8, faults), target="gearmand-redis", backend=None,
                   nemeses=[f.nemesis for f in faults], run_dir=tmp_path)
    events = load(run.history_path)
    starts = {e["name"]: e["detail"] for e in _of(events, "nemesis", phase="start")}
    assert starts["db-kill"].startswith("kill -9 of redis")
    assert starts["db-restart"].startswith("graceful stop of redis")
    for name in ("db-kill", "db-restart"):
        assert starts[name].endswith("answering afterwards: False"), starts[name]
    assert starts["db-pause"].startswith("SIGSTOP of redis")
    ends = {e["name"]: e["detail"] for e in _of(events, "nemesis", phase="end")}
    assert "started again" in ends["db-kill"] and "started again" in ends["db-restart"]
    assert run.faults_acted == 3 and run.server_info["queue"] == "redis"


def test_faults_a_target_cannot_take_are_skipped_and_said_so() -> None:
    external = ExternalTarget("127.0.0.1:1")
    for name in ("kill", "stop", "pause"):
        assert "someone else's server" in applicable(name, external, None)
    assert "not ours" in applicable("db-kill", external, None)
    assert applicable("worker-kill", external, None) == ""
    sqlite = open_target("gearmand-sqlite")
    assert "sqlite queue has no database server" in applicable("db-pause", sqlite, None)
    assert set(NEMESES) >= {"kill", "stop", "pause", "db-kill", "db-restart", "db-pause",
                            "worker-kill", "client-gone"}


def test_external_server_run_skips_process_faults(tmp_path: Path) -> None:
    target = RefServerTarget(log_dir=tmp_path / "ext")
    with target:
        faults = [FaultSpec(0.3, "kill", 0.2), FaultSpec(0.8, "worker-kill", 0.2)]
        started = time.monotonic()
        run = run_cell(_plan(3.0, faults), target=str(target.address), backend=None,
                       nemeses=["kill", "worker-kill"], run_dir=tmp_path / "run")
        assert target.alive(), "someone else's server is never killed"
    assert any("kill: skipped" in s for s in run.skipped)
    assert run.faults_acted == 1 and time.monotonic() - started < 60
