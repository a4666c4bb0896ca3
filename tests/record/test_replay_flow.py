"""Every step, from real traffic: record, derive a profile, replay it, make a case, run it.

Two kinds of application are recorded through the proxy against gearmand: a
PHP and a Node application (their libraries' client and worker drivers,
tests/record/apps.py), and a Locust swarm (an open-model profile with three
functions, foreground and background jobs, two priorities, spread payload
sizes and a changing rate). For each, ``gearcheck replay-profile`` derives a
profile (for the Node application with its recorded payloads in it),
``gearcheck load`` replays it at speed 1 against gearmand and must reproduce
the recorded rate, function mix, background and priority shares and payload
size distribution within 5% (the profile's own threshold, judged in the load
report next to the recording), and ``gearcheck replay-case`` turns recorded
connections into a case that passes against the server they were recorded
on. The Locust recording is also replayed at twice its speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gearcheck.cli import main as gearcheck_main
from gearcheck.engine.loader import load_file
from gearcheck.record.jobs import analyse
from gearcheck.record.proxy import RecordingProxy
from gearcheck.record.trace import read_trace
from gearcheck.results import Verdict
from gearcheck.runs import SuiteSettings, run_suite
from gearcheck.swarm.profile import load_profile
from gearcheck.swarm.runner import LoadResult, run_load
from gearcheck.targets import GearmandTarget
from gearcheck.wire import Address

from .apps import Recording

TOLERANCE = 0.05

SOURCE = """\
name: locust-app
stages:
  - {kind: ramp, users: 4, duration: 2s}
  - {kind: hold, duration: 3s}
  - {kind: ramp, users: 2, duration: 1s}
clients:
  - name: web
    weight: 3
    functions: {resize: 3, thumbnail: 1}
    priorities: {high: 1, normal: 4}
    payload_bytes: {dist: uniform, min: 40, max: 2000}
    in_flight: 16
    arrival: {model: open, rate: 60}
  - name: ingest
    weight: 1
    functions: [ingest]
    background: 1
    priorities: {low: 1}
    payload_bytes: {dist: choice, values: {"64": 3, "512": 1}}
    in_flight: 16
    arrival: {model: open, rate: 50}
workers:
  - name: imaging
    count: 3
    functions: [resize, thumbnail]
    service_time: {dist: exponential, mean: 2ms}
    result_bytes: {dist: uniform, min: 10, max: 300}
  - name: ingesters
    count: 1
    functions: [ingest]
    service_time: 1ms
