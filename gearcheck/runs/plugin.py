"""pytest plugin: conformance YAML files become test items (entry point ``pytest11``).

Strategy: only hooks live here; each delegates to the module with that job.
The plugin is loaded for every pytest run and stays inert unless it collects a
scenario file (``items.is_scenario_file``). A run needs ``--server HOST:PORT``
or ``--target NAME`` (a registered name or alias, started and stopped here).
The process that owns the run prepares it before any case (``RunState``: the
server, the probe, the baseline); when that fails the session ends at once
with one line and exit code 2, not one error per case (under run_suite, which
prints that line itself, every case is deselected instead). xdist workers get the
prepared settings through ``workerinput``; each process stops what it started.

``gearcheck.runs.suite.run_suite`` is the way gearcheck itself runs the suite;
``pytest conformance/ --server HOST:PORT`` (with ``-k``, ``-m``, ``-n``) is the
same plugin from the command line.

TLS: ``--tls`` (``--tls-ca``, ``--tls-cert``, ``--tls-key``) makes every
connection of the run, in every process, speak TLS (gearcheck.wire's process
default, restored when the run ends); a ``--target`` registered with TLS brings
its own settings (``RunState``).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from ..wire import TLSClient, TLSSetupError, default_tls
from .concurrent import runs_alone
from .items import ScenarioFile, ScenarioItem, is_scenario_file
from .run_state import STATE, RunState

EXIT_HARNESS = 2


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gearcheck", "Gearman conformance scenarios (YAML)")
    group.addoption("--server", default=None, metavar="HOST:PORT",
                    help="the Gearman server the conformance scenarios run against")
    group.addoption("--target", default=None, metavar="NAME",
                    help="start this server from fixtures/servers.yaml for the run "
                         "(a name or alias)")
    group.addoption("--registry", default=None, metavar="FILE",
                    help="the server registry --target names come from "
                         "(default: gearcheck's fixtures/servers.yaml)")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="where report.json etc. go (default reports/<server>/<time>-<run>)")
    group.addoption("--baseline", default=None, metavar="FILE",
                    help="known failures (fixtures/baselines/<server>.yaml): XFAIL / XPASS")
    group.addoption("--case", dest="case_ids", action="append", default=[], metavar="ID",
                    help="run only this case id (exact; repeatable)")
    group.addoption("--jobs", type=int, default=1, metavar="N",
                    help="cases run at the same time (threads; cases marked exclusive still "
                         "run alone; without xdist only; default 1)")
    group.addoption("--case-timeout", type=float, default=2.0, metavar="SECONDS",
                    help="deadline of a wait when the scenario names none (before RTT "
                         "scaling; default 2.0)")
    group.addoption("--grace", type=float, default=1.0, metavar="FACTOR",
                    help="grace period after a deadline, as a multiple of it: answers "
                         "within it are LATE, not TIMEOUT (default 1.0)")
    group.addoption("--second-server", action="append", default=[], metavar="HOST:PORT",
                    help="another server of the same implementation for cases that need "
                         "extra servers (multi-server cases) when --server is external; "
                         "repeatable")
    group.addoption("--tls", action="store_true", default=False,
                    help="connect to the server with TLS")
    group.addoption("--tls-ca", default=None, metavar="PEM",
                    help="with --tls: the CA that signed the server's certificate "
                         "(default: the system's trust store)")
    group.addoption("--tls-cert", default=None, metavar="PEM",
                    help="with --tls: a client certificate, for servers that require one")
    group.addoption("--tls-key", default=None, metavar="PEM",
                    help="with --tls-cert: its private key (when not in the same file)")
    group.addoption("--no-cleanup", action="store_true", default=False,
                    help="leave what each case made on the server (its jobs and functions), "
                         "to look at after the run; by default the harness cleans up after "
                         "every case")
    group.addoption("--manage-extra-servers", action="store_true", default=False,
                    help="with --server and --target: the harness manages this target, so "
                         "it may start extra servers of it from fixtures/servers.yaml")


def _configure_tls(config: pytest.Config, state: RunState) -> None:
    """--tls and its files become this process's default for every connection."""
    files = {k: config.getoption(f"tls_{k}") for k in ("ca", "cert", "key")}
    if not config.getoption("tls"):
        given = [f"--tls-{k}" for k, v in files.items() if v]
        if given:
            raise pytest.UsageError(f"{', '.join(given)} need(s) --tls")
        return
    try:
        state.use_tls(TLSClient.from_dict(files))
    except TLSSetupError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    state = RunState(config)
    config.stash[STATE] = state
    state.tls_before = default_tls()
    _configure_tls(config, state)
    for level in ("must", "should", "observed"):
        config.addinivalue_line("markers", f"{level}: conformance case of level "
                                           f"{level.upper()}")
    if state.is_worker:
        payload = config.workerinput.get("gearcheck")  # type: ignore[attr-defined]  # xdist
        if payload:
            state.take_worker_input(payload)
    elif config.getoption("server") or config.getoption("target"):
        state.prepare()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "gearcheck-xdist")


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if state.setup_error and not state.is_worker and state.preset is None:
        pytest.exit(f"gearcheck: the run cannot start: {state.setup_error}",
                    returncode=EXIT_HARNESS)


class _XdistHooks:
    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["gearcheck"] = self.state.worker_input()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = set(config.getoption("case_ids"))
    if config.stash[STATE].setup_error:  # run_suite says why, once; no case runs
        keep: list[pytest.Item] = []
    elif wanted:
        keep = [i for i in items if not isinstance(i, ScenarioItem) or i.scenario.id in wanted]
    else:
        keep = list(items)
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    if _concurrency(config) > 1:  # the cases that must run alone go last
        alone: list[pytest.Item] = [i for i in keep if isinstance(i, ScenarioItem)
                                    and runs_alone(i.scenario)]
        keep = [i for i in keep if i not in alone] + alone
    items[:] = keep


def _concurrency(config: pytest.Config) -> int:
    """Cases at once in this process: 1 under xdist, where workers run what they are sent."""
    if hasattr(config, "workerinput") or config.pluginmanager.hasplugin("dsession"):
        return 1
    return max(1, int(config.getoption("jobs")))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    state = session.config.stash[STATE]
    jobs = _concurrency(session.config)
    if jobs > 1 and state.settings is not None and not session.config.option.collectonly:
        state.start_concurrently([i.scenario for i in session.items
                                  if isinstance(i, ScenarioItem)], jobs)
    try:
        return (yield)
    finally:
        state.stop_concurrency()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    worker: str | None = None
    if state.is_worker:
        worker = session.config.workerinput["workerid"]  # type: ignore[attr-defined]  # xdist
    lines = state.finish(worker)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(line)
        else:
            print(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()
