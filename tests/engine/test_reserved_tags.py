"""A scenario tag named like one of pytest's own markers must not reach pytest as that marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gearcheck.wire import Address

CASE = """id: GM-ECHO-{n}
title: tagged {tag}
level: MUST
source: test
tags: [{tag}]
actors: [client]
steps:
  - send: {{on: client, packet: ECHO_REQ, args: {{data: "t"}}}}
  - expect: {{on: client, packet: ECHO_RES, args: {{data: "t"}}}}
"""


def test_tags_named_timeout_or_skip_run_and_stay_selectable(
        tmp_path: Path, gearmand_address: Address) -> None:
    area = tmp_path / "conformance" / "echo"
    area.mkdir(parents=True)
    (area / "tags.yaml").write_text(
        CASE.format(n="811", tag="timeout") + "---\n" + CASE.format(n="812", tag="skip"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(tmp_path), str(tmp_path / "conformance"), "--server",
         str(gearmand_address), "--report-dir", str(tmp_path / "out"), "-k", "timeout"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "INTERNALERROR" not in out
    assert "1 passed, 1 deselected" in out
