"""SIGTERM (a cancelled CI job) stops a run cleanly: servers stopped, exit 2, a partial report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def test_sigterm_stops_the_servers_and_exits_2(tmp_path: Path,
        processes_mentioning: Callable[[str], list[str]]) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gearcheck", "conformance", "--server",
                             "gearmand", "--jobs", "1", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    # gearmand itself (its argv starts with its binary), not this command, whose
    # arguments name gearmand too
    while not any(p.split(" ", 1)[0].endswith("gearmand")
                  for p in processes_mentioning(str(out))):
        assert time.monotonic() < deadline and proc.poll() is None, "gearmand never started"
        time.sleep(0.1)
    time.sleep(3.0)  # the probe, and some cases
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2, output
    assert processes_mentioning(str(out)) == []
    if "interrupted before any case ended" in output:  # a slow machine: still in the probe
        assert not (out / "report.json").exists()
        return
    assert "interrupted after" in output, output
    report = json.loads((out / "report.json").read_text())
    assert 0 < len(report["results"]) < 300
