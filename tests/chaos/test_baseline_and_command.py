"""The chaos baseline (known defects with reasons) and the gearcheck chaos command's
contract: one clear line and exit 2 for bad input, a report with a timeline per
cell, and exit 0 when nothing failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearcheck.chaos.baseline import (
    DEFAULT_BASELINE,
    BaselineError,
    judge_cell,
    load_baseline,
)
from gearcheck.cli import main

ENTRY = """known:
  - server: [gearmand-redis, gearmand]
    nemesis: kill
    kinds: [lost]
    match: "function '[^']*-"
    reason: hyphenated names are split on replay
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chaos.yaml"
    path.write_text(text)
    return path


def test_the_shipped_baseline_loads_and_every_entry_has_a_reason() -> None:
    known = load_baseline(DEFAULT_BASELINE)
    assert known and all(k.reason for k in known)


def test_a_cell_is_xfail_only_when_every_failure_is_explained(tmp_path: Path) -> None:
    known = load_baseline(_write(tmp_path, ENTRY))
    hyphen = {"kind": "lost", "detail": "j1 (background, function 'a-b', unique 'u') ..."}
    other = {"kind": "lost", "detail": "j2 (background, function 'plain', unique 'u') ..."}
    gate = judge_cell(known, server="gearmand-redis", backend="redis", nemesis="kill",
                      failures=[hyphen])
    assert gate.outcome == "XFAIL" and gate.reasons == ("hyphenated names are split on replay",)
    assert judge_cell(known, server="gearmand-redis", backend="redis", nemesis="kill",
                      failures=[hyphen, other]).outcome == "FAIL"
    assert judge_cell(known, server="gearmand-redis", backend="redis", nemesis="pause",
                      failures=[hyphen]).outcome == "FAIL", "another nemesis is not covered"
    assert judge_cell(known, server="gearmand-redis", backend="redis", nemesis="kill",
                      failures=[]).outcome == "XPASS"
    flaky = load_baseline(_write(tmp_path, ENTRY + "    flaky: true\n"))
    assert judge_cell(flaky, server="gearmand", backend=None, nemesis="kill",
                      failures=[]).outcome == "PASS"
    assert judge_cell(known, server="refserver", backend=None, nemesis="kill", failures=[],
                      error="a database would not start").outcome == "ERROR"


@pytest.mark.parametrize(("text", "message"), [
    ("known:\n  - server: x\n    kinds: [lost]\n", r"chaos\.yaml:2: every known defect needs"),
    ("known:\n  - server: x\n    kinds: [gone]\n    reason: r\n",
     r"chaos\.yaml:3: 'kinds' must list failure kinds"),
    ("known:\n  - server: x\n    kinds: [lost]\n    reason: r\n    nemesis: nuke\n",
     r"chaos\.yaml:5: 'nemesis' must be one or a list"),
    ("known:\n  - server: x\n    kinds: [lost]\n    reason: r\n    match: '('\n",
     r"chaos\.yaml:5: 'match' is not a regular expression"),
    ("known:\n  - server: x\n    kinds: [lost]\n    reason: r\n    colour: red\n",
     r"chaos\.yaml:5: unknown key 'colour'"),
    ("known: [\n", r"chaos\.yaml:2: not valid YAML"),
])
def test_baseline_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        load_baseline(_write(tmp_path, text))


@pytest.mark.parametrize(("argv", "message"), [
    (["--server", "nginx"], "--server: unknown server 'nginx'"),
    (["--server", "refserver", "--seconds", "0"], "'0' is not a positive number of seconds"),
    (["--server", "refserver", "--seconds", "4000"], "--seconds must be at most 3600"),
    (["--matrix", "--backend", "redis"], "--backend is for one cell"),
    (["--matrix", "--only", "nothing-like-this"], "matches no cell of the matrix"),
    (["--server", "refserver", "--replay", "/nonexistent/plan.json"], "no such file"),
    (["--server", "refserver", "--replay", "README.md"], "not a chaos plan"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    try:
        code = main(["chaos", *argv, "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse's own errors: one line, exit 2 (CommandParser)
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_one_cell_writes_history_report_and_timeline(tmp_path: Path) -> None:
    code = main(["chaos", "--server", "refserver-sqlite", "--nemesis", "kill",
                 "--nemesis", "worker-kill", "--seconds", "2", "--seed", "4",
                 "--out", str(tmp_path / "one")])
    report = json.loads((tmp_path / "one" / "chaos.json").read_text())
    [cell] = report["cells"]
    assert cell["server"] == "refserver-sqlite" and cell["nemesis"] == "kill+worker-kill"
    assert cell["backend"] == "sqlite" and cell["seed"] == 4
    assert cell["submitted"] > 20 and cell["lost"] == 0 and cell["duplicated"] == 0
    assert cell["gate"] == "PASS" and code == 0
    assert (tmp_path / "one" / cell["history"]).exists()
    assert (tmp_path / "one" / cell["plot"]).read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "one" / "index.html").read_text()
    assert "refserver-sqlite--kill+worker-kill" in page and "timeline.png" in page
