"""gearcheck mutants: the clean proxy is transparent, and the suite kills every mutant.

Quick: a few mutations against gearmand with every GM-MUT case, each mutant's
full list of catching cases recorded. Full: every mutation against the
reference server with the whole conformance suite, moving on at each mutant's
first catching case so the run stays within the test budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearcheck.cli import main
from gearcheck.robustness.mutations import MUTATIONS

ROOT = Path(__file__).resolve().parents[2]


def _report(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "run" / "mutants.json").read_text())


@pytest.mark.slow
def test_some_mutants_against_gearmand_are_each_caught(tmp_path: Path) -> None:
    chosen = ["echo-altered", "priority-flattened", "unique-ignored", "no-job-dropped"]
    code = main(["mutants", "--server", "gearmand", str(ROOT / "conformance/mutants"),
                 *(a for m in chosen for a in ("--mutation", m)),
                 "--out", str(tmp_path / "run")])
    report = _report(tmp_path)
    assert report["clean_proxy"]["differences_from_direct"] == {}
    per = {m["mutant"]: m for m in report["per_mutant"]}
    assert set(per) == set(chosen)
    assert "GM-MUT-001" in per["echo-altered"]["caught_by"]
    assert {"GM-MUT-014", "GM-MUT-015"} <= set(per["priority-flattened"]["caught_by"])
    assert "GM-MUT-020" in per["unique-ignored"]["caught_by"]
    assert "GM-MUT-003" in per["no-job-dropped"]["caught_by"]
    assert report["score"] == 1.0 and code == 0
    assert (tmp_path / "run" / "mutants.md").read_text().startswith("# Mutation score: 4/4")


@pytest.mark.slow
def test_whole_suite_kills_every_mutant_of_the_reference_server(tmp_path: Path) -> None:
    code = main(["mutants", "--server", "refserver", str(ROOT / "conformance"),
                 "--stop-at-first", "--out", str(tmp_path / "run")])
    report = _report(tmp_path)
    assert report["cases"] >= 14
    clean = report["clean_proxy"]
    assert clean["differences_from_direct"] == {}, clean["differences_from_direct"]
    assert clean["verdicts"].get("FAIL", 0) == 0, clean["verdicts"]
    assert report["mutants"] == len(MUTATIONS) >= 20
    assert report["survived"] == [], report["survived"]
    assert all(m["caught_by"] or m["errored"] for m in report["per_mutant"])
    assert code == 0
