"""Soak: fill-and-drain cycles report RSS per cycle, whether memory came back, stuck jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearcheck.chaos.soak import soak
from gearcheck.cli import main


def test_fill_and_drain_cycles_measure_memory_and_leave_nothing_stuck(tmp_path: Path) -> None:
    result = soak("gearmand-sqlite", None, cycles=3, jobs=200, payload=256, out_dir=tmp_path)
    assert result.error == "" and result.backend == "sqlite"
    assert result.drained_per_cycle == [200, 200, 200] and result.stuck == 0
    assert len(result.rss_drained) == 3 and all(r and r > 1 << 20 for r in result.rss_drained)
    assert result.rss_baseline == result.rss_drained[0] and result.rss_end == result.rss_drained[-1]
    assert result.returned is not None and result.verdict in ("PASS", "FAIL")
    assert result.verdict == ("PASS" if result.returned else "FAIL")


def test_the_soak_command_writes_its_report(tmp_path: Path) -> None:
    code = main(["soak", "--server", "refserver-sqlite", "--cycles", "2", "--jobs", "100",
                 "--out", str(tmp_path / "s")])
    report = json.loads((tmp_path / "s" / "soak.json").read_text())
    assert report["server"] == "refserver-sqlite" and report["backend"] == "sqlite"
    assert report["stuck"] == 0 and report["refused"] == 0
    assert code == {"PASS": 0, "FAIL": 1}[report["verdict"]]


@pytest.mark.parametrize(("argv", "message"), [
    (["--server", "nginx"], "--server: unknown server 'nginx'"),
    (["--server", "gearmand", "--cycles", "1"], "--cycles must be in [2, 1000]"),
    (["--server", "127.0.0.1:4730"], "--server must name a registered server"),
])
def test_soak_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["soak", *argv])
    except SystemExit as exc:  # argparse's own errors: one line, exit 2 (CommandParser)
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
