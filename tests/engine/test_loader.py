"""Scenario files: the seed suite loads, bad files name file:line:field, the schema is exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from gearcheck.engine.loader import find_files, load_file
from gearcheck.engine.probe import KNOWN_CAPABILITIES
from gearcheck.engine.schema import STEP_KINDS, scenario_schema
from gearcheck.yaml_positions import load_documents

ROOT = Path(__file__).resolve().parents[2]


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    scenarios, errors = load_file(path, set(KNOWN_CAPABILITIES), display="case.yaml")
    assert not scenarios
    return [str(e) for e in errors]


HEAD = "id: GM-ECHO-900\ntitle: bad case\nlevel: MUST\nsource: test\nactors: [client]\nsteps:\n"


def test_seed_suite_loads_and_covers_every_step_kind() -> None:
    files = find_files([ROOT / "conformance"])
    assert files
    kinds: set[str] = set()
    ids = []
    for f in files:
        scenarios, errors = load_file(f, set(KNOWN_CAPABILITIES))
        assert not errors, errors
        ids += [s.id for s in scenarios]
        text = f.read_text()
        kinds |= {k for k in STEP_KINDS if f"{k}:" in text}
    assert set(STEP_KINDS) <= kinds
    assert len(ids) == len(set(ids)) >= 30


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    errors = _errors(tmp_path, HEAD + """  - send: {on: client}
  - expect: {on: client, packet: JOB_CREATED, args: {handel: x}}
  - send: {on: clinet, packet: ECHO_REQ, args: {data: x}}
  - frobnicate: 1
  - send: {on: client, packet: SUBMIT_JOB, args: {function: f}}
  - alternatives:
      - {verdict: PASS, steps: [{send: {on: client, packet: GRAB_JOB}}]}
      - {verdict: NON-STRICT, steps: [{sleep: 0.1}]}
""")
    assert "case.yaml:7: steps[0].send: needs exactly one of packet, packets, raw, line, " \
           "malformed" in errors
    assert any(e.startswith("case.yaml:8: steps[1].expect.args.handel: JOB_CREATED has no "
                            "argument 'handel'") for e in errors)
    assert any(e.startswith("case.yaml:9: steps[2].send.on: actor 'clinet' is never connected")
               for e in errors)
    assert any(e.startswith("case.yaml:10: steps[3]: unknown step kind 'frobnicate'")
               for e in errors)
    assert any(e.startswith("case.yaml:11: steps[4].send.args: SUBMIT_JOB is missing argument(s)"
                            " unique, data") for e in errors)
    assert any(e.startswith("case.yaml:13: steps[5].alternatives[0].steps[0].send: inside "
                            "alternatives only") for e in errors)


def test_top_level_and_yaml_errors(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "id: ECHO-1\ntitle: t\nlevel: MAYBE\nsource: s\nsteps: []\n")
    assert any(e.startswith("case.yaml:1: id:") for e in errors)
    assert any(e.startswith("case.yaml:3: level:") for e in errors)
    errors = _errors(tmp_path, HEAD + "  - send: {on: client, packet: ECHO_REQ\n")
    assert errors[0].startswith("case.yaml:") and "(yaml): not valid YAML" in errors[0]
    errors = _errors(tmp_path, HEAD.replace("actors", "requires: [packet:NOPE]\nactors")
                     + "  - sleep: 0.1\n")
    assert any("unknown capability 'packet:NOPE'" in e for e in errors)


def test_yaml_on_key_is_a_string_and_lines_are_kept() -> None:
    doc = load_documents("a: 1\nsteps:\n  - send: {on: client}\n")[0]
    assert doc["steps"][0]["send"] == {"on": "client"}
    assert doc["steps"].lines == [3]


def test_exported_schema_is_valid_and_checked_in() -> None:
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    checked_in = json.loads((ROOT / "conformance" / "scenario.schema.json").read_text())
    assert checked_in == schema, "run `gearcheck schema` to export the current schema"
    out = subprocess.run([sys.executable, "-m", "gearcheck", "schema", "-o", "-"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == schema
    # the full schema (used by editors) accepts the seed suite too
    validator = jsonschema.Draft202012Validator(schema)
    for f in find_files([ROOT / "conformance" / "echo"]):
        for doc in load_documents(f.read_text()):
            validator.validate(json.loads(json.dumps(doc)))


def test_cleanup_steps_are_checked_like_steps(tmp_path: Path) -> None:
    errors = _errors(tmp_path, HEAD + """  - sleep: 0.1
cleanup:
  - connect: sweeper
  - send: {on: sweeper, packet: CAN_DO, args: {handle: x}}
  - frobnicate: 1
""")
    assert any(e.startswith("case.yaml:10: cleanup[1].send.args") for e in errors), errors
    assert any(e.startswith("case.yaml:11: cleanup[2]: unknown step kind") for e in errors)
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "  - sleep: 0.1\ncleanup:\n  - connect: sweeper\n"
                    "  - send: {on: sweeper, packet: CANT_DO, args: {function: x}}\n")
    [scenario], errors = load_file(path, set(KNOWN_CAPABILITIES))
    assert not errors and [list(s) for s in scenario.cleanup] == [["connect"], ["send"]]
