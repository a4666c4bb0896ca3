"""The profile format's replay extensions: open-model stages, measured distributions, speed.

A profile with rate stages, client mixes with users and shares, empirical and
choice distributions, result size distributions, ``speed`` and a ``recorded``
block loads; every way to get one wrong is reported with its file and line
(exit 2 from ``gearcheck load``), and the profiles that existed before load
as they did. The arrival schedule sends each stage's planned count exactly.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gearcheck import paths
from gearcheck.cli import main as gearcheck_main
from gearcheck.swarm.arrivals import RateSchedule
from gearcheck.swarm.profile import (
    ProfileError,
    Stage,
    load_profile,
    parse_profile,
    with_duration,
    with_speed,
)
from gearcheck.swarm.sampling import StratifiedRandom
from gearcheck.swarm.units import parse_distribution, parse_size

REPLAY = """\
name: replayed
speed: 1.5
stages:
  - {kind: hold, duration: 2s, rate: 10}
  - {kind: ramp, duration: 2s, rate: 30}
  - {kind: hold, duration: 1s, rate: 0}
clients:
  - name: a-fg
    users: 2
    functions: [a]
    payload_bytes: {dist: empirical, points: [[0, 10], [0.5, 100], [1, 1000]]}
    arrival: {model: open, share: 3}
  - name: b-bg
    users: 1
    functions: [b]
    background: 1
    payloads: ["plain text", {b64: "AP8="}]
    arrival: {model: open, share: 1, process: poisson}
workers:
  - name: wa
    count: 1
    functions: [a]
    service_time: {dist: empirical, points: [[0, 1ms], [1, 3ms]]}
    result_bytes: {dist: choice, values: {"10": 1, "20": 3}}
thresholds: {max_replay_deviation: 0.05}
recorded:
  duration_s: 5
  submissions: 80
  rate_per_s: 16
  functions: {a: 0.75, b: 0.25}
  payload_cdf: [[10, 0.1], [1000, 1]]
"""


def test_a_replay_profile_loads() -> None:
    profile = parse_profile(REPLAY, "replayed.yaml")
    assert profile.rate_stages and profile.speed == 1.5
    assert [s.users for s in profile.stages] == [3, 3, 3]  # the mixes' users, throughout
    assert [s.rate for s in profile.stages] == [10, 30, 0]
    a, b = profile.clients
    assert (a.users, a.share, b.share, b.poisson) == (2, 3.0, 1.0, True)
    assert b.payloads == (b"plain text", b"\x00\xff")
    assert a.payload_bytes.kind == "empirical" and a.payload_bytes.expected == pytest.approx(
        0.5 * (10 + 100) / 2 + 0.5 * (100 + 1000) / 2)
    (worker,) = profile.workers
    assert worker.result_size is not None and worker.result_bytes == 17
    assert worker.service_time.points == ((0.0, 0.001), (1.0, 0.003))
    assert profile.thresholds.max_replay_deviation == 0.05
    assert profile.recorded is not None and profile.recorded["rate_per_s"] == 16


@pytest.mark.parametrize(("change", "line", "problem"), [
    (("  - {kind: hold, duration: 1s, rate: 0}", "  - {kind: hold, duration: 1s}"),
     6, "give 'rate' in every stage or in none"),
    (("  - {kind: hold, duration: 2s, rate: 10}", "  - {kind: hold, duration: 2s, rate: 10, "
      "users: 4}"), 4, "takes its users from the client mixes"),
    (("    arrival: {model: open, share: 3}", "    arrival: {model: open, rate: 3}"),
     12, "needs arrival: {model: open, share: S}"),
    (("    users: 2\n", ""), 8, "needs 'users'"),
    (("[0.5, 100]", "[0.5, 5]"), 11, "goes back"),
    (("[1, 1000]", "[0.9, 1000]"), 11, "last's 1"),
    (('{b64: "AP8="}', '{b64: "***"}'), 17, "is not base64"),
    (("speed: 1.5", "speed: 0"), 2, "speed: 0 is less than or equal to the minimum"),
    (("  submissions: 80\n", ""), 26, "'submissions' is a required property"),
])
def test_a_wrong_replay_profile_names_file_and_line(change: tuple[str, str], line: int,
                                                    problem: str) -> None:
    old, new = change
    assert old in REPLAY
    with pytest.raises(ProfileError) as caught:
        parse_profile(REPLAY.replace(old, new), "p.yaml")
    assert any(p.startswith(f"p.yaml:{line}:") and problem in p
               for p in caught.value.problems), caught.value.problems


def test_recorded_payloads_and_speed_need_open_arrivals() -> None:
    closed = """\
