"""explore against the real servers: known divergences only, no false alarms, findings as cases.

The reference server against gearmand finds only divergences the known file
explains (seeded, so the run is the same every time). Two copies of one
implementation never diverge. With the known file emptied, the same pair's
findings come out as YAML cases that the engine's loader takes and that pass
on the server they were written from and fail on the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from gearcheck.cli import main
from gearcheck.engine.loader import load_file
from gearcheck.explore.known import load_known
from gearcheck.explore.run import Explorer, ExploreSettings, Server, Summary
from gearcheck.targets import ProcessTarget

MakeServer = Callable[[ProcessTarget, str, str], Server]


def _explore(servers: list[Server], tmp_path: Path, **settings: object) -> Summary:
    options: dict[str, object] = {"seconds": 30.0, "seed": 11, "out_dir": tmp_path / "run",
                                  "shrink_seconds": 8.0}
    options.update(settings)
    return Explorer(servers, ExploreSettings(**options), load_known()).run()  # type: ignore[arg-type]


def test_refserver_against_gearmand_finds_only_known_divergences(
        tmp_path: Path, refserver: ProcessTarget, gearmand: ProcessTarget,
        explore_server: MakeServer) -> None:
    summary = _explore([explore_server(refserver, "refserver", "refserver"),
                        explore_server(gearmand, "gearmand-1.1.20", "gearmand-1.1.20")],
                       tmp_path, max_sequences=40)
    new = [f.signature for f in summary.findings if f.status != "known"]
    assert new == [], new
    assert summary.count("known") >= 3 and summary.sequences == 40
    assert {"KD-REFGM-003", "KD-REFGM-004"} & set(summary.known_hits)
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["findings"]["new"] == 0 and saved["steps"] == summary.steps > 300


@pytest.mark.parametrize("pair", ["gearmand", "refserver"])
def test_two_copies_of_one_server_never_diverge(pair: str, tmp_path: Path,
                                                request: pytest.FixtureRequest,
                                                explore_server: MakeServer) -> None:
    first, second = request.getfixturevalue(pair), request.getfixturevalue(f"{pair}2")
    name = "gearmand-1.1.20" if pair == "gearmand" else "refserver"
    summary = _explore([explore_server(first, name, name),
                        explore_server(second, f"{name}#2", name)], tmp_path, seconds=8.0,
                       seed=21)
    assert [f for f in summary.findings if f.kind == "divergence"] == []
    assert summary.count("new") == summary.count("unconfirmed") == 0, \
        [f.signature for f in summary.findings]
    assert summary.steps > 300


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["gearmand", "refserver"])
def test_a_long_run_of_two_copies_gives_no_false_alarm(pair: str, tmp_path: Path,
                                                       request: pytest.FixtureRequest,
                                                       explore_server: MakeServer) -> None:
    first, second = request.getfixturevalue(pair), request.getfixturevalue(f"{pair}2")
    name = "gearmand-1.1.20" if pair == "gearmand" else "refserver"
    summary = _explore([explore_server(first, name, name),
                        explore_server(second, f"{name}#2", name)], tmp_path, seconds=60.0,
                       seed=22)
    assert summary.count("new") == summary.count("unconfirmed") == 0, \
        [f.signature for f in summary.findings]
    assert summary.steps > 3000


def test_new_findings_are_cases_the_engine_loads_and_judges(
        tmp_path: Path, refserver: ProcessTarget, gearmand: ProcessTarget,
        explore_server: MakeServer) -> None:
    empty = tmp_path / "known.yaml"
    empty.write_text("known_divergences: []\n")
    code = main(["explore", "--server", f"{refserver.address}", "--server",
                 f"{gearmand.address}", "--seconds", "30", "--max-sequences", "12",
                 "--seed", "11", "--max-findings", "2", "--shrink-seconds", "8",
                 "--known", str(empty), "--out", str(tmp_path / "run"),
                 "--no-progress"])
    assert code == 1
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    written = [f for f in summary["finding_details"] if f["case_file"]]
    assert written, summary["finding_details"]
    for finding in written:
        case = Path(finding["case_file"])
        assert case.parent == tmp_path / "run" / "cases"
        scenarios, errors = load_file(case)
        assert errors == [] and len(scenarios) == 1
        doc = yaml.safe_load(case.read_text())
        assert doc["id"].startswith("GM-EXPLORE-") and doc["level"] == "OBSERVED"
        notes = [s["note"] for s in doc["steps"] if "note" in s]
        assert len(notes) == 1 and "HERE THE SERVERS DIFFER" in notes[0]
        assert finding["shrunk_ops"] <= finding["original_ops"]
        expected, other = str(refserver.address), str(gearmand.address)
        assert finding["expected_server"] == expected
        assert finding["engine"] == {expected: "PASS", other: "FAIL"}, finding
        sequence = json.loads(Path(finding["sequence_file"]).read_text())
        assert len(sequence["operations"]) == finding["shrunk_ops"]
