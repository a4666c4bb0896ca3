"""``run_suite``: the one way gearcheck runs the conformance suite.

Strategy: ``SuiteSettings`` is what a caller asks for, in its own words: a
server (registered name, alias or HOST:PORT; none means the default), case
paths, a selection, a baseline choice. ``run_suite`` resolves what has to be
decided before pytest starts (which baseline applies), turns the settings into
pytest's command line in exactly one place, and runs pytest in this process
with the engine's plugin (``gearcheck.runs.plugin``). The plugin prepares the
run, judges every case once against the baseline and builds the ``RunReport``;
``run_suite`` takes that report from the plugin's state (never by reading back
report.json) and gates on it. The conformance command, the matrix, mutants,
the benchmark and the tests all come through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .. import paths
from ..engine.probe import CapabilityProfile
from ..report.baseline import AppliedBaseline, BaselineEntry, load_baseline
from ..report.gate import EXIT_HARNESS, GateOutcome, evaluate
from ..results import CaseResult, RunReport
from ..targets import DEFAULT_TARGET, ServerSpec, find, is_address, load_registry
from ..wire import Address, Connection, TLSClient, WireError
from .run_state import SuitePreset


@dataclass
class SuiteSettings:
    server: str | None = None            # registered name or alias, or HOST:PORT
    implementation: str | None = None    # with HOST:PORT: its registered name (baseline, extras)
    registry: Path | None = None         # servers.yaml to resolve names in (default: shipped)
    cases: list[Path] = field(default_factory=lambda: [paths.SUITE_DIR])
    baseline: Path | None = None         # None: the server's own (registry or by version)
    use_baseline: bool = True
    keyword: str | None = None           # pytest -k
    markers: str | None = None           # pytest -m
    case_ids: list[str] = field(default_factory=list)  # exact ids; empty: all
    workers: int = 0                     # pytest-xdist processes
    jobs: int = 1                        # cases at the same time (threads; without xdist)
    report_dir: Path | None = None       # None: reports/<server>/<time>-<run>
    write_reports: bool = True
    case_timeout: float | None = None
    second_servers: list[str] = field(default_factory=list)
    stop_at_first_failure: bool = False
    profile: CapabilityProfile | None = None       # a capability profile to use instead of probing
    on_result: Callable[[CaseResult], None] | None = None  # each judged case, as it ends
    verbose: bool = False
    quiet: bool = False                  # pytest prints nothing (the caller shows progress)
    tls: TLSClient | None = None         # reach a HOST:PORT server over TLS (--tls options)
    extra_pytest_args: list[str] = field(default_factory=list)
    clean_up: bool = True                # clean up after each case (engine.cleanup)


@dataclass
class SuiteOutcome:
    exit_code: int                       # 0 / 1 / 2, the gate's
    report: RunReport | None = None
    report_dir: Path | None = None
    gate: GateOutcome | None = None
    stale: list[BaselineEntry] = field(default_factory=list)
    baseline: Path | None = None
    problem: str | None = None           # why there is no report
    warnings: list[str] = field(default_factory=list)  # e.g. the server crashed and restarted


def within_shipped_suite(settings: SuiteSettings) -> bool:
    """Every case path is the shipped suite or inside it (registered baselines are for it)."""
    return all(p == paths.SUITE_DIR or paths.SUITE_DIR in p.parents
               for p in (Path(c).resolve() for c in settings.cases))


def runs_whole_suite(settings: SuiteSettings) -> bool:
    """The run collected every case its baseline can name, so an entry with no case is stale.

    A registered baseline is for the shipped suite: whole only when that is what ran. A
    baseline given by hand is for the folders given, unless they are parts of the suite.
    """
    if settings.baseline is not None and not within_shipped_suite(settings):
        return True
    return all(Path(c).resolve() == paths.SUITE_DIR for c in settings.cases)


def resolve_baseline(settings: SuiteSettings,
                     specs: list[ServerSpec] | None = None) -> Path | None:
    """The baseline a run applies: given, else the server's registered one, else by version."""
    if not settings.use_baseline:
        return None
    if settings.baseline is not None:
        return settings.baseline
    server = settings.server or DEFAULT_TARGET
    name = settings.implementation or (None if is_address(server) else server)
    specs = specs if specs is not None else load_registry(settings.registry)
    if name is not None:
        spec = find(specs, name)
        return spec.baseline if spec.baseline and spec.baseline.exists() else None
    return _baseline_for_version(Address.parse(server), specs)


