"""The minimal reproducers of the README's chaos findings (fixtures/chaos/*.json) still
reproduce: each fails on the gearmand back end it was found on, the way the README says,
and the reference server passes the same plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from gearcheck import paths
from gearcheck.chaos.cells import CellSpec, play_cell
from gearcheck.chaos.plan import Plan

FINDINGS = [  # (plan, server, the failure kind the finding is)
    ("unique-64-bytes", "gearmand", "altered"),
    ("empty-payload-restart", "gearmand-sqlite", "crash"),
    ("empty-uniques-restart", "gearmand-sqlite", "lost"),
    ("hyphenated-function-restart", "gearmand-redis", "lost"),
    ("epoch-job", "gearmand-redis", "refused"),
]


def test_every_reproducer_loads_and_is_small() -> None:
    plans = sorted(paths.CHAOS_REPRODUCERS_DIR.glob("*.json"))
    assert len(plans) >= 10
    for path in plans:
        plan = Plan.load(path)
        assert plan.note and 1 <= len(plan.jobs) <= 3 and len(plan.faults) <= 1, path.name


def _play(name: str, server: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    plan = Plan.load(paths.CHAOS_REPRODUCERS_DIR / f"{name}.json")
    return play_cell(CellSpec(server, None, tuple(sorted({f.nemesis for f in plan.faults}))),
                     seed=plan.seed, seconds=plan.seconds, out_dir=tmp_path / server,
                     known=[], shrink_budget_s=0, finding_number=1, plan=plan)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "server", "kind"), FINDINGS)
def test_a_finding_still_reproduces_and_the_reference_server_holds(
        name: str, server: str, kind: str, tmp_path: Path) -> None:
    found = _play(name, server, tmp_path)
    assert found.judgement is not None and not found.error
    assert found.judgement.counts[kind] >= 1, found.judgement.failures
    reference = _play(name, "refserver-sqlite", tmp_path)
    assert reference.judgement is not None and not reference.judgement.failed, \
        reference.judgement.failures