"""


def _rows(result: LoadResult) -> dict[str, dict[str, Any]]:
    assert result.summary is not None, result.problems
    replay = result.summary["replay"]
    return {row["figure"]: row for row in replay["rows"]}


def _assert_faithful(result: LoadResult) -> None:
    rows = _rows(result)
    for figure in ("rate (submissions/s)", "function mix", "background share", "priority mix",
                   "payload bytes mean", "payload size distribution"):
        assert rows[figure]["deviation"] <= TOLERANCE, rows[figure]
    assert result.summary is not None
    assert result.summary["replay"]["within_tolerance"]
    assert result.summary["invariants"]["lost"] == 0
    assert result.exit_code == 0, result.summary["thresholds"]


def _profile(trace: Path, out: Path, *extra: str) -> dict[str, Any]:
    assert gearcheck_main(["replay-profile", str(trace), "-o", str(out), *extra]) == 0
    load_profile(out)  # the swarm's own loader and schema accept it
    data = yaml.safe_load(out.read_text())
    assert isinstance(data, dict)
    return data


def _case_passes(trace: Path, out: Path, server: Address, connections: str | None = None
                 ) -> None:
    argv = ["replay-case", str(trace), "-o", str(out)]
    if connections:
        argv += ["--connections", connections]
    assert gearcheck_main(argv) == 0
    scenarios, errors = load_file(out)
    assert not errors and len(scenarios) == 1
    outcome = run_suite(SuiteSettings(server=str(server), cases=[out], use_baseline=False,
                                      report_dir=out.parent / "case-report", quiet=True))
    assert outcome.report is not None, outcome.problem
    verdicts = [r.verdict for r in outcome.report.results]
    assert verdicts == [Verdict.PASS], [(r.message, r.expected, r.actual)
                                        for r in outcome.report.results]
    assert outcome.exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize(("library", "keep_payloads"), [("php-gearman", False),
                                                       ("gearman", True)])
def test_a_recorded_application_replays_as_load_and_as_a_case(
        library: str, keep_payloads: bool, app_recording: Callable[[str], Recording],
        gearmand: GearmandTarget, tmp_path: Path) -> None:
    recording = app_recording(library)
    work = analyse(read_trace(recording.trace))
    profile = _profile(recording.trace, tmp_path / "profile.yaml",
                       *(["--keep-payloads"] if keep_payloads else []))

    # What the application did is what the profile says.
    jobs = recording.jobs
    shares: dict[str, float] = {}
    for mix in profile["clients"]:
        (function,) = mix["functions"]
        shares[function] = shares.get(function, 0.0) + mix["arrival"]["share"]
        assert mix["background"] in (0.0, 1.0)
    for function in recording.functions:
        expected = sum(1 for j in jobs if j["function"] == function) / len(jobs)
        assert shares.get(function, 0.0) == pytest.approx(expected, abs=1e-5)
    assert {w["functions"][0]: w["count"] for w in profile["workers"]} == {
        f: 1 for f in {j["function"] for j in jobs}}  # one worker process served them all
    assert profile["recorded"]["submissions"] == len(jobs) == len(work.submissions)
    # Payload contents stay out of the profile unless asked for; their sizes are in it.
    text = (tmp_path / "profile.yaml").read_text()
    assert b"order 1: resize" in b"".join(j["payload"] for j in jobs)
    if keep_payloads:
        kept = [p for mix in profile["clients"] for p in mix["payloads"]]
        assert len(kept) == len(jobs) and "order 1: resize" in text
    else:
        assert "order 1: resize" not in text and "payloads" not in text

    result = run_load(tmp_path / "profile.yaml", server=str(gearmand.address),
                      out_root=tmp_path / "load", run_name="speed1", quiet=True)
    _assert_faithful(result)
    _case_passes(recording.trace, tmp_path / "case.yaml", gearmand.address)


@pytest.fixture(scope="module")
def locust_recording(tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[tuple[Path, GearmandTarget]]:
    """A Locust swarm recorded through the proxy against a gearmand of its own (the
    replayed case leaves its background jobs queued there, which end with it)."""
    folder = tmp_path_factory.mktemp("locust-app")
    source = folder / "source.yaml"
    source.write_text(SOURCE)
    with GearmandTarget(log_dir=folder / "gearmand") as gearmand:
        trace = folder / "trace.jsonl"
        with RecordingProxy(Address("127.0.0.1", 0), gearmand.address, trace) as proxy:
            result = run_load(source, server=str(proxy.address), out_root=folder,
                              run_name="source", quiet=True)
        assert result.exit_code == 0, result.problems
        yield trace, gearmand


@pytest.mark.slow
def test_a_recorded_locust_swarm_replays_within_five_percent(
        locust_recording: tuple[Path, GearmandTarget], tmp_path: Path) -> None:
    trace, gearmand = locust_recording
    profile = _profile(trace, tmp_path / "profile.yaml")
    recorded = profile["recorded"]
    assert recorded["submissions"] > 700
    assert set(recorded["functions"]) == {"resize", "thumbnail", "ingest"}
    rates = [s["rate"] for s in profile["stages"]]
    assert len(rates) >= 2 and max(rates) > 1.5 * min(rates)  # the ramp-up shows
    result = run_load(tmp_path / "profile.yaml", server=str(gearmand.address),
                      out_root=tmp_path / "load", run_name="speed1", quiet=True)
    _assert_faithful(result)


@pytest.mark.slow
def test_speed_multiplies_the_recorded_rate(locust_recording: tuple[Path, GearmandTarget],
                                            tmp_path: Path) -> None:
    trace, gearmand = locust_recording
    _profile(trace, tmp_path / "profile.yaml")
    result = run_load(tmp_path / "profile.yaml", server=str(gearmand.address),
                      out_root=tmp_path / "load", run_name="speed2", quiet=True, speed=2.0,
                      duration=3.0)
    rows = _rows(result)
    rate = rows["rate (submissions/s)"]
    assert rate["expected"] == pytest.approx(2 * rate["recorded"], rel=1e-3)
    assert rate["replayed"] == pytest.approx(rate["expected"], rel=TOLERANCE)
    assert rows["function mix"]["deviation"] <= TOLERANCE
    assert result.exit_code == 0


@pytest.mark.slow
def test_a_locust_connection_becomes_a_passing_case(
        locust_recording: tuple[Path, GearmandTarget], tmp_path: Path) -> None:
    trace, gearmand = locust_recording
    work = analyse(read_trace(trace))
    # The background client's connection: its exchange does not depend on the workers.
    (ingest,) = {s.conn for s in work.submissions if s.function == "ingest"}
    _case_passes(trace, tmp_path / "case.yaml", gearmand.address, str(ingest))
