# ruff: noqa: E501  (scenario YAML inside strings reads best on one line per step)
"""Extra servers in a case (``servers:``, bound actors, ``restart``): loader errors, the
UNSUPPORTED verdicts against an external server, and managed runs against the real gearmand
and the reference server (configurations mapped to flags, restarts, kill -9 durability)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gearcheck.engine.loader import load_file
from gearcheck.engine.probe import KNOWN_CAPABILITIES
from gearcheck.engine.servers import ExternalServers, ManagedServers
from gearcheck.results import FailureKind, Verdict
from gearcheck.targets import (
    ConfigUnsupported,
    GearmandTarget,
    PerlServerTarget,
    RefServerTarget,
    ServerConfig,
    parse_config,
)

from .conftest import summary

ROOT = Path(__file__).resolve().parents[2]
HEAD = "id: GM-MULTI-900\ntitle: bad case\nlevel: MUST\nsource: test\n"

TWO_SERVERS = """servers: {b: default}
actors: [client, {name: client_b, server: b}]
steps:
  - send: {on: client, packet: SUBMIT_JOB_BG, args: {function: "${fn}", unique: "${uniq}", data: "x"}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - send: {on: client_b, packet: ECHO_REQ, args: {data: "b"}}
  - expect: {on: client_b, packet: ECHO_RES, args: {data: "b"}}
  - connect: worker
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: worker, packet: GRAB_JOB}
  - expect: {on: worker, packet: JOB_ASSIGN, args: {handle: "${h}"}}
  - send: {on: worker, packet: WORK_COMPLETE, args: {handle: "${h}", data: ""}}
"""

KILLED = """servers: {{s: {config}}}
actors: [{{name: client, server: s}}]
steps:
  - send: {{on: client, packet: SUBMIT_JOB_BG, args: {{function: "${{fn}}", unique: "${{uniq}}", data: "keep me"}}}}
  - expect: {{on: client, packet: JOB_CREATED, args: {{handle: {{capture: h}}}}}}
  - restart: {{server: s, how: kill}}
  - connect: {{name: worker, server: s}}
  - send: {{on: worker, packet: CAN_DO, args: {{function: "${{fn}}"}}}}
  - send: {{on: worker, packet: GRAB_JOB}}
  - expect: {{on: worker, packet: JOB_ASSIGN, args: {{handle: {{capture: h2}}, data: "keep me"}}, timeout: 0.5}}
  - send: {{on: worker, packet: WORK_COMPLETE, args: {{handle: "${{h2}}", data: ""}}}}
"""

EXCEPTION = """servers: {{x: {config}}}
actors: [{{name: client, server: x}}, {{name: worker, server: x}}]
steps:
  - send: {{on: worker, packet: CAN_DO, args: {{function: "${{fn}}"}}}}
  - send: {{on: client, packet: SUBMIT_JOB, args: {{function: "${{fn}}", unique: "", data: ""}}}}
  - expect: {{on: client, packet: JOB_CREATED, args: {{handle: {{capture: h}}}}}}
  - send: {{on: worker, packet: GRAB_JOB}}
  - expect: {{on: worker, packet: JOB_ASSIGN, args: {{handle: "${{h}}"}}}}
  - send: {{on: worker, packet: WORK_EXCEPTION, args: {{handle: "${{h}}", data: "oops"}}}}
  - expect: {{on: client, packet: WORK_EXCEPTION, args: {{handle: "${{h}}", data: "oops"}}, timeout: 0.5}}
"""


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "case.yaml"
    path.write_text(HEAD + text)
    scenarios, errors = load_file(path, set(KNOWN_CAPABILITIES), display="case.yaml")
    assert not scenarios
    return [str(e) for e in errors]


# -- loader -------------------------------------------------------------------------
def test_loader_keeps_servers_bindings_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + """servers: {b: {job_retries: 2, exceptions: true}, c: persistent_queue}
actors: [client, {name: wb, server: b}]
steps:
  - connect: [{name: wc, server: c}, admin]
  - restart: {server: c, how: kill}
  - connect: wc
  - send: {on: wb, packet: ECHO_REQ, args: {data: x}}
  - send: {on: wc, packet: ECHO_REQ, args: {data: x}}
  - send: {on: admin, line: status}
