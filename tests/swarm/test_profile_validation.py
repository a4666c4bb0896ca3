"""Profiles: every shipped one loads; bad ones fail with file:line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gearcheck.swarm.profile import ProfileError, load_profile, parse_profile, with_duration
from gearcheck.swarm.stages import clients_at

PROFILES = sorted(Path(__file__).resolve().parents[2].joinpath("load/profiles").glob("*.yaml"))
SHIPPED = {"steady-foreground", "background-burst-drain", "priority-mix", "coalescing-storm",
           "large-payloads", "many-idle-workers"}

GOOD = """\
name: t
duration: 10s
users: 2
clients:
  - name: c
    functions: [f]
workers:
  - name: w
    count: 1
    functions: [f]
"""


def test_every_shipped_profile_is_valid() -> None:
    assert {p.stem for p in PROFILES} >= SHIPPED
    for path in PROFILES:
        profile = load_profile(path)
        assert profile.name == path.stem
        assert 0 < profile.duration <= 30, "demo profiles stay short"


def _problems(text: str) -> list[str]:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "p.yaml")
    return info.value.problems


def test_unknown_key_names_file_line_and_allowed_keys() -> None:
    text = GOOD.replace("    functions: [f]\nworkers",
                        "    functions: [f]\n    inflight: 3\nworkers")
    (problem,) = _problems(text)
    assert problem.startswith("p.yaml:5: clients[0]: ")
    assert "'inflight'" in problem and "in_flight" in problem


def test_bad_duration_points_at_its_line() -> None:
    (problem,) = _problems(GOOD.replace("duration: 10s", "duration: 10 parsecs"))
    assert problem.startswith("p.yaml:2: duration:")


def test_bad_distribution_inside_a_worker() -> None:
    text = GOOD + "    service_time: {dist: exponential, mean: fast}\n"
    (problem,) = _problems(text)
    assert problem.startswith("p.yaml:11: workers[0].service_time:")


def test_foreground_function_without_worker_is_refused() -> None:
    (problem,) = _problems(GOOD.replace("functions: [f]\n", "functions: [g]\n", 1))
    assert problem.startswith("p.yaml:6: clients[0].functions:")
    assert "'g'" in problem and "never finish" in problem


def test_open_model_needs_a_rate_and_pool_needs_a_size() -> None:
    text = GOOD.replace("    functions: [f]\nworkers",
                        "    functions: [f]\n    arrival: {model: open}\n"
                        "    unique: {policy: pool}\nworkers")
    problems = _problems(text)
    assert any("p.yaml:7: clients[0].arrival:" in p and "rate" in p for p in problems)
    assert any("p.yaml:8: clients[0].unique:" in p and "pool_size" in p for p in problems)


def test_yaml_syntax_error_has_a_line() -> None:
    (problem,) = _problems(GOOD + "  - name: [unclosed\n")
    assert problem.startswith("p.yaml:1") and "YAML syntax error" in problem


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"nope\.yaml: cannot read"):
        load_profile(tmp_path / "nope.yaml")


def test_stages_ramp_hold_spike_and_scaling() -> None:
    text = GOOD.replace("duration: 10s\nusers: 2\n", "stages:\n"
                        "  - {kind: ramp, users: 10, duration: 10s}\n"
                        "  - {kind: hold, duration: 10s}\n"
                        "  - {kind: spike, users: 40, duration: 5s}\n"
                        "  - {kind: hold, duration: 5s}\n")
    profile = parse_profile(text, "p.yaml")
    assert profile.duration == 30
    assert clients_at(profile, 0) == 0 and clients_at(profile, 5) == 5
    assert clients_at(profile, 15) == 10 and clients_at(profile, 22) == 40
    assert clients_at(profile, 27) == 10 and clients_at(profile, 30) is None
    half = with_duration(profile, 15)
    assert half.duration == pytest.approx(15) and clients_at(half, 11) == 40


def test_hold_cannot_change_the_level() -> None:
    text = GOOD.replace("duration: 10s\nusers: 2\n", "stages:\n"
                        "  - {kind: hold, users: 3, duration: 1s}\n"
                        "  - {kind: hold, users: 5, duration: 1s}\n")
    (problem,) = _problems(text)
    assert problem.startswith("p.yaml:4: stages[1].users:")
