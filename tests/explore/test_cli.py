"""`gearcheck explore` as users meet it: bad input, progress off a terminal, every server.

Bad input is one line naming what is wrong and exit 2; a run shows a plain
progress line off a terminal; one server alone is explored for its invariants;
every server in fixtures/servers.yaml (the ones other work adds too) can be
explored against the reference server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearcheck.cli import main
from gearcheck.targets import load_registry


@pytest.mark.parametrize(("args", "words"), [
    ([], "--server is required"),
    (["--server", "refserver", "--seconds", "0"], "--seconds: '0' is not a positive"),
    (["--server", "refserver", "--max-findings", "-1"], "--max-findings: '-1' is negative"),
    (["--server", "nosuchserver"], "--server: unknown server 'nosuchserver'"),
    (["--server", "refserver", "--known", "/nonexistent/known.yaml"],
     "--known: no such file: /nonexistent/known.yaml"),
    (["--server", "refserver", "--as", "gearmand"], "--as names the implementation"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", *args, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and "Traceback" not in err, err


def test_a_malformed_known_file_names_its_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "known.yaml"
    bad.write_text("known_divergences:\n  - id: KD-X-001\n    servers: [refserver]\n"
                   "    signature: '['\n    see: [GM-ADMIN-017]\n    reason: a b c d\n")
    assert main(["explore", "--server", "refserver", "--known", str(bad)]) == 2
    assert f"{bad}:4:" in capsys.readouterr().err


def test_an_unreachable_server_could_not_be_explored(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--server", "127.0.0.1:1", "--out", str(tmp_path),
                 "--no-progress"]) == 2
    assert "cannot explore" in capsys.readouterr().err


def test_one_server_alone_with_a_progress_line_off_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--server", "refserver", "--seconds", "20", "--max-sequences", "5",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert code == 0 and summary["sequences"] == 5 and summary["findings"]["new"] == 0
    assert "explore: 5/5 sequences (5 clean) after" in err, err
    assert (tmp_path / "run" / "summary.md").read_text().startswith("# gearcheck explore")


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in load_registry()])
def test_every_registered_server_can_be_explored_against_the_reference(
        name: str, tmp_path: Path) -> None:
    code = main(["explore", "--server", "refserver", "--server", name, "--seconds", "20",
                 "--max-sequences", "3", "--shrink-seconds", "5", "--no-verify",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert code in (0, 1) and summary["sequences"] == 3
    assert summary["steps"] > 0


def test_replay_runs_a_stored_sequence_again(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    stored = tmp_path / "finding-001.json"
    stored.write_text(json.dumps({"operations": [
        {"id": 0, "kind": "submit", "actor": "c1", "packet": "SUBMIT_JOB", "fn": "f1",
         "unique": "u1"},
        {"id": 1, "kind": "admin", "actor": "adm", "text": "cancel job {job}", "job": 0},
        {"id": 2, "kind": "admin", "actor": "adm", "text": "cancel job {job}", "job": 0}]}))
    common = ["--replay", str(stored), "--out", str(tmp_path / "r")]
    assert main(["explore", "--server", "refserver", *common]) == 0
    assert "no finding: the 3 operations ran alike" in capsys.readouterr().out
    assert main(["explore", "--server", "gearmand", *common]) == 1
    assert "finding at operation 3: admin cancel job -> invariant foreground-completes-once" \
        in capsys.readouterr().out
    stored.write_text("{}")
    assert main(["explore", "--server", "refserver", *common]) == 2


def test_a_running_server_named_by_its_implementation_gets_its_known_divergences(
        tmp_path: Path, gearmand, refserver) -> None:  # type: ignore[no-untyped-def]
    code = main(["explore", "--server", str(refserver.address), "--server",
                 str(gearmand.address), "--as", "refserver", "--as", "gearmand",
                 "--seconds", "20", "--max-sequences", "25", "--seed", "11",
                 "--shrink-seconds", "8", "--out", str(tmp_path / "run"), "--no-progress"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [s["name"] for s in summary["servers"]] == ["refserver", "gearmand-1.1.20"]
    assert summary["findings"]["known"] >= 1 and summary["findings"]["new"] == 0
    assert code == 0
    assert main(["explore", "--server", "gearmand", "--as", "refserver",
                 "--out", str(tmp_path / "x")]) == 2
