"""A whole run against a managed gearmand leaves no process behind: the server under test,
every extra server the cases started (pooled, dedicated, restarted) and every helper."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def test_a_full_run_stops_every_server_it_started(tmp_path: Path,
        processes_mentioning: Callable[[str], list[str]]) -> None:
    scratch = tmp_path / "scratch"  # the run's temporary folders (extra servers' state) go here
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run([sys.executable, "-m", "gearcheck", "conformance", "--server",
                           "gearmand", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "restart" in (tmp_path / "run" / "report.json").read_text(), \
        "the run includes the cases that restart their own servers"
    assert processes_mentioning(str(scratch)) == []
    assert processes_mentioning(str(tmp_path / "run")) == []
