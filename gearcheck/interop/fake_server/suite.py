"""Every server script against every library: one conformance report per library.

Strategy: for each library, play each script whose role the library can
take (every library here is both client and worker), a few in parallel
(each case has its own listener and driver process), apply the
``as_server`` baseline entries, and build the shared ``RunReport`` with the
library standing where a server usually stands, so the report writers
(report.json, JUnit, HTML, summary) work unchanged. Reports go to
<out>/<library>/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from ...engine.loader import Scenario
from ...results import CaseResult, RunReport, ServerInfo
from .. import baselines
from ..registry import LIBRARIES, Library, library
from .player import play


def library_report(lib: Library, scripts: list[Scenario], *, parallel: int = 3,
                   baseline: baselines.InteropBaseline | None = None,
                   progress: Callable[[Library, CaseResult], None] | None = None) -> RunReport:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        results = list(pool.map(lambda s: play(s, lib), scripts))
    for r in results:
        if baseline is not None:
            baselines.apply(r, baseline.as_server, {"library": lib.name, "case": r.case_id})
        if progress:
            progress(lib, r)
    version = next((e.get("version") for r in results
                    for d in r.evidence.get("driver", []) for e in d.get("events", [])
                    if e.get("event") == "start"), None)
    return RunReport(
        server=ServerInfo(address=f"library:{lib.name}", name=f"{lib.name} ({lib.language})",
                          version=str(version) if version else None,
                          capabilities={"client": sorted(lib.client_features),
                                        "worker": sorted(lib.worker_features)}),
        results=results, started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 3), tool_version="gearcheck-interop",
        baseline=baseline.path if baseline else None)


def write_report(report: RunReport, outdir: Path) -> list[Path]:
    """report.json, JUnit, HTML, summary via the shared writers (report.json alone without them)."""
    try:
        from ...report.writers import write_all
    except ImportError:
        from ...report.json_report import write_json
        return [write_json(report, outdir / "report.json")]
    return write_all(report, outdir).all()


def run_suite(scripts: list[Scenario], libraries: list[str] | None = None, *,
              outdir: Path | None = None, parallel: int = 3,
              baseline_path: Path | None = baselines.BASELINE_PATH,
              progress: Callable[[Library, CaseResult], None] | None = None
              ) -> dict[str, RunReport]:
    base = baselines.load(baseline_path) if baseline_path else None
    reports: dict[str, RunReport] = {}
    for name in libraries or list(LIBRARIES):
        lib = library(name)
        report = library_report(lib, scripts, parallel=parallel, baseline=base,
                                progress=progress)
        reports[name] = report
        if outdir is not None:
            write_report(report, outdir / name)
    return reports