name: closed
duration: 1s
users: 1
speed: 2
clients:
  - {name: c, functions: [f], background: 1, payloads: [x]}
"""
    with pytest.raises(ProfileError) as caught:
        parse_profile(closed, "c.yaml")
    assert any("c.yaml:6:" in p and "rate stages" in p for p in caught.value.problems)
    assert any("c.yaml:4:" in p and "open-model" in p for p in caught.value.problems)


def test_every_shipped_profile_still_loads() -> None:
    shipped = sorted(paths.PROFILES_DIR.glob("*.yaml"))
    assert len(shipped) >= 6
    for path in shipped:
        profile = load_profile(path)
        assert profile.speed == 1.0 and not profile.rate_stages and profile.recorded is None


def test_speed_and_duration_keep_the_rates_straight() -> None:
    profile = parse_profile(REPLAY, "r.yaml")
    faster = with_speed(profile, 3.0)
    assert faster.speed == 3.0
    assert [c.in_flight for c in faster.clients] == [2, 2]  # 1 x 3/1.5
    shorter = with_duration(profile, 2.5)
    assert [s.rate for s in shorter.stages] == [10, 30, 0]
    assert sum(s.duration for s in shorter.stages) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        with_speed(profile, 0)


def test_the_schedule_plans_each_stage_exactly() -> None:
    stages = [Stage("hold", 1, 2.0, None, 10.0), Stage("ramp", 1, 2.0, None, 30.0),
              Stage("spike", 1, 1.0, None, 100.0), Stage("hold", 1, 1.0, None, 30.0)]
    schedule = RateSchedule(stages, scale=2.0)
    # 2s x 20/s, a ramp 20 -> 60 over 2s, a 1s spike at 200/s, then back at 60/s.
    assert schedule.total == pytest.approx(40 + 80 + 200 + 60)
    assert schedule.rate_at(3.0) == pytest.approx(40.0)
    assert schedule.rate_at(5.5) == pytest.approx(60.0)
    for n in (0.0, 12.5, 40.0, 77.0, 200.0, 379.0):
        t = schedule.time_of(n)
        assert t is not None and schedule.cumulative(t) == pytest.approx(n, abs=1e-6)
    assert schedule.time_of(381.0) is None
    # One user with a quarter of the arrivals: 95 of them, a quarter of each stage's.
    times = list(schedule.times(0.25, 0.5))
    assert len(times) == 95
    assert sum(1 for t in times if t < 2.0) == 10
    assert sum(1 for t in times if 4.0 <= t < 5.0) == 50
    rng = random.Random(1)
    gaps = iter(rng.expovariate(1.0) for _ in range(10_000))
    poisson = list(schedule.times(1.0, 0.0, gaps))
    assert abs(len(poisson) - 380) < 4 * 380 ** 0.5


def test_stratified_draws_follow_a_measured_distribution_closely() -> None:
    dist = parse_distribution({"dist": "empirical", "points": [[0, 10], [0.5, 100], [1, 1000]]},
                              parse_size)
    rng = StratifiedRandom(3, strata=40)
    draws = sorted(dist.sample(rng) for _ in range(40))
    assert draws[19] <= 100 <= draws[20]  # exactly half below the median point
    assert sum(draws) / 40 == pytest.approx(dist.expected, rel=0.05)
    weights = StratifiedRandom(4, strata=100)
    picks = weights.choices(["a", "b"], [3, 1], k=100)
    assert picks.count("a") == 75


def test_load_rejects_speed_for_a_closed_profile(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "closed.yaml"
    profile.write_text("name: c\nduration: 1s\nusers: 1\nclients:\n"
                       "  - {name: c, functions: [f], background: 1}\n")
    code = gearcheck_main(["load", "--profile", str(profile), "--speed", "2",
                           "--out", str(tmp_path / "r")])
    assert code == 2
    assert "--speed multiplies open-model arrival rates" in capsys.readouterr().err
    assert gearcheck_main(["load", "--profile", str(profile), "--speed", "-1"]) == 2
