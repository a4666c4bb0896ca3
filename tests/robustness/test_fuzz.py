"""gearcheck fuzz against the real servers, and against a fragile one it must catch.

The reference server must come out of a bounded run with no finding; gearmand's
run must finish and account for every input; a server that dies on a bad magic
must be found, restarted, and its reproducer shrunk and saved.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from gearcheck.cli import main
from gearcheck.robustness.fuzz_run import FuzzRun
from gearcheck.targets import ProcessTarget

HERE = Path(__file__).parent


def _fuzz(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    code = main(["fuzz", *args, "--seed", "7", "--out", str(tmp_path / "run"),
                 "--no-progress", "--shrink-seconds", "20"])
    return code, json.loads((tmp_path / "run" / "summary.json").read_text())


@pytest.mark.slow
def test_reference_server_survives_fuzzing_without_finding(tmp_path: Path) -> None:
    code, summary = _fuzz(tmp_path, "--server", "refserver", "--seconds", "10")
    assert summary["findings"] == 0, summary["finding_details"]
    assert code == 0
    assert summary["inputs_tried"] >= 40
    families = set(summary["inputs_by_family"])  # type: ignore[arg-type]
    assert {"packet", "mutation", "dribble", "drop-mid-packet", "many-connections"} <= families
    sentinel = summary["sentinel"]
    assert sentinel["connection_count"] == "workers"  # type: ignore[index]
    # the server never grew by what a header declared (4 GiB sizes are in the mix)
    assert sentinel["peak_rss_kib"] - sentinel["baseline_rss_kib"] < 64 * 1024  # type: ignore[index,operator]


@pytest.mark.slow
def test_gearmand_fuzz_run_is_bounded_and_accounted(tmp_path: Path) -> None:
    code, summary = _fuzz(tmp_path, "--server", "gearmand", "--seconds", "10",
                          "--max-inputs", "400")
    assert 40 <= summary["inputs_tried"] <= 400  # type: ignore[operator]
    assert code == (1 if summary["findings"] else 0)
    for finding in summary["finding_details"]:  # type: ignore[attr-defined]
        assert all(Path(f).exists() for f in finding["files"])


class FragileTarget(ProcessTarget):
    """A real process that answers ECHO and exits on the first bad magic."""

    name = "fragile"

    def command(self, port: int) -> list[str]:
        return [sys.executable, str(HERE / "hostile_servers.py"), "fragile", "--port", str(port)]


@pytest.mark.slow
def test_fuzz_finds_shrinks_and_saves_a_crash(tmp_path: Path) -> None:
    target = FragileTarget(log_dir=tmp_path / "server")
    with target:
        summary = FuzzRun(None, target=target, out_dir=tmp_path / "run", seconds=6, seed=3,
                          max_inputs=300, deadline_s=2.0, shrink_seconds=25).run()
    assert summary.findings, "a server that dies on bad magic must be found"
    died = [f for f in summary.findings if f.kind == "died"]
    assert died and summary.restarts >= len(summary.findings)
    first = died[0]
    assert first.shrunk is not None
    smallest = first.shrunk.payload
    assert len(smallest) <= len(first.input.payload)
    assert len(smallest) <= 12, f"ddmin should cut a crash to one header, got {smallest.hex()}"
    hex_file, yaml_file = (Path(p) for p in first.files)
    assert bytes.fromhex(hex_file.read_text().strip()) == smallest
    doc = yaml.safe_load(yaml_file.read_text())
    assert doc["id"].startswith("GM-FUZZ-") and doc["level"] == "MUST"
    assert any(step.get("send", {}).get("raw") == smallest.hex() for step in doc["steps"])
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["findings"] == len(summary.findings)


def test_fuzz_refuses_non_loopback_addresses(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["fuzz", "--server", "192.0.2.10:4730", "--seconds", "1", "--out",
                 str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    assert "not a loopback address" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