""")
    scenarios, errors = load_file(path, set(KNOWN_CAPABILITIES))
    assert not errors, errors
    case = scenarios[0]
    assert case.servers == {"b": ServerConfig(exceptions=True, job_retries=2),
                            "c": ServerConfig(persistent_queue=True)}
    assert case.actor_servers == {"wb": "b", "wc": "c"}
    assert case.actors == ["client", "wb"] and case.restarted == ["c"]


@pytest.mark.parametrize("body, expected", [
    ("servers: {b: default}\nactors: [{name: w, server: x}]\nsteps:\n  - close: w\n",
     "case.yaml:6: actors[0]: actor 'w' is bound to server 'x', which is not declared under 'servers'"),
    ("servers: {main: default}\nactors: [a]\nsteps:\n  - close: a\n",
     "case.yaml:5: servers.main: 'main' is the server under test"),
    ("servers: {b: turbo}\nactors: [a]\nsteps:\n  - close: a\n",
     "case.yaml:5: servers.b: 'turbo' is not one of ['default', 'exceptions_on'"),
    ("servers: {b: {job_retries: 0}}\nactors: [a]\nsteps:\n  - close: a\n",
     "case.yaml:5: servers.b.job_retries: 0 is less than the minimum of 1"),
    ("servers: {b: default}\nactors: [{name: w, server: b}]\nsteps:\n  - connect: {name: w, server: main}\n",
     "case.yaml:8: steps[0].connect: actor 'w' is bound to server 'main' here but to 'b' at line 6"),
    ("servers: {b: default}\nactors: [a]\nsteps:\n  - restart: {server: main}\n",
     "case.yaml:8: steps[0].restart.server: 'main' is the server under test, shared with other cases"),
    ("servers: {b: default}\nactors: [a]\nsteps:\n  - restart: {server: c}\n",
     "case.yaml:8: steps[0].restart.server: server 'c' is not declared under 'servers'"),
    ("servers: {b: default}\nactors: [a]\nsteps:\n  - restart: {server: b, how: nicely}\n",
     "case.yaml:8: steps[0].restart.how: 'nicely' is not one of ['graceful', 'kill']"),
    ("servers: {b: default}\nactors: [a]\nsteps:\n  - alternatives:\n      - {verdict: PASS, steps: [{restart: {server: b}}]}\n      - {verdict: PASS, steps: [{sleep: 0.1}]}\n",
     "case.yaml:9: steps[0].alternatives[0].steps[0].restart: inside alternatives only"),
])
def test_loader_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str) -> None:
    errors = _errors(tmp_path, body)
    assert any(e.startswith(expected) for e in errors), errors


def test_parse_config_forms() -> None:
    assert parse_config("default") == ServerConfig()
    assert parse_config("exceptions_on") == ServerConfig(exceptions=True)
    assert parse_config({"fresh": True, "job_retries": 3}) == ServerConfig(job_retries=3, fresh=True)
    with pytest.raises(ValueError, match="unknown configuration key 'retries'"):
        parse_config({"retries": 2})


def test_targets_map_configurations_to_their_flags(tmp_path: Path) -> None:
    config = ServerConfig(exceptions=True, job_retries=2, persistent_queue=True)
    gearmand = GearmandTarget(log_dir=tmp_path)
    gearmand.apply_config(config, tmp_path / "g")
    assert gearmand.extra_args[:2] == ["--exceptions", "--job-retries=2"]
    gearmand.log_path = tmp_path / "g.log"
    assert "--queue-type=libsqlite3" in gearmand.command(4730)
    assert f"--libsqlite3-db={tmp_path / 'g' / 'gearmand-queue.sqlite'}" in gearmand.command(4730)
    redis = GearmandTarget(log_dir=tmp_path)
    redis.apply_config(ServerConfig(queue_backend="redis"), tmp_path / "q")
    assert redis.queue == "redis" and redis.queue_backend == "redis"
    with pytest.raises(ConfigUnsupported, match="SQLite only, not redis"):
        RefServerTarget(log_dir=tmp_path).apply_config(ServerConfig(queue_backend="redis"),
                                                       tmp_path / "r")
    ref = RefServerTarget(log_dir=tmp_path)
    ref.apply_config(config, tmp_path / "r")
    argv = ref.command(4730)
    assert "--exceptions" in argv and argv[argv.index("--job-retries") + 1] == "2"
    assert argv[argv.index("--queue") + 1] == f"sqlite:{tmp_path / 'r' / 'refserver-queue.sqlite'}"


# -- external server: UNSUPPORTED unless the user gives what is needed ---------------------
def test_external_server_without_second_server_is_unsupported(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml(TWO_SERVERS, gearmand_address, servers=ExternalServers([]))
    assert result.verdict is Verdict.UNSUPPORTED, summary(result)
    assert "--second-server" in result.evidence["unavailable"]["b"]
    assert not result.transcript  # nothing was sent


def test_external_second_server_is_used(run_yaml, gearmand_address, refserver) -> None:  # type: ignore[no-untyped-def]
    result = run_yaml(TWO_SERVERS, gearmand_address, servers=ExternalServers([refserver.address]))
    assert result.verdict is Verdict.PASS, summary(result)
    connected = {e.actor: e.summary["server"] for e in result.transcript
                 if e.summary.get("note") == "connected"}
    assert connected == {"client": str(gearmand_address), "client_b": str(refserver.address),
                         "worker": str(gearmand_address)}


def test_external_server_cannot_restart_or_configure(run_yaml, gearmand_address, refserver) -> None:  # type: ignore[no-untyped-def]
    external = ExternalServers([refserver.address])
    killed = run_yaml(KILLED.format(config="default"), gearmand_address, servers=external)
    assert killed.verdict is Verdict.UNSUPPORTED
    assert "the case restarts it" in killed.evidence["unavailable"]["s"]
    configured = run_yaml(EXCEPTION.format(config="exceptions_on"), gearmand_address,
                          servers=external)
    assert configured.verdict is Verdict.UNSUPPORTED
    assert "exceptions on by default" in configured.evidence["unavailable"]["x"]
    no_provider = run_yaml(TWO_SERVERS, gearmand_address)
    assert no_provider.verdict is Verdict.UNSUPPORTED


# -- managed: the harness starts, restarts and stops them --------------------------------------
@pytest.fixture
def managed_gearmand(tmp_path: Path):  # type: ignore[no-untyped-def]
    provider = ManagedServers(lambda d: GearmandTarget(log_dir=d, verbose="ERROR"), "gearmand")
    yield provider
    provider.close()


def test_managed_gearmand_persistent_queue_survives_kill(run_yaml, gearmand_address, managed_gearmand) -> None:  # type: ignore[no-untyped-def]
    kept = run_yaml(KILLED.format(config="persistent_queue"), gearmand_address,
                    servers=managed_gearmand)
    assert kept.verdict is Verdict.PASS, summary(kept)
    restarts = [e.summary for e in kept.transcript if e.summary.get("note") == "server restarted"]
    assert restarts and restarts[0]["how"] == "kill -9"
    assert restarts[0]["old_pid"] != restarts[0]["new_pid"]
    lost = run_yaml(KILLED.format(config="default"), gearmand_address, servers=managed_gearmand)
    assert lost.verdict is Verdict.FAIL and lost.failure_kind is FailureKind.MISMATCH, summary(lost)
    assert lost.actual["type"] == "NO_JOB"
    assert not managed_gearmand.pool  # restarted servers are the case's own, never pooled


def test_managed_gearmand_exceptions_flag_and_pool(run_yaml, gearmand_address, managed_gearmand) -> None:  # type: ignore[no-untyped-def]
    on = run_yaml(EXCEPTION.format(config="exceptions_on"), gearmand_address,
                  servers=managed_gearmand)
    assert on.verdict is Verdict.PASS, summary(on)
    off = run_yaml(EXCEPTION.format(config="default"), gearmand_address, servers=managed_gearmand)
    assert off.verdict is Verdict.FAIL and off.actual["type"] == "WORK_FAIL", summary(off)
    again = run_yaml(EXCEPTION.format(config="exceptions_on"), gearmand_address,
                     servers=managed_gearmand)
    assert again.verdict is Verdict.PASS
    assert again.evidence["servers"]["x"] == on.evidence["servers"]["x"]  # pooled per config
    pooled = [t for servers in managed_gearmand.pool.values() for t in servers]
    assert len(pooled) == 2
    managed_gearmand.close()
    assert all(t.process is None for t in pooled)


def test_managed_refserver_retry_limit(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    provider = ManagedServers(lambda d: RefServerTarget(log_dir=d, log_level="warning"),
                              "refserver")
    try:
        result = run_yaml("""servers: {r: {job_retries: 1}}
