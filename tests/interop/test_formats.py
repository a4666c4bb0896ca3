"""Scenario, script and baseline files: bad input names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gearcheck.interop import baselines
from gearcheck.interop.fake_server.script import ScriptError, load_script
from gearcheck.interop.matrix import plan
from gearcheck.interop.registry import LIBRARIES
from gearcheck.interop.scenarios import ScenarioError, instantiate, load_all, load_scenario


def test_all_shipped_files_load() -> None:
    scenarios = load_all()
    assert {"IOP-RT-001", "IOP-CLASSIC-001", "IOP-CLASSIC-002", "IOP-SEQ-001"} <= \
        {s.id for s in scenarios}
    assert baselines.load().matrix


def test_unknown_behaviour_names_file_and_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("id: IOP-X-001\ntitle: t\nfunctions: {a: dance}\n"
                 "clients: [{jobs: [{id: j, function: a}]}]\nexpect: {}\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: functions\.a: unknown behaviour"):
        load_scenario(f)


def test_job_naming_unknown_function(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("id: IOP-X-001\ntitle: t\nfunctions: {a: echo}\n"
                 "clients: [{jobs: [{id: j, function: b}]}]\nexpect: {}\n")
    with pytest.raises(ScenarioError, match=r"clients\[0\]\.jobs\[0\]\.function"):
        load_scenario(f)


def test_script_with_unknown_packet(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("id: LIB-CLIENT-900\ntitle: t\nrole: client\norder: {}\n"
                 "steps: [{expect: {packet: SUBMIT_JOBZ}}]\n")
    with pytest.raises(ScriptError, match=r"steps\[0\]\.expect\.packet: 'SUBMIT_JOBZ'"):
        load_script(f)


def test_baseline_entry_without_reason(tmp_path: Path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text("known_failures:\n  - scenario: IOP-RT-001\n")
    with pytest.raises(baselines.InteropBaselineError, match=r"known_failures\[0\]\.reason"):
        baselines.load(f)


def test_instances_do_not_share_names_and_repeat_expands() -> None:
    seq = next(s for s in load_all() if s.id == "IOP-SEQ-001")
    a, b = instantiate(seq, "aaaa"), instantiate(seq, "bbbb")
    assert set(a.functions).isdisjoint(b.functions)
    assert len(a.client_orders[0]["jobs"]) == 1000


def test_plan_covers_every_pair_for_core_scenarios_and_a_star_for_the_rest() -> None:
    libs = list(LIBRARIES.values())
    cells = plan(load_all(), libs, libs, ["gearmand"])
    rt = {(c.client.name, c.worker.name) for c in cells if c.scenario.id == "IOP-RT-001"}
    assert len(rt) == len(libs) ** 2
    data = {(c.client.name, c.worker.name) for c in cells if c.scenario.id == "IOP-DATA-001"}
    assert ("gearman", "pygearman") not in data and ("gearman", "php-gearman") in data
