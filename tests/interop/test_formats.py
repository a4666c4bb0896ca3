"""Scenario, script and baseline files: bad input names the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gearcheck.interop import baselines
from gearcheck.interop.fake_server.script import (
    SCHEMA_PATH,
    SCRIPT_DIR,
    ScriptError,
    load_script,
    load_scripts,
)
from gearcheck.interop.fake_server.script import schema as mirrored_schema
from gearcheck.interop.matrix import plan
from gearcheck.interop.registry import LIBRARIES
from gearcheck.interop.scenarios import ScenarioError, instantiate, load_all, load_scenario
from gearcheck.yaml_positions import load_documents


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


_SCRIPT = """\
id: LIB-CLIENT-900
title: a client submits
role: client
level: MUST
source: test
order: {jobs: [{id: j1, function: fn, payload: x}]}
actors: [lib]
steps:
  - expect: {on: lib, packet: SUBMIT_JOB}
  - send: {on: lib, packet: JOB_CREATED, args: {handle: "H:1"}}
outcome:
  j1: [{event: created}]
"""


@pytest.mark.parametrize(("change", "where"), [
    (("packet: SUBMIT_JOB}", "packet: SUBMIT_JOBZ}"),
     r"s\.yaml:9: steps\[0\]\.expect\.packet: 'SUBMIT_JOBZ' is not a known value"),
    (("{handle: \"H:1\"}", "{handel: \"H:1\"}"),
     r"s\.yaml:10: steps\[1\]\.send\.args\.handel: JOB_CREATED has no argument 'handel'"),
    (("on: lib, packet: JOB_CREATED", "on: library, packet: JOB_CREATED"),
     r"s\.yaml:10: steps\[1\]\.send\.on: actor 'library' is never connected: .*'accept: "
     r"library'"),
    (("event: created", "event: made"), r"s\.yaml:12: outcome\.j1\[0\]\.event: 'made'"),
    (("role: client", "role: server"), r"s\.yaml:3: role: 'server' is not one of"),
    (("source: test", "source: test\nrequires: [flying]"),
     r"s\.yaml:6: requires\[0\]: unknown client feature 'flying'"),
    (("  - expect:", "  - admin: {on: lib, command: status}\n  - expect:"),
     r"s\.yaml:9: steps\[0\]: unknown step kind 'admin'; step kinds are accept, "),
    (("order: {jobs: [{id: j1, function: fn, payload: x}]}\n", ""),
     r"s\.yaml:1: \(document\): 'order' is a required property"),
])
def test_malformed_script_names_file_line_and_field(tmp_path: Path, change: tuple[str, str],
                                                    where: str) -> None:
    f = tmp_path / "s.yaml"
    assert change[0] in _SCRIPT
    f.write_text(_SCRIPT.replace(*change))
    with pytest.raises(ScriptError, match=where):
        load_script(f)


def test_well_formed_script_loads_with_its_driver_keys(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(_SCRIPT)
    (script,) = load_script(f)
    assert (script.id, script.role, script.actors) == ("LIB-CLIENT-900", "client", ["lib"])
    assert script.driver["outcome"] == {"j1": [{"event": "created"}]}


def test_shipped_scripts_validate_against_the_exported_mirrored_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema == mirrored_schema(), "run `gearcheck schema` to export the current schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    scripts = load_scripts()
    assert len(scripts) == len(list(SCRIPT_DIR.glob("*.yaml"))) >= 21
    for s in scripts:
        for doc in load_documents(Path(s.file).read_text()):
            validator.validate(json.loads(json.dumps(doc)))


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