actors: [{name: client, server: r}, {name: worker, server: r}]
steps:
  - send: {on: worker, packet: CAN_DO, args: {function: "${fn}"}}
  - send: {on: client, packet: SUBMIT_JOB, args: {function: "${fn}", unique: "", data: ""}}
  - expect: {on: client, packet: JOB_CREATED, args: {handle: {capture: h}}}
  - send: {on: worker, packet: GRAB_JOB}
  - expect: {on: worker, packet: JOB_ASSIGN, args: {handle: "${h}"}}
  - close: worker
  - expect: {on: client, packet: WORK_FAIL, args: {handle: "${h}"}}
""", gearmand_address, servers=provider)
        assert result.verdict is Verdict.PASS, summary(result)
    finally:
        provider.close()


def test_managed_implementation_without_the_flag_is_unsupported(run_yaml, gearmand_address) -> None:  # type: ignore[no-untyped-def]
    provider = ManagedServers(lambda d: PerlServerTarget(log_dir=d), "perl-gearman-server")
    try:
        result = run_yaml(EXCEPTION.format(config="exceptions_on"), gearmand_address,
                          servers=provider)
    finally:
        provider.close()
    assert result.verdict is Verdict.UNSUPPORTED, summary(result)
    assert "exceptions on by default" in result.evidence["unavailable"]["x"]


# -- the plugin: --second-server against an external server ------------------------------------
def test_plugin_second_server_option(tmp_path: Path, gearmand_address, refserver) -> None:  # type: ignore[no-untyped-def]
    report_dir = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
         str(ROOT / "conformance" / "multi"), "--server", str(gearmand_address),
         "--second-server", str(refserver.address), "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    report = json.loads((report_dir / "report.json").read_text())
    verdicts = {r["case_id"]: r["verdict"] for r in report["results"]}
    assert verdicts["GM-MULTI-002"] == "PASS", proc.stdout[-3000:]
    assert verdicts["GM-MULTI-001"] == "UNSUPPORTED"  # needs a fresh server
    assert verdicts["GM-MULTI-005"] == "UNSUPPORTED"
    assert proc.returncode == 0, proc.stdout[-3000:]
