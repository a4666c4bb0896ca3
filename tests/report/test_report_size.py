"""report.html stays readable against a long-lived server: small, with every byte in report.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gearcheck.protocol import Packet, PacketType, encode
from gearcheck.runs import SuiteSettings, run_suite
from gearcheck.targets import open_target
from gearcheck.wire import Connection

FUNCTIONS = 10_000


@pytest.mark.slow
def test_a_server_with_ten_thousand_functions_gives_a_page_under_2_mb(tmp_path: Path) -> None:
    with open_target("gearmand", log_dir=tmp_path / "gearmand") as gearmand, \
            Connection.open(gearmand.address, timeout=10) as worker:
        worker.send_raw(b"".join(encode(Packet.build(PacketType.CAN_DO, f"old-{i:05d}"))
                                 for i in range(FUNCTIONS)))
        deadline = time.monotonic() + 30
        while len(worker.admin("status", timeout=10)) < FUNCTIONS:
            assert time.monotonic() < deadline, "gearmand did not list the functions"
            time.sleep(0.2)
        outcome = run_suite(SuiteSettings(server=str(gearmand.address),
                                          implementation="gearmand", jobs=16, quiet=True,
                                          report_dir=tmp_path / "run"))
    assert outcome.report is not None, outcome.problem
    html = (tmp_path / "run" / "report.html").stat().st_size
    assert html < 2 * 1024 * 1024, f"report.html is {html / 1e6:.1f} MB"
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    longest = max(len(r["transcript"]) for r in data["results"])
    assert longest > FUNCTIONS  # a status reply, every row of it, in report.json
    page = (tmp_path / "run" / "report.html").read_text()
    assert "entries not shown here; report.json has all" in page
