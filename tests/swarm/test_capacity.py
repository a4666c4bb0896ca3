"""Capacity mode: the SLO grammar, the search's steps, and one real search against gearmand."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gearcheck.swarm.capacity import CapacitySearch, CapacitySettings, parse_slo
from gearcheck.swarm.runner import run_load
from gearcheck.targets import GearmandTarget


def test_slo_parses_and_bad_ones_name_the_problem() -> None:
    slo = parse_slo("result p99 < 10ms")
    assert (slo.metric, slo.percentile, slo.limit_s) == ("result", 99.0, 0.01)
    assert parse_slo("created p99.9 <= 500us").limit_s == pytest.approx(0.0005)
    for bad, why in (("result p99", "does not parse"), ("latency p99 < 1ms", "unknown metric"),
                     ("result p120 < 1ms", "not in (0, 100]"), ("result p99 < 0s", "above zero"),
                     ("result p99 < soon", "not a duration")):
        with pytest.raises(ValueError, match=re.escape(why)):
            parse_slo(bad)


def _step(rate: float, held: bool) -> dict[str, object]:
    return {"offered_rate": rate, "achieved_rate": rate, "held": held, "latency_us": 1,
            "late_ratio": 0.0, "generator_limited": False}


def test_search_grows_then_narrows_in_between_held_and_broken() -> None:
    search = CapacitySearch(CapacitySettings(parse_slo("result p99 < 10ms"), start_rate=100,
                                             growth=2, refine=2))
    offered = []
    for capacity in [450] * 10:
        if search.done:
            break
        rate = search.rate
        offered.append(rate)
        search.record(_step(rate, rate <= capacity))
    assert offered == [100, 200, 400, 800, 600, 500]
    result = search.result()
    assert result["capacity_rate"] == 400 and result["lowest_rate_that_broke"] == 500
    assert result["stop_reason"] == "narrowed in"


def test_search_comes_down_when_the_first_rate_breaks() -> None:
    search = CapacitySearch(CapacitySettings(parse_slo("result p99 < 10ms"), start_rate=1000,
                                             growth=2, refine=1))
    while not search.done:
        rate = search.rate
        search.record(_step(rate, rate <= 300))
    assert [s["offered_rate"] for s in search.steps] == [1000, 500, 250, 375]
    assert search.result()["capacity_rate"] == 250


CAPACITY = """\
name: cap
mode: capacity
users: 4
clients:
  - name: c
    functions: [{fn}]
    in_flight: 100
    arrival: {{model: open, rate: 25, late_after: 50ms}}
workers:
  - name: w
    count: 8
    functions: [{fn}]
capacity: {{slo: "result p99 < {limit}", start_rate: 100, growth: 3, step: 3s, refine: 1,
           max_steps: 4}}
"""


@pytest.mark.slow
def test_a_real_search_reports_every_step_and_the_knee(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    result = run_load(write_profile(CAPACITY.format(fn=fn, limit="2s")),
                      server=str(gearmand.address), out_root=tmp_path, run_name="cap",
                      quiet=True)
    assert result.summary is not None, result.problems
    cap = result.summary["capacity"]
    steps = cap["steps"]
    assert 2 <= len(steps) <= 4
    assert [s["offered_rate"] for s in steps[:2]] == [100, 300]
    held = [s for s in steps if s["held"]]
    assert held and cap["capacity_rate"] == max(s["offered_rate"] for s in held)
    for s in held:  # the server kept pace with what was offered, within the target
        assert s["achieved_rate"] >= 0.95 * s["submitted_rate"] and s["latency_us"] <= 2e6
    assert (result.run_dir / "capacity.png").stat().st_size > 0
    assert result.exit_code == 0


def test_bad_capacity_values_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for argv in (["--slo", "p99 under 10ms"], ["--step", "banana"], ["--start-rate", "-1"],
                 ["--growth", "1"]):
        done = subprocess.run([sys.executable, "-m", "gearcheck", "capacity", "--profile",
                               "x.yaml", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, argv
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and argv[0] in lines[0], done.stderr


@pytest.mark.slow
def test_a_distributed_search_steps_through_the_masters_reports(
        gearmand: GearmandTarget, tmp_path: Path, write_profile: Callable[[str], Path],
        fn: str) -> None:
    text = CAPACITY.format(fn=fn, limit="2s").replace("max_steps: 4", "max_steps: 2")
    result = run_load(write_profile(text), server=str(gearmand.address), out_root=tmp_path,
                      run_name="cap", quiet=True, workers=2)
    assert result.summary is not None, result.problems
    steps = result.summary["capacity"]["steps"]
    assert [s["offered_rate"] for s in steps] == [100, 300]
    assert all(s["held"] and s["samples"] > 0 for s in steps), steps
    assert len(result.summary["processes_reporting"]) == 2
    assert result.exit_code == 0
