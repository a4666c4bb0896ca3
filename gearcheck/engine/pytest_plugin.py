"""pytest plugin: conformance YAML files become test items.

Strategy: the plugin is loaded for every pytest run (entry point ``pytest11``)
and stays inert unless it collects a scenario file: a .yaml/.yml file under a
directory named ``conformance`` or whose text starts a document with
``id: GM-``. A file that does not load becomes one item that ERRORs with the
file:line:field messages (collection itself never fails, the other files run).

A run needs ``--server HOST:PORT`` (or ``--target NAME`` from
fixtures/servers.yaml, which the plugin starts and stops). The process that
owns the run (the xdist controller, or the only process) probes the server
once, before any case, and hands the ``RunSettings`` to xdist workers through
``workerinput``. Each case runs in its item's setup, so the pytest outcome
matches the verdict: PASS/NON-STRICT pass, FAIL fails, UNSUPPORTED skips,
ERROR is a pytest error; with ``--baseline`` a listed FAIL is xfail and a
listed case that passes fails as XPASS. Workers write their results to
``<report-dir>/.parts/<worker>.json``; the owner merges them into one
RunReport and writes report.json (and the other formats) at session end.

Extra servers (a case's ``servers:``): when the harness manages the target
(``--target NAME`` without ``--server``, or ``--manage-extra-servers`` as the
matrix passes), each pytest process starts them from the target's registry
entry and stops them at its end (engine.servers.ManagedServers); against an
external ``--server`` only the ones given with ``--second-server`` exist.

Markers: the level in lower case (``must``, ``should``, ``observed``), the
area (``echo``, ``submit``, ...) and every tag, so ``-m "must and not slow"``
works; ``-k`` matches the case id, the file and the tags.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from ..results import CaseResult, Verdict
from ..wire import Address
from .loader import LoadError, Scenario, load_file
from .probe import KNOWN_CAPABILITIES, ProbeError, probe_server
from .runner import run_case
from .servers import ExternalServers, ExtraServers, ManagedServers
from .session import (
    RunSettings,
    apply_baseline_file,
    build_report,
    default_report_dir,
    new_run_id,
    utc_now,
    write_report,
)
from .timing import Timing

_SCENARIO_TEXT = re.compile(r"^id:\s*[\"']?GM-", re.MULTILINE)
_STATE = pytest.StashKey["_RunState"]()


class _RunState:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings: RunSettings | None = None
        self.setup_error: str | None = None
        self.results: list[CaseResult] = []
        self.seen_ids: dict[str, str] = {}
        self.target: Any = None
        self.started = time.monotonic()
        self.baseline: dict[str, str] | None = None
        self.baseline_verdicts: dict[str, Verdict] = {}
        self.report_path: Path | None = None
        self.extra_servers: ExtraServers | None = None

    def servers_provider(self) -> ExtraServers:
        """This process's source of extra servers, made on first use."""
        if self.extra_servers is None:
            settings = self.settings
            assert settings is not None
            if settings.managed_target:
                self.extra_servers = ManagedServers(_registry_factory(settings.managed_target),
                                                    settings.managed_target)
            else:
                self.extra_servers = ExternalServers(
                    [Address.parse(a) for a in settings.second_servers])
        return self.extra_servers

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gearcheck", "Gearman conformance scenarios (YAML)")
    group.addoption("--server", default=None, metavar="HOST:PORT",
                    help="the Gearman server the conformance scenarios run against")
    group.addoption("--target", default=None, metavar="NAME",
                    help="start this server from fixtures/servers.yaml for the run")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="where report.json etc. go (default reports/<server>/<time>-<run>)")
    group.addoption("--baseline", default=None, metavar="FILE",
                    help="known failures (fixtures/baselines/<server>.yaml): XFAIL / XPASS")
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
    group.addoption("--manage-extra-servers", action="store_true", default=False,
                    help="with --server and --target: the harness manages this target, so "
                         "it may start extra servers of it from fixtures/servers.yaml")


def pytest_configure(config: pytest.Config) -> None:
    state = _RunState(config)
    config.stash[_STATE] = state
    for level in ("must", "should", "observed"):
        config.addinivalue_line("markers", f"{level}: conformance case of level "
                                           f"{level.upper()}")
    if state.is_worker:
        payload = config.workerinput.get("gearcheck")  # type: ignore[attr-defined]
        if payload:
            data = json.loads(payload)
            state.setup_error = data.get("setup_error")
            if data.get("settings"):
                state.settings = RunSettings.from_json(data["settings"])
    elif config.getoption("server") or config.getoption("target"):
        _prepare_run(state)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "gearcheck-xdist")


