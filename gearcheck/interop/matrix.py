"""The interop matrix: every client library x every worker library x each server.

Strategy: plan first, run second. ``plan`` lists the cells: each scenario
says which pairs it is for (``all``: every pair; ``star``: pairs where one
side is the hub library, php-gearman, or both sides are the same library;
or named pairs), so the core scenarios cover the whole square and the rest
a star, which keeps a full run to a few minutes. ``run_matrix`` starts each
server once, runs the cells of all servers in a small thread pool (each
cell is a handful of child processes, and cells never share function names
or unique ids), applies the baseline, and returns a ``MatrixResult``. A
server that cannot start turns its cells into ERROR, with the reason.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..results import CaseResult, Verdict
from ..targets import Target, TargetError
from . import baselines, servers
from .cell import case_id, run_cell
from .registry import LIBRARIES, Library, library
from .scenarios import InteropScenario

HUB = "php-gearman"
# cells that take longest go first so the pool ends together
_SLOW_FIRST = {"IOP-SEQ-001": 0, "IOP-CLASSIC-002": 1, "IOP-PRI-001": 2, "IOP-UNIQ-001": 3}


@dataclass(frozen=True)
class Cell:
    scenario: InteropScenario
    client: Library
    worker: Library
    server: str

    @property
    def id(self) -> str:
        return case_id(self.scenario, self.client.name, self.worker.name, self.server)


@dataclass
class MatrixResult:
    cells: list[tuple[Cell, CaseResult]]
    servers: dict[str, dict[str, object]]
    started_at: str
    duration_s: float
    baseline: str | None
    libraries: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for _, r in self.cells:
            out[r.verdict.value] += 1
        return out

    @property
    def failed(self) -> bool:
        return any(r.verdict.is_failure for _, r in self.cells)


def plan(scenarios: list[InteropScenario], clients: list[Library], workers: list[Library],
         server_names: list[str]) -> list[Cell]:
    cells = [Cell(s, c, w, srv) for srv in server_names for s in scenarios
             for c in clients for w in workers if s.applies_to(c.name, w.name, HUB)]
    cells.sort(key=lambda cell: _SLOW_FIRST.get(cell.scenario.id, 9))
    return cells


def run_matrix(scenarios: list[InteropScenario], *, clients: list[str] | None = None,
               workers: list[str] | None = None, server_names: list[str] | None = None,
               parallel: int = 3, log_dir: Path | None = None,
               baseline_path: Path | None = baselines.BASELINE_PATH,
               progress: Callable[[Cell, CaseResult], None] | None = None) -> MatrixResult:
    client_libs = [library(n) for n in (clients or list(LIBRARIES))]
    worker_libs = [library(n) for n in (workers or list(LIBRARIES))]
    names = list(server_names or servers.DEFAULT_SERVERS)
    cells = plan(scenarios, client_libs, worker_libs, names)
    base = baselines.load(baseline_path) if baseline_path else None
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="gearcheck-interop-"))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    results: list[tuple[Cell, CaseResult]] = []
    server_info: dict[str, dict[str, object]] = {}
    with ExitStack() as stack:
        targets: dict[str, Target] = {}
        problems: dict[str, str] = {}
        for name in names:
            try:
                target = servers.make(name, log_dir / name)
                stack.enter_context(target)
                targets[name] = target
                server_info[name] = {"address": str(target.address), **target.describe()}
            except (TargetError, ImportError, OSError) as exc:
                problems[name] = str(exc)
                server_info[name] = {"error": str(exc)}
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            futures = {}
            for cell in cells:
                if cell.server in problems:
                    r = CaseResult(case_id=cell.id, title=cell.scenario.title, area="interop",
                                   level="MUST", verdict=Verdict.ERROR,
                                   message=f"server {cell.server} could not start: "
                                           f"{problems[cell.server]}")
                    results.append((cell, r))
                    continue
                futures[pool.submit(run_cell, cell.scenario, cell.client, cell.worker,
                                    cell.server, targets[cell.server].address)] = cell
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # a harness bug: never blamed on a library
                    result = CaseResult(case_id=cell.id, title=cell.scenario.title,
                                        area="interop", level="MUST", verdict=Verdict.ERROR,
                                        message=f"harness error: {type(exc).__name__}: {exc}")
                if base is not None:
                    baselines.apply(result, base.matrix, {
                        "scenario": cell.scenario.id, "client": cell.client.name,
                        "worker": cell.worker.name, "server": cell.server})
                results.append((cell, result))
                if progress:
                    progress(cell, result)
    results.sort(key=lambda cr: (names.index(cr[0].server), cr[0].scenario.id,
                                 cr[0].client.name, cr[0].worker.name))
    return MatrixResult(results, server_info, started, round(time.monotonic() - t0, 2),
                        base.path if base else None,
                        sorted({lib.name for lib in client_libs + worker_libs}))