def _baseline_for_version(address: Address, specs: list[ServerSpec]) -> Path | None:
    try:
        with Connection.open(address, timeout=2.0) as conn:
            line = conn.admin("version", timeout=2.0)[0].decode("utf-8", "replace")
    except (OSError, WireError, IndexError):
        return None
    version = re.sub(r"^(OK\s+|v)", "", line).split("+")[0].strip()
    for spec in specs:
        if spec.baseline and version and spec.name.endswith(f"-{version}") \
                and spec.baseline.exists():
            return spec.baseline
    return None


def pytest_arguments(settings: SuiteSettings, baseline: Path | None) -> list[str]:
    """The suite's pytest command line: the only place it is built."""
    server = settings.server or DEFAULT_TARGET
    argv = [str(p) for p in settings.cases]
    # Locust's pytest plugin would import Locust, which monkey-patches the process
    # with gevent: the cases' threads would become greenlets.
    argv += ["-p", "no:cacheprovider", "-p", "no:locust", "-o", "addopts=", "--assert=plain",
             "--rootdir", str(_rootdir(settings))]
    if is_address(server):
        argv += ["--server", server]
        if settings.implementation:
            argv += ["--target", settings.implementation, "--manage-extra-servers"]
    else:
        argv += ["--target", server]
    if settings.registry is not None:
        argv += ["--registry", str(settings.registry)]
    if settings.report_dir is not None:
        argv += ["--report-dir", str(settings.report_dir)]
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    if settings.keyword:
        argv += ["-k", settings.keyword]
    if settings.markers:
        argv += ["-m", settings.markers]
    for case_id in settings.case_ids:
        argv += ["--case", case_id]
    if settings.workers > 0:
        argv += ["-n", str(settings.workers)]
    if settings.jobs > 1:
        argv += ["--jobs", str(settings.jobs)]
    if settings.case_timeout:
        argv += ["--case-timeout", str(settings.case_timeout)]
    for extra in settings.second_servers:
        argv += ["--second-server", extra]
    if settings.stop_at_first_failure:
        argv += ["-x"]
    if settings.tls is not None:
        argv.append("--tls")
        for option, value in (("--tls-ca", settings.tls.ca), ("--tls-cert", settings.tls.cert),
                              ("--tls-key", settings.tls.key)):
            if value is not None:
                argv += [option, str(value)]
    if not settings.clean_up:
        argv += ["--no-cleanup"]
    if settings.quiet:  # xdist reports through pytest's terminal, so it stays then
        argv += ["-qq", "--no-summary"] if settings.workers else ["-p", "no:terminal", "-s"]
    else:
        argv += ["-v"] if settings.verbose else ["-q", "-rfE"]
    return [*argv, *settings.extra_pytest_args]


def _rootdir(settings: SuiteSettings) -> Path:
    """The working folder when every case path is below it, else the paths' common folder."""
    here = Path.cwd().resolve()
    resolved = [Path(p).resolve() for p in settings.cases]
    if all(p == here or here in p.parents for p in resolved):
        return here
    parents = [p if p.is_dir() else p.parent for p in resolved]
    common = parents[0]
    while not all(p == common or common in p.parents for p in parents):
        common = common.parent
    return common


def run_suite(settings: SuiteSettings) -> SuiteOutcome:
    """Run the suite as ``settings`` say; never raises for the server or the user's input."""
    try:
        baseline = resolve_baseline(settings)
        if baseline is not None:
            load_baseline(baseline)  # a broken baseline stops the run before it starts
    except (ValueError, OSError) as exc:  # RegistryError, BaselineError
        return SuiteOutcome(EXIT_HARNESS, problem=str(exc))
    preset = SuitePreset(profile=settings.profile, write_reports=settings.write_reports,
                         on_result=settings.on_result)
    pytest_code = pytest.main(pytest_arguments(settings, baseline), plugins=[preset])
    if preset.report is None:
        problem = preset.setup_error or (
            "interrupted before any case ended" if pytest_code == pytest.ExitCode.INTERRUPTED
            else f"no case ran (pytest exit {int(pytest_code)})")
        return SuiteOutcome(EXIT_HARNESS, report_dir=preset.report_dir, baseline=baseline,
                            problem=problem, warnings=preset.crashes)
    applied = None
    stale = preset.stale if runs_whole_suite(settings) else []
    if baseline is not None:
        applied = AppliedBaseline(preset.report, load_baseline(baseline), stale)
    gate = evaluate(preset.report, applied)
    if pytest_code == pytest.ExitCode.INTERRUPTED:  # Ctrl-C or SIGTERM: a partial run
        return SuiteOutcome(EXIT_HARNESS, preset.report, preset.report_dir, gate, stale,
                            baseline, problem=f"interrupted after {len(preset.report.results)} "
                                              f"cases (the report holds those)",
                            warnings=preset.crashes)
    return SuiteOutcome(gate.exit_code, preset.report, preset.report_dir, gate, stale, baseline,
                        warnings=preset.crashes)