def _prepare_run(state: _RunState) -> None:
    config = state.config
    server = config.getoption("server")
    name = config.getoption("target")
    managed: str | None = None
    try:
        second = [str(Address.parse(a)) for a in config.getoption("second_server")]
        if server:
            address = Address.parse(server)
            server_name = name or str(address)
            if name and config.getoption("manage_extra_servers"):
                managed = name
        else:
            from ..targets.registry import load_registry, select

            spec = select(load_registry(), [name])[0]
            state.target = spec.create()
            state.target.start()
            address = state.target.address
            server_name = spec.name
            managed = spec.name
    except Exception as exc:
        state.setup_error = f"cannot set up the server under test: {exc}"
        return
    run_id = new_run_id()
    report_dir = Path(config.getoption("report_dir") or default_report_dir(server_name, run_id))
    timing = Timing(default_timeout_s=config.getoption("case_timeout"),
                    grace_factor=config.getoption("grace"))
    settings = RunSettings(address=address, server_name=server_name, run_id=run_id,
                           report_dir=report_dir, timing=timing,
                           baseline=config.getoption("baseline"), started_at=utc_now(),
                           managed_target=managed, second_servers=second)
    try:
        profile = probe_server(address, run_id)
        settings.profile = profile
        settings.timing = Timing(rtt_s=profile.rtt_s or timing.rtt_s,
                                 default_timeout_s=timing.default_timeout_s,
                                 grace_factor=timing.grace_factor)
    except ProbeError as exc:
        settings.probe_error = str(exc)
    state.settings = settings


