"""The pytest plugin end to end: pytest in a subprocess on a temp scenario folder vs gearmand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gearcheck.wire import Address

GOOD = """id: GM-ECHO-{n}
title: echo {n}
level: {level}
source: test
tags: [plugtest]
actors: [client]
steps:
  - send: {{on: client, packet: ECHO_REQ, args: {{data: "{data}"}}}}
  - expect: {{on: client, packet: ECHO_RES, args: {{data: "{want}"}}}}
"""


def _suite(tmp_path: Path) -> Path:
    root = tmp_path / "conformance" / "echo"
    root.mkdir(parents=True)
    (root / "good.yaml").write_text(
        GOOD.format(n="801", level="MUST", data="a", want="a") + "---\n"
        + GOOD.format(n="802", level="SHOULD", data="b", want="b"))
    (root / "failing.yaml").write_text(GOOD.format(n="803", level="MUST", data="c", want="z"))
    (root / "broken.yaml").write_text("id: GM-ECHO-804\ntitle: broken\nlevel: MUST\nsource: s\n"
                                      "steps:\n  - send: {on: nobody, packet: GRAB_JOB}\n")
    (root / "unsupported.yaml").write_text(
        GOOD.format(n="805", level="MUST", data="d", want="d").replace(
            "actors:", "requires: [packet:SUBMIT_JOB_SCHED]\nactors:"))
    return tmp_path / "conformance"


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-o", "addopts=", "--rootdir", str(tmp_path), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_plugin_collects_runs_and_reports(tmp_path: Path, gearmand_address: Address) -> None:
    suite = _suite(tmp_path)
    report_dir = tmp_path / "out"
    proc = _pytest(tmp_path, str(suite), "--server", str(gearmand_address),
                   "--report-dir", str(report_dir), "-n", "2", "-rA")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "2 passed" in out and "1 failed" in out and "1 skipped" in out and "1 error" in out
    assert "broken.yaml:6: steps[0].send.on: actor 'nobody' is never connected" in out
    report = json.loads((report_dir / "report.json").read_text())
    verdicts = {r["case_id"]: r["verdict"] for r in report["results"]}
    assert verdicts["GM-ECHO-801"] == verdicts["GM-ECHO-802"] == "PASS"
    assert verdicts["GM-ECHO-803"] == "FAIL" and verdicts["GM-ECHO-805"] == "UNSUPPORTED"
    assert any(v == "ERROR" for k, v in verdicts.items() if k.startswith("LOAD-ERROR"))
    assert report["server"]["version"].startswith("1.1.20")
    assert report["server"]["capabilities"]["packet:ECHO_REQ"]["supported"] is True
    failing = next(r for r in report["results"] if r["case_id"] == "GM-ECHO-803")
    assert failing["failure_kind"] == "MISMATCH" and failing["transcript"]
    assert not (report_dir / ".parts").exists()


def test_plugin_selection_and_markers(tmp_path: Path, gearmand_address: Address) -> None:
    suite = _suite(tmp_path)
    proc = _pytest(tmp_path, str(suite), "--server", str(gearmand_address),
                   "--report-dir", str(tmp_path / "out"), "-m", "should", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    proc = _pytest(tmp_path, str(suite), "--server", str(gearmand_address),
                   "--report-dir", str(tmp_path / "out2"), "-k", "GM-ECHO-801 or GM-ECHO-803")
    assert "1 passed" in proc.stdout and "1 failed" in proc.stdout, proc.stdout


def test_plugin_without_server_is_an_error_not_a_crash(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    proc = _pytest(tmp_path, str(suite / "echo" / "good.yaml"))
    assert proc.returncode == 1, proc.stdout
    assert "no server to test: pass --server HOST:PORT" in proc.stdout
    assert "2 errors" in proc.stdout
