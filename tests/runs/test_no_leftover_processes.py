"""A whole run against a managed gearmand leaves no process behind: the server under test,
every extra server the cases started (pooled, dedicated, restarted) and every helper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(argv)
    return found


def test_a_full_run_stops_every_server_it_started(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"  # the run's temporary folders (extra servers' state) go here
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run([sys.executable, "-m", "gearcheck", "conformance", "--server",
                           "gearmand", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "restart" in (tmp_path / "run" / "report.json").read_text(), \
        "the run includes the cases that restart their own servers"
    assert _processes_mentioning(str(scratch)) == []
    assert _processes_mentioning(str(tmp_path / "run")) == []
