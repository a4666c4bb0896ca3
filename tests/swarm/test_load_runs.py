"""Real headless Locust runs against the session's gearmand.

Each test writes a small profile with its own function names, runs
``run_load`` (Locust as a subprocess, as ``gearcheck load`` does) and checks
summary.json, cross-checking job counts against the server's admin ``status``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gearcheck.protocol import parse_status
from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget, free_port
from gearcheck.wire import Connection

MIXED = """\
name: mixed
duration: 3s
users: 3
drain_timeout: 15s
clients:
  - name: fg
    weight: 2
    functions: [{served}]
    background: 0.2
    priorities: {{high: 1, normal: 1, low: 1}}
    in_flight: 4
  - name: parked
    weight: 1
    functions: [{parked}]
    background: 1.0
    unique: {{policy: pool, pool_size: 40}}
    in_flight: 8
workers:
  - name: w
    count: 3
    functions: [{served}]
    faults: {{drop: {drop}, duplicate: {duplicate}}}
thresholds:
  latency:
    - {{metric: result, p: 50, max: {p50}}}
  max_lost: 0
  max_duplicated: 0
"""


def _status(gearmand: GearmandTarget) -> dict[str, tuple[int, int, int]]:
    with Connection.open(gearmand.address, timeout=5) as conn:
        return {k: (v.total, v.running, v.workers)
                for k, v in parse_status(conn.admin("status")).items()}


def _run(tmp_path: Path, profile: Path, server: str, **kw: object):  # type: ignore[no-untyped-def]
    return run_load(profile, server=server, out_root=tmp_path / "reports", run_name="run",
                    quiet=True, **kw)  # type: ignore[arg-type]


@pytest.mark.slow
def test_headless_run_counts_match_the_server(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    served, parked = f"{fn}s", f"{fn}p"
    profile = write_profile(MIXED.format(served=served, parked=parked, drop=0, duplicate=0,
                                         p50="10s"))
    result = _run(tmp_path, profile, str(gearmand.address))
    assert result.exit_code == 0, result.problems
    s = result.summary
    assert s is not None
    for name in ("summary.json", "locust.html", "locust_stats.csv", "throughput.png",
                 "latency.png", "queue.png"):
        assert (result.run_dir / name).stat().st_size > 0, name
    inv = s["invariants"]
    bg, fg = inv["background"], inv["foreground"]
    status = _status(gearmand)
    # Nobody serves `parked`: every distinct background job is still on the server's queue.
    parked_jobs = status[parked][0]
    assert parked_jobs > 0
    assert bg["still_queued_on_server"] >= parked_jobs
    assert s["server_status"]["queued_at_end"] == parked_jobs
    # `served` was drained: nothing left, and what the workers ran is what was created.
    assert status.get(served, (0, 0, 0))[:2] == (0, 0)
    assert bg["coalesced_submissions"] > 0  # the pool of 40 uniques made the server coalesce
    assert bg["jobs"] == bg["executed_once"] + bg["not_executed"]
    assert bg["not_executed"] == parked_jobs
    assert fg["submissions"] > 0 and fg["results"] == fg["submissions"]
    assert inv["workers"]["executions"] == fg["submissions"] + bg["executed_once"]
    assert inv["lost"] == 0 and inv["duplicated"] == 0
    assert s["counts"]["submitted"] == bg["submissions"] + fg["submissions"]
    # HDR percentiles in microseconds, broken down by function, priority and fg/bg.
    names = set(s["latency"]["result"]["by_name"])
    assert {f"{served} high fg", f"{served} low fg", f"{served} normal fg"} <= names
    assert f"{parked} normal bg" in s["latency"]["created"]["by_name"]
    res = s["latency"]["result"]["all"]
    assert res["count"] == fg["results"]
    assert res["min_us"] <= res["p50_us"] <= res["p99_us"] <= res["max_us"]
    assert s["server_status"]["max_queued"] >= parked_jobs
    assert s["passed"] is True
    # Locust's own figures (logged per group of replies, not per job) count every job.
    with open(result.run_dir / "locust_stats.csv", newline="") as f:
        per_type: Counter[str] = Counter()
        for row in csv.DictReader(f):
            if row["Name"] != "Aggregated":
                per_type[row["Type"]] += int(row["Request Count"])
    assert per_type["SUBMIT"] == s["counts"]["created"] == bg["submissions"] + fg["submissions"]
    assert per_type["JOB"] == fg["results"]
    assert per_type["WORK"] == inv["workers"]["executions"]


@pytest.mark.slow
def test_threshold_too_tight_exits_1(gearmand: GearmandTarget, tmp_path: Path,
                                     write_profile: Callable[[str], Path], fn: str) -> None:
    profile = write_profile(MIXED.format(served=f"{fn}s", parked=f"{fn}p", drop=0,
                                         duplicate=0, p50="1us").replace("3s", "2s"))
    result = _run(tmp_path, profile, str(gearmand.address))
    assert result.exit_code == 1
    assert result.summary is not None
    (row,) = [r for r in result.summary["thresholds"] if r["threshold"].startswith("result p50")]
    assert row["passed"] is False and row["actual_us"] > 1


@pytest.mark.slow
def test_injected_lost_and_duplicated_jobs_are_caught(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    text = MIXED.format(served=f"{fn}s", parked=f"{fn}p", drop=0.05, duplicate=0.05,
                        p50="10s").replace("background: 0.2", "background: 1.0")
    result = _run(tmp_path, write_profile(text), str(gearmand.address))
    assert result.exit_code == 1
    s = result.summary
    assert s is not None
    inv = s["invariants"]
    dropped = inv["workers"]["dropped_on_purpose"]
    assert dropped > 0 and inv["background"]["lost"] == dropped
    assert inv["duplicated"] == inv["workers"]["duplicated_on_purpose"] > 0
    failed = {r["threshold"] for r in s["thresholds"] if not r["passed"]}
    assert {"lost jobs <= 0", "duplicated jobs <= 0"} <= failed


def test_unreachable_server_exits_2(tmp_path: Path) -> None:
    profile = Path(__file__).resolve().parents[2] / "load/profiles/steady-foreground.yaml"
    result = _run(tmp_path, profile, f"127.0.0.1:{free_port()}")
    assert result.exit_code == 2
    assert "did not answer" in result.problems[0]


def test_invalid_profile_exits_2(tmp_path: Path, write_profile: Callable[[str], Path]) -> None:
    result = _run(tmp_path, write_profile("name: x\nclients: []\n"), "127.0.0.1:1")
    assert result.exit_code == 2
    assert result.problems[0].startswith(str(tmp_path / "profile.yaml") + ":2: clients:")


@pytest.mark.slow
def test_distributed_master_and_two_workers_merge(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    text = MIXED.format(served=f"{fn}s", parked=f"{fn}p", drop=0, duplicate=0, p50="10s")
    result = _run(tmp_path, write_profile(text), str(gearmand.address), workers=2)
    assert result.exit_code == 0, result.problems
    s = result.summary
    assert s is not None
    assert len(s["processes_reporting"]) == 2 and s["locust"]["processes"] == 2
    inv = s["invariants"]
    fg, bg = inv["foreground"], inv["background"]
    assert fg["results"] == fg["submissions"] > 0
    assert inv["lost"] == 0 and inv["duplicated"] == 0
    assert bg["not_executed"] == _status(gearmand)[f"{fn}p"][0]
    # The master's HDR histograms hold every sample from both worker processes.
    assert s["latency"]["result"]["all"]["count"] == fg["results"]
    assert s["latency"]["created"]["all"]["count"] == s["counts"]["created"]
    assert s["counts"]["created"] == fg["submissions"] + bg["submissions"]


@pytest.mark.slow
def test_progress_without_a_terminal_and_locusts_report(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str, capfd: pytest.CaptureFixture[str]) -> None:
    text = MIXED.format(served=f"{fn}s", parked=f"{fn}p", drop=0, duplicate=0, p50="10s")
    result = run_load(write_profile(text.replace("duration: 3s", "duration: 7s")),
                      server=str(gearmand.address), out_root=tmp_path / "reports",
                      run_name="run")
    assert result.exit_code == 0, result.problems
    lines = [line for line in capfd.readouterr().err.splitlines() if "s of ~" in line]
    # a plain line at least every 5 s, with the figures a person or CI wants to see
    assert lines and all("p99" in line and "errors" in line for line in lines)
    html = (result.run_dir / "locust.html").read_text()
    assert html.count('"current_rps"') >= 5  # one history point a second, not one per five
    assert f"gearman://{gearmand.address}" in html
