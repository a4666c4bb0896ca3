"""Locust's statistics after log_requests, checked in a child process.

The checks live in locust_stats_checks.py and run there because importing Locust
monkey-patches the whole process with gevent; the pytest process stays unpatched.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKS = Path(__file__).with_name("locust_stats_checks.py")


def test_grouped_logging_matches_locusts_own_statistics() -> None:
    done = subprocess.run([sys.executable, str(CHECKS)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "locust stats checks passed" in done.stdout
