"""Teeth: mutants of gearmand behind the mutating proxy are each found against a clean gearmand.

A sample of the mutations in gearcheck/robustness/mutations.py, one of each
kind of defect (a dropped packet, a rewritten request, reordered packets, a
hang-up, swapped fields), each found within its 60 s budget with a fixed seed,
after a control run through the clean proxy that finds nothing. The whole
sweep is `gearcheck explore --mutants --server gearmand` (README: figures).
"""

from __future__ import annotations

import json
from pathlib import Path

from gearcheck.cli import main
from gearcheck.commands.explore import chosen_mutations, mutant_proxy
from gearcheck.explore.teeth import sweep
from gearcheck.robustness.mutations import MUTATIONS

SAMPLE = ["noop-dropped", "unique-ignored", "work-data-after-complete", "close-after-error",
          "status-swapped"]


def test_a_sample_of_mutants_is_each_found_within_a_minute(tmp_path: Path) -> None:
    result = sweep("gearmand", chosen_mutations(SAMPLE), mutant_proxy, seconds=60.0, seed=1,
                   out_dir=tmp_path, control_s=5.0)
    assert result["control"]["findings"] == 0, result["control"]
    assert result["control"]["steps"] > 200
    assert result["found"] == result["mutations"] == len(SAMPLE), result["not_found"]
    for row in result["per_mutation"]:
        assert row["seconds"] is not None and row["seconds"] < 60, row
        assert (row["signature"] and "invariant" not in row["signature"]) or \
            f"mutant-{row['mutation']}" in row["signature"], row
    saved = json.loads((tmp_path / "mutants.json").read_text())
    assert saved["found"] == len(SAMPLE)
    assert (tmp_path / "mutants.md").read_text().startswith(f"# explore teeth: {len(SAMPLE)}/")


def test_every_mutation_of_the_catalogue_can_be_chosen() -> None:
    assert [name for name, _ in chosen_mutations([])] == [m.name for m in MUTATIONS]


def test_the_mutant_sweep_refuses_what_it_cannot_do(tmp_path: Path, capsys: object) -> None:
    assert main(["explore", "--mutants", "--server", "127.0.0.1:1", "--out",
                 str(tmp_path)]) == 2
    assert main(["explore", "--mutants", "--server", "gearmand", "--mutation", "no-such",
                 "--out", str(tmp_path), "--seconds", "1"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "not HOST:PORT" in err and "unknown mutation(s) no-such" in err
