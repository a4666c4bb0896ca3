"""The server matrix, run: the suite against every server in the registry, one after another.

Strategy: each registered server is one ``run_suite`` (the server started and
stopped by the run itself, its registered baseline applied, its reports in
``<out>/<name>/``; a TLS target brings its client settings, and a server that
crashes is restarted and each crash becomes a warning), made into a
``MatrixColumn``; a server that cannot be
started or run is a column with its error, not an aborted matrix. Then the
page (gearcheck.report.matrix_page) puts the columns side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ..report.matrix_page import MatrixColumn, MatrixPaths, write_matrix
from ..targets import ServerSpec
from .suite import SuiteSettings, run_suite


def run_server(spec: ServerSpec, settings: SuiteSettings, outdir: Path) -> MatrixColumn:
    """One server's column; never raises for the server."""
    server_dir = outdir / spec.name
    warnings = []
    if spec.baseline is not None and not spec.baseline.is_file():
        warnings.append(f"baseline {spec.baseline} (listed at {spec.where}) does not exist; "
                        "shown without it")
    jobs = settings.jobs if spec.jobs is None else spec.jobs
    outcome = run_suite(replace(settings, server=spec.name, report_dir=server_dir, jobs=jobs))
    warnings += outcome.warnings  # crashes: the server was restarted on its port each time
    if outcome.report is None:
        return MatrixColumn(spec.name, spec.title, spec.notes, warnings=warnings,
                            error=f"cannot run: {outcome.problem}".splitlines()[0])
    return MatrixColumn(spec.name, spec.title, spec.notes, outcome.report,
                        (server_dir / "report.html").relative_to(outdir).as_posix(),
                        warnings=warnings)


def run_matrix(specs: Iterable[ServerSpec], settings: SuiteSettings, outdir: Path | str,
               progress: Callable[[str], None] | None = None
               ) -> tuple[list[MatrixColumn], MatrixPaths]:
    outdir = Path(outdir)
    columns = []
    for spec in specs:
        started = time.monotonic()
        if progress:
            progress(f"{spec.name}: starting {spec.target}")
        column = run_server(spec, settings, outdir)
        columns.append(column)
        if progress:
            counts = column.report.counts() if column.report else {}
            brief = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
            progress(f"{spec.name}: {column.error or brief} "
                     f"({time.monotonic() - started:.1f} s)")
            for warning in column.warnings:
                progress(f"{spec.name}: warning: {warning}")
    return columns, write_matrix(columns, outdir)