class _XdistHooks:
    def __init__(self, state: _RunState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        s = self.state
        node.workerinput["gearcheck"] = json.dumps({
            "settings": s.settings.to_json() if s.settings else None,
            "setup_error": s.setup_error})


def _is_scenario_file(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    if "conformance" in path.parts[:-1]:
        return True
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return bool(_SCENARIO_TEXT.search(head))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        state = self.config.stash[_STATE]
        try:
            display = str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            display = str(self.path)
        scenarios, errors = load_file(self.path, set(KNOWN_CAPABILITIES), display=display)
        if errors:
            yield ScenarioLoadError.from_parent(self, name="load-error", errors=errors,
                                                display=display)
            return
        for scenario in scenarios:
            first = state.seen_ids.get(scenario.id)
            if first is not None and first != f"{display}:{scenario.line}":
                yield ScenarioLoadError.from_parent(
                    self, name=scenario.id, display=display,
                    errors=[LoadError(display, scenario.line, "id",
                                      f"duplicate case id {scenario.id}, first defined at "
                                      f"{first}")])
                continue
            state.seen_ids[scenario.id] = f"{display}:{scenario.line}"
            yield ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)


class ScenarioLoadError(pytest.Item):
    def __init__(self, *, errors: list[LoadError], display: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.errors = errors
        self.display = display

    def setup(self) -> None:
        state = self.config.stash[_STATE]
        text = "\n".join(str(e) for e in self.errors)
        state.results.append(CaseResult(
            case_id=f"LOAD-ERROR:{self.display}", title="scenario file does not load",
            area="load", level="MUST", verdict=Verdict.ERROR, file=self.display,
            line=self.errors[0].line, message=text))
        pytest.fail(f"scenario file does not load:\n{text}", pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails
        pass

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.errors[0].line - 1, 0), f"{self.display}: load error"


# Markers that pytest or its plugins interpret (with arguments): a scenario tag of
# the same name must not become one, or pytest-timeout would read `timeout`.
_PYTEST_OWN_MARKERS = frozenset({
    "timeout", "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
    "tryfirst", "trylast", "xdist_group", "flaky",
})


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: CaseResult | None = None
        for name in (scenario.level.lower(), scenario.area, *scenario.tags):
            marker = re.sub(r"\W", "_", name)
            if marker in _PYTEST_OWN_MARKERS:
                continue  # a tag named like pytest's own markers still matches -k
            self.config.addinivalue_line("markers", f"{marker}: conformance tag")
            self.add_marker(marker)
        self.extra_keyword_matches.update(scenario.tags)

    def setup(self) -> None:
        state = self.config.stash[_STATE]
        settings = state.settings
        if settings is None:
            problem = state.setup_error or ("no server to test: pass --server HOST:PORT or "
                                            "--target NAME")
            pytest.fail(problem, pytrace=False)
        if settings.probe_error:
            pytest.fail(f"the capability probe failed: {settings.probe_error}", pytrace=False)
        self.result = run_case(self.scenario, settings.address, run_id=settings.run_id,
                               timing=settings.timing, profile=settings.profile,
                               servers=state.servers_provider() if self.scenario.servers
                               else None)
        state.results.append(self.result)
        if self.result.verdict is Verdict.ERROR:
            pytest.fail(format_result(self.result), pytrace=False)

    def runtest(self) -> None:
        result = self.result
        assert result is not None
        state = self.config.stash[_STATE]
        expected = _baseline_entry(state, result.case_id)
        verdict = result.verdict
        if verdict is Verdict.UNSUPPORTED:
            pytest.skip(f"UNSUPPORTED: {result.message}")
        if expected is not None:
            wanted = state.baseline_verdicts.get(result.case_id, Verdict.FAIL)
            if verdict is Verdict.NON_STRICT and wanted is Verdict.NON_STRICT:
                return  # the baseline expects exactly this tolerated alternative
            if verdict is Verdict.FAIL and wanted is Verdict.FAIL:
                pytest.xfail(f"baseline: {expected}")
            if verdict in (Verdict.PASS, Verdict.NON_STRICT):
                raise CaseFailed(result, f"XPASS: {result.case_id} is in the baseline "
                                         f"({expected}) but now passes; remove the entry")
        if verdict is Verdict.FAIL:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return excinfo.value.text
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # the baseline's reason; pytest's default would parse the source of every
            # frame down to the plugin's own xfail call (~0.2 s of CPU per XFAIL case)
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.scenario.line - 1, 0), \
            f"{self.scenario.id} [{self.scenario.level}] {self.scenario.title}"


class CaseFailed(Exception):
    def __init__(self, result: CaseResult, headline: str | None = None) -> None:
        self.text = (headline + "\n" if headline else "") + format_result(result)
        super().__init__(self.text)


def format_result(result: CaseResult, transcript_lines: int = 30) -> str:
    from ..protocol import printable  # noqa: F401

    lines = [f"{result.case_id} {result.verdict.value}"
             + (f" ({result.failure_kind.value})" if result.failure_kind else "")
             + f": {result.message}",
             f"  at {result.file}:{result.evidence.get('step_line', result.line)} "
             f"{result.evidence.get('step', '')}"]
    if result.expected is not None:
        lines.append(f"  expected: {json.dumps(result.expected, default=str)}")
    if result.actual is not None:
        lines.append(f"  actual:   {json.dumps(result.actual, default=str)}")
    if result.transcript:
        lines.append("  transcript (last entries):")
        for e in result.transcript[-transcript_lines:]:
            what = e.summary.get("type") or e.summary.get("line") or e.summary.get("note") \
                or e.summary
            args = e.summary.get("args")
            lines.append(f"    {e.t:9.4f} {e.actor:>8} {e.direction:<4} {what}"
                         + (f" {args}" if args else ""))
    return "\n".join(lines)


def _baseline_entry(state: _RunState, case_id: str) -> str | None:
    path = state.settings.baseline if state.settings else None
    if not path:
        return None
    if state.baseline is None:
        try:
            from ..report.baseline import load_baseline

            baseline = load_baseline(path)
            state.baseline = {cid: f"{e.verdict.value}: {e.reason}"
                              for cid, e in baseline.entries.items()}
            state.baseline_verdicts = {cid: e.verdict for cid, e in baseline.entries.items()}
        except Exception as exc:
            raise pytest.UsageError(f"--baseline {path}: {exc}") from exc
    return state.baseline.get(case_id)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or state.settings is None:
        return
    parts = state.settings.report_dir / ".parts"
    if state.is_worker:
        if state.results:
            parts.mkdir(parents=True, exist_ok=True)
            wid = session.config.workerinput["workerid"]  # type: ignore[attr-defined]
            (parts / f"{wid}.json").write_text(
                json.dumps([r.to_dict() for r in state.results]))
        return
    results = list(state.results)
    if parts.is_dir():
        for part in sorted(parts.glob("*.json")):
            results.extend(CaseResult.from_dict(d) for d in json.loads(part.read_text()))
            part.unlink()
        parts.rmdir()
    if not results:
        return
    report = build_report(state.settings, results, time.monotonic() - state.started)
    try:
        report = apply_baseline_file(report, state.settings.baseline)
    except Exception as exc:
        print(f"\ngearcheck: baseline not applied: {exc}")
    notes = write_report(report, state.settings.report_dir)
    counts = {k: v for k, v in report.counts().items() if v}
    state.report_path = state.settings.report_dir / "report.json"
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"gearcheck: {counts}; " + "; ".join(notes)
    if tr is not None:
        tr.ensure_newline()
        tr.write_line(message)
    else:
        print(message)


def _registry_factory(name: str):  # type: ignore[no-untyped-def]
    """Makes not-yet-started targets of the registered implementation ``name``."""
    from ..targets import ConfigUnsupported
    from ..targets.registry import RegistryError, load_registry, select

    def create(log_dir: Path):  # type: ignore[no-untyped-def]
        try:
            spec = select(load_registry(), [name])[0]
        except RegistryError as exc:
            raise ConfigUnsupported(f"cannot start another {name}: {exc}") from exc
        return spec.create(log_dir=log_dir)

    return create


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state.extra_servers is not None:
        state.extra_servers.close()
    if state is not None and state.target is not None:
        state.target.stop()
