"""The harness against hostile servers: every case ends FAIL or ERROR, in bounded time and memory.

Each hostile server (see hostile_servers.py) is a real TCP listener on a free
loopback port. Real conformance cases run against it through the engine; the
run must finish, every verdict must be FAIL or ERROR within the case's
deadline (plus grace and a margin for a loaded machine), the report writers
must produce their files, and tracemalloc must show that nothing near a
declared size (32 MiB, 4 GiB) was ever allocated.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from gearcheck.engine.loader import find_files, load_file
from gearcheck.engine.runner import run_case
from gearcheck.engine.timing import Timing
from gearcheck.report.writers import write_all
from gearcheck.results import RunReport, ServerInfo, Verdict
from gearcheck.wire import Address

from .hostile_servers import ALL_KINDS, HostileServer

ROOT = Path(__file__).resolve().parents[2]
CASE_IDS = ("GM-MUT-001", "GM-MUT-003", "GM-MUT-010", "GM-MUT-023")
TIMING = Timing(default_timeout_s=1.0, grace_factor=0.5)


def _cases():  # type: ignore[no-untyped-def]
    cases = []
    for path in find_files([ROOT / "conformance" / "mutants"]):
        found, errors = load_file(path)
        assert not errors, errors
        cases += [c for c in found if c.id in CASE_IDS]
    assert len(cases) == len(CASE_IDS)
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_cases_against_a_hostile_server_end_in_fail_or_error(kind: str, tmp_path: Path) -> None:
    cases = _cases()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with HostileServer(kind) as server:
            address = Address.parse(server.address)
            results = []
            for case in cases:
                t0 = time.monotonic()
                result = run_case(case, address, run_id=f"hostile-{kind}", timing=TIMING)
                took = time.monotonic() - t0
                # the case's own waits: at most one deadline plus grace per step, with slack
                bound = len(case.steps) * TIMING.deadline() * (1 + TIMING.grace_factor) + 5
                assert took < bound, f"{case.id} against {kind} took {took:.1f}s"
                results.append(result)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for r in results:
        assert r.verdict in (Verdict.FAIL, Verdict.ERROR), (kind, r.case_id, r.verdict, r.message)
        assert r.message
    assert peak < 16 * 1024 * 1024, f"peak traced allocation {peak} bytes against {kind}"
    report = RunReport(server=ServerInfo(address=server.address, name=f"hostile-{kind}"),
                       results=results, duration_s=time.monotonic() - started)
    paths = write_all(report, tmp_path / "report")
    assert paths.json.exists() and paths.junit.exists() and paths.html.exists()
    saved = json.loads(paths.json.read_text())
    assert saved["counts"]["PASS"] == 0
    assert saved["counts"]["FAIL"] + saved["counts"]["ERROR"] == len(CASE_IDS)
