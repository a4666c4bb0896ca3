"""A run against someone's server leaves nothing behind, and says once what it could not undo."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gearcheck.engine.probe import CapabilityProfile
from gearcheck.results import CaseResult, Verdict
from gearcheck.runs import SuiteSettings, run_suite
from gearcheck.runs.residue import closing_lines, summarize
from gearcheck.targets import GearmandTarget, RefServerTarget
from gearcheck.wire import Address, Connection


def snapshot(address: Address) -> tuple[dict[str, str], int]:
    """The server's status rows (function -> counts) and how many connections it has."""
    with Connection.open(address, timeout=5) as conn:
        status = conn.admin("status")[:-1]
        workers = conn.admin("workers")[:-1]
    rows = dict(r.decode("utf-8", "replace").split("\t", 1) for r in status)
    return rows, len(workers)


def settled(address: Address, connections: int, within: float = 10.0
            ) -> tuple[dict[str, str], int]:
    """A snapshot once the server has let go of every connection but ours (or at the end)."""
    until = time.monotonic() + within
    while True:
        rows, count = snapshot(address)
        if count <= connections or time.monotonic() > until:
            return rows, count
        time.sleep(0.1)


def _case(case_id: str, cleanup: list[dict[str, object]]) -> CaseResult:
    return CaseResult(case_id, "t", "a", "MUST", Verdict.PASS, evidence={"cleanup": cleanup})


def test_the_summary_adds_up_and_names_what_is_left_with_its_reason(refserver) -> None:  # type: ignore[no-untyped-def]
    address = refserver.address
    stuck = "gc.rsum1.GM-A-002.stuck"
    with Connection.open(address, timeout=5) as conn:
        assert conn.admin(f"create function {stuck}") == [b"OK"]
    results = [
        _case("GM-A-001", [{"server": str(address), "drained": 2, "cancelled": 0, "dropped": 3,
                            "seconds": 0.01}]),
        _case("GM-A-002", [{"server": str(address), "drained": 0, "cancelled": 1, "dropped": 0,
                            "seconds": 0.02, "left": {stuck: "ERR it is busy"}}]),
        _case("GM-A-003", [{"server": str(address), "drained": 0, "cancelled": 0, "dropped": 0,
                            "seconds": 0.0, "error": "connection refused"}]),
    ]
    summary = summarize(results, run_id="rsum1", address=address, profile=None, enabled=True)
    try:
        assert (summary["cases"], summary["drained"], summary["cancelled"],
                summary["dropped"]) == (3, 2, 1, 3)
        assert summary["problems"] == [{"case": "GM-A-003", "error": "connection refused"}]
        assert summary["left"] == [{"function": stuck, "status": "0 0 0", "case": "GM-A-002",
                                    "reason": "the server refused `drop function`: ERR it is "
                                              "busy"}]
        lines = closing_lines(summary)
        assert lines[0].startswith("gearcheck: cleaned up after 3 cases: 2 job(s) drained")
        assert stuck in lines[1] and "GM-A-002" in lines[1]
    finally:
        with Connection.open(address, timeout=5) as conn:
            conn.admin(f"drop function {stuck}")
    no_drop = CapabilityProfile(str(address), 0.001, None, {
        "admin:drop function": {"supported": False, "evidence": "'drop function x' -> nothing"},
        "admin:status": {"supported": True, "evidence": "ok"}})
    with Connection.open(address, timeout=5) as conn:
        conn.admin(f"create function {stuck}")
    try:
        summary = summarize(results[:1], run_id="rsum1", address=address, profile=no_drop,
                            enabled=True)
    finally:
        with Connection.open(address, timeout=5) as conn:
            conn.admin(f"drop function {stuck}")
    assert "no `drop function`" in summary["cannot_forget"]
    assert summary["left"][0]["reason"] == "the server cannot forget functions"
    assert len([line for line in closing_lines(summary) if "drop function" in line]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", [GearmandTarget, RefServerTarget], ids=["gearmand", "refserver"])
def test_a_full_run_against_an_external_server_leaves_nothing_behind(
        tmp_path: Path, kind: type[GearmandTarget] | type[RefServerTarget]) -> None:
    """The whole suite, 16 cases at a time, against a fresh server given as HOST:PORT: its
    status lists what it listed before (plus what the report says it could not undo, with
    the reason), no job is queued, and every connection of the run is gone."""
    with kind(log_dir=tmp_path / "server") as server:
        address = server.address
        before, connections = snapshot(address)
        outcome = run_suite(SuiteSettings(server=str(address), jobs=16,
                                          report_dir=tmp_path / "report", quiet=True))
        assert outcome.report is not None, outcome.problem
        assert len(outcome.report.results) >= 330
        after, connections_after = settled(address, connections)
    cleanup = outcome.report.cleanup
    declared = {e["function"]: e for e in cleanup["left"]}
    assert cleanup["left_checked"] and not cleanup["problems"], cleanup
    assert set(after) - set(before) == set(declared)
    assert all(counts.split("\t")[0] == "0" for counts in after.values()), after  # no job
    assert connections_after == connections
    assert cleanup["dropped"] > 250 and cleanup["drained"] > 50 and cleanup["cancelled"] >= 7
    # Nothing is left on either: GM-WORKER-017, whose underflowing RUNNING counter left one
    # function on gearmand, runs on a server of its own (UNSUPPORTED against HOST:PORT).
    assert declared == {}
