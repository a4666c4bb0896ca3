"""gearcheck faults against the reference server and gearmand, both with SQLite queues.

Counts are measured by the scenarios themselves; here they must show that no
acknowledged job was lost, none ran twice and none ran out of priority order,
and that the JSON report carries the figures for both servers.
"""

from __future__ import annotations

import json
from pathlib import Path

from gearcheck.cli import main


def test_faults_lose_no_job_on_either_server(tmp_path: Path) -> None:
    code = main(["faults", "--server", "refserver", "--server", "gearmand",
                 "--out", str(tmp_path / "run")])
    report = json.loads((tmp_path / "run" / "faults.json").read_text())
    assert set(report) == {"refserver", "gearmand"}
    for server, body in report.items():
        scenarios = {s["scenario"]: s for s in body["scenarios"]}
        assert set(scenarios) == {"server_restart", "worker_killed", "client_gone"}, server
        for name, s in scenarios.items():
            assert s["error"] == "", (server, name, s["error"])
            assert all(s["checks"].values()), (server, name, s["checks"])
            assert s["lost"] == 0 and s["duplicated"] == 0 and s["out_of_order"] == 0, \
                (server, name, s)
        restart = scenarios["server_restart"]
        assert restart["acknowledged"] >= 60  # every job acknowledged before the burst
        assert restart["recovered"] == restart["acknowledged"]
        killed = scenarios["worker_killed"]
        assert killed["recovered"] == killed["acknowledged"] == 2
        totals = body["totals"]
        assert totals["lost"] == 0
        assert totals["submitted"] >= totals["acknowledged"] >= totals["recovered"] > 0
    assert code == 0
