"""One pytest process's part of a conformance run: the server, the verdicts, the report.

Strategy: the process that owns the run (the xdist controller, or the only
process) prepares it once: it starts the ``--target`` server (registry name or
alias) or takes ``--server HOST:PORT``, probes it, parses the baseline, and
freezes all of that into ``RunSettings``, which xdist workers receive instead of
doing any of it again. A preparation that fails is one message, and the run
stops before any case (the plugin exits 2).

TLS: the run's client settings (``--tls`` options, or a TLS target's own) are
this process's default for every connection (``use_tls``), go to xdist
workers with the settings, and are undone when the run closes. Before the
probe, one handshake is tried, so a wrong CA is one line, not a probe error.
A target the run starts is watched (targets.crash_watch): a crash is restarted
on its port and reported (``crashes``; the matrix shows them in the column).

Each case is run by the engine (``run_case``) and judged against the baseline
right there, once (``Baseline.judge_case``); the pytest outcome is derived from
that verdict, so pytest's output, report.json and the gate cannot disagree.
Workers write their judged results and the case ids they collected to
``<report-dir>/.parts/<worker>.json``; the owner merges them at the end, builds
the ``RunReport``, lists the baseline entries that match no collected case as
stale, and writes every report format.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..engine.loader import Scenario
from ..engine.probe import CapabilityProfile, ProbeError, probe_server
from ..engine.runner import run_case
from ..engine.servers import ExternalServers, ExtraServers, ManagedServers
from ..engine.timing import Timing
from ..report.baseline import BaselineEntry, BaselineError, load_baseline
from ..report.writers import write_all
from ..results import CaseResult, RunReport, ServerInfo, tool_version
from ..targets import (
    ConfigUnsupported,
    ProcessTarget,
    RegistryError,
    Target,
    find,
    load_registry,
)
from ..targets.crash_watch import CrashWatch
from ..wire import (
    Address,
    Connection,
    TLSClient,
    TLSFailed,
    TLSSetupError,
    WireError,
    default_tls,
    set_default_tls,
)
from .concurrent import CaseScheduler
from .residue import closing_lines, summarize
from .settings import RunSettings, default_report_dir, new_run_id, utc_now


class SuitePreset:
    """Handed to pytest as a plugin by ``run_suite``: what the run takes from its caller that has
    no command-line form, and where the run leaves its report for the caller."""

    def __init__(self, *, profile: CapabilityProfile | None = None, write_reports: bool = True,
                 on_result: Callable[[CaseResult], None] | None = None) -> None:
        self.profile = profile
        self.write_reports = write_reports
        self.on_result = on_result  # called with each judged result, in the process that ran it
        self.report: RunReport | None = None
        self.stale: list[BaselineEntry] = []
        self.report_dir: Path | None = None
        self.setup_error: str | None = None
        self.crashes: list[str] = []  # the run's server crashed (and was restarted)


class RunState:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.preset = next((p for p in config.pluginmanager.get_plugins()
                            if isinstance(p, SuitePreset)), None)
        self.settings: RunSettings | None = None
        self.setup_error: str | None = None
        self.results: list[CaseResult] = []
        self.collected_ids: set[str] = set()
        self.seen_ids: dict[str, str] = {}  # case id -> file:line where first defined
        self.target: Target | None = None
        self.started = time.monotonic()
        self.extra_servers: ExtraServers | None = None
        self._servers_lock = threading.Lock()
        self.scheduler: CaseScheduler | None = None
        self.report: RunReport | None = None
        self.stale: list[BaselineEntry] = []
        self.crash_watch: CrashWatch | None = None
        self.tls_before: TLSClient | None = None  # the process default to restore at close

    def use_tls(self, tls: TLSClient) -> None:
        """Every connection of this process speaks TLS this way until ``close``."""
        set_default_tls(tls)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    # -- preparing ------------------------------------------------------------------
    def prepare(self) -> None:
        """Server, probe and baseline, once per run; ``setup_error`` says what failed."""
        try:
            self.settings = self._prepare()
        except (RegistryError, ProbeError, BaselineError, OSError, ValueError,
                RuntimeError) as exc:  # TargetError is a RuntimeError
            self.setup_error = str(exc)
            if self.preset is not None:
                self.preset.setup_error = self.setup_error

    def _prepare(self) -> RunSettings:
        config = self.config
        server = config.getoption("server")
        name = config.getoption("target")
        preset = self.preset
        second = [str(Address.parse(a)) for a in config.getoption("second_server")]
        baseline_path = config.getoption("baseline")
        baseline = load_baseline(baseline_path) if baseline_path else None
        run_id = new_run_id()
        managed: str | None = None
        registry = config.getoption("registry")
        spec = None if server else find(load_registry(registry), name)
        server_name = spec.name if spec else name or str(Address.parse(server))
        report_dir = Path(config.getoption("report_dir")
                          or default_report_dir(server_name, run_id))
        if spec is None:
            address = Address.parse(server)
            if name and config.getoption("manage_extra_servers"):
                managed = name
        else:
            self.target = spec.create(log_dir=report_dir / "logs")
            self.target.start()
            if isinstance(self.target, ProcessTarget):  # a crash is restarted and noted
                self.crash_watch = CrashWatch(self.target).__enter__()
            if self.target.client_tls is not None and default_tls() is None:
                self.use_tls(self.target.client_tls)
            address, managed = self.target.address, spec.name
        _tls_preflight(address)
        timing = Timing(default_timeout_s=config.getoption("case_timeout"),
                        grace_factor=config.getoption("grace"))
        profile = preset.profile if preset else None
        if profile is None:
            profile = probe_server(address, run_id)
        timing = Timing(rtt_s=profile.rtt_s or timing.rtt_s,
                        default_timeout_s=timing.default_timeout_s,
                        grace_factor=timing.grace_factor)
        return RunSettings(address=address, server_name=server_name, run_id=run_id,
                           report_dir=report_dir, timing=timing, profile=profile,
                           baseline=baseline, started_at=utc_now(), managed_target=managed,
                           registry=registry, second_servers=second,
                           write_reports=preset.write_reports if preset else True,
                           clean_up=not config.getoption("no_cleanup"))

    def worker_input(self) -> str:
        tls = default_tls()
        return json.dumps({"settings": self.settings.to_json() if self.settings else None,
                           "setup_error": self.setup_error,
                           "tls": tls.to_dict() if tls else None})

    def take_worker_input(self, payload: str) -> None:
        data = json.loads(payload)
        self.setup_error = data["setup_error"]
        if data.get("tls") and default_tls() is None:
            self.use_tls(TLSClient.from_dict(data["tls"]))
        if data["settings"]:
            self.settings = RunSettings.from_json(data["settings"])

    # -- running --------------------------------------------------------------------
    def execute(self, scenario: Scenario) -> CaseResult:
        """The case's verdict, judged against the baseline (safe to call from any thread)."""
        settings = self.settings
        assert settings is not None
        result = run_case(scenario, settings.address, run_id=settings.run_id,
                          timing=settings.timing, profile=settings.profile,
                          servers=self._servers() if scenario.servers else None,
                          clean_up=settings.clean_up)
        if settings.baseline is not None:
            settings.baseline.judge_case(result)
        return result

    def run(self, scenario: Scenario) -> CaseResult:
        """The case's judged result (run ahead by the scheduler, or now), recorded."""
        result = self.scheduler.result(scenario) if self.scheduler else self.execute(scenario)
        self.results.append(result)
        if self.preset is not None and self.preset.on_result is not None:
            self.preset.on_result(result)
        return result

    def start_concurrently(self, scenarios: list[Scenario], jobs: int) -> None:
        self.scheduler = CaseScheduler(self.execute, jobs)
        self.scheduler.start(scenarios)

    def stop_concurrency(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
            self.scheduler = None

    def _servers(self) -> ExtraServers:
        """This process's source of extra servers, made on first use."""
        with self._servers_lock:
            return self._make_servers()

    def _make_servers(self) -> ExtraServers:
        if self.extra_servers is None:
            settings = self.settings
            assert settings is not None
            if settings.managed_target:
                implementation = settings.managed_target

                def create(log_dir: Path) -> Target:
                    try:
                        return find(load_registry(settings.registry),
                                    implementation).create(log_dir=log_dir)
                    except RegistryError as exc:
                        raise ConfigUnsupported(f"cannot start another {implementation}: "
                                                f"{exc}") from exc

                self.extra_servers = ManagedServers(create, implementation)
            else:
                self.extra_servers = ExternalServers(
                    [Address.parse(a) for a in settings.second_servers])
        return self.extra_servers

    # -- finishing ------------------------------------------------------------------
    def finish(self, worker_id: str | None) -> list[str]:
        """A worker hands its part over; the owner merges, judges staleness and writes.

        Returns lines for the user (empty for a worker, or when no case ran)."""
        settings = self.settings
        if settings is None:
            return []
        parts = settings.report_dir / ".parts"
        if worker_id is not None:
            parts.mkdir(parents=True, exist_ok=True)
            (parts / f"{worker_id}.json").write_text(json.dumps(
                {"results": [r.to_dict() for r in self.results],
                 "collected": sorted(self.collected_ids)}))
            return []
        results, collected = list(self.results), set(self.collected_ids)
        if parts.is_dir():
            for part in sorted(parts.glob("*.json")):
                data = json.loads(part.read_text())
                results.extend(CaseResult.from_dict(d) for d in data["results"])
                collected.update(data["collected"])
                part.unlink()
            parts.rmdir()
        if not results:
            return []
        self.report = build_report(settings, results, time.monotonic() - self.started)
        self.report.cleanup = summarize(results, run_id=settings.run_id,
                                        address=settings.address, profile=settings.profile,
                                        enabled=settings.clean_up)
        if settings.baseline is not None:
            self.stale = settings.baseline.stale(collected)
        if self.preset is not None:
            self.preset.report, self.preset.stale = self.report, self.stale
            self.preset.report_dir = settings.report_dir
        counts = {k: v for k, v in self.report.counts().items() if v}
        lines = [f"gearcheck: {counts}", *closing_lines(self.report.cleanup)]
        if settings.write_reports:
            paths = write_all(self.report, settings.report_dir)
            lines.append(f"reports in {settings.report_dir}: "
                         + ", ".join(p.name for p in paths.all()[:4])
                         + (f" and {len(paths.pcaps)} pcap(s)" if paths.pcaps else ""))
        return lines

    def close(self) -> None:
        self.stop_concurrency()
        if self.extra_servers is not None:
            self.extra_servers.close()
        if self.crash_watch is not None:
            self.crash_watch.__exit__(None, None, None)
            crashes = [f"{self.target.name if self.target else 'the server'} crashed during "
                       f"the run: {c.describe()}" for c in self.crash_watch.crashes]
            if self.preset is not None:
                self.preset.crashes = crashes
            for line in crashes:
                print(f"gearcheck: {line}")
        if self.target is not None:
            self.target.stop()
        set_default_tls(self.tls_before)


def _tls_preflight(address: Address) -> None:
    """One handshake before the probe: a TLS problem is one message, not a probe error."""
    if default_tls() is None:
        return
    try:
        Connection.open(address, timeout=5.0).close()
    except (TLSFailed, TLSSetupError) as exc:
        raise ValueError(str(exc)) from None
    except WireError:
        pass  # not a TLS problem: the probe reports it


def build_report(settings: RunSettings, results: list[CaseResult], duration_s: float,
                 ) -> RunReport:
    profile = settings.profile
    capabilities: dict[str, Any] = dict(profile.capabilities) if profile else {}
    server = ServerInfo(address=str(settings.address), name=settings.server_name,
                        version=profile.version if profile else None,
                        capabilities=capabilities,
                        echo_rtt_us=round(profile.rtt_s * 1e6, 1) if profile else None)
    ordered = sorted(results, key=lambda r: (r.area, r.case_id))
    return RunReport(server=server, results=ordered, started_at=settings.started_at,
                     finished_at=utc_now(), duration_s=round(duration_s, 3),
                     tool_version=tool_version(),
                     baseline=settings.baseline.path if settings.baseline else None)


STATE = pytest.StashKey[RunState]()
