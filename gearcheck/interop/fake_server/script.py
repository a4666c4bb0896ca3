"""The library-specific part of the mirrored scenario format, and loading the scripts.

A script in fixtures/interop/as-server/*.yaml is a mirrored scenario of the
conformance engine (docs/scenario-format.md, "Mirrored scenarios"): the
engine's identity keys, ``role``, accepted ``actors`` and steps, validated by
the engine's loader against conformance/mirrored.schema.json with
file:line:field errors. This module adds what only the interop drivers know:

  order     what the library's driver is told to do (fixtures/clients/CONTRACT.md):
            ``functions`` a worker serves, ``jobs`` a client submits
  outcome   what the driver must then report, per job id: rows as in the interop
            scenarios ({event, data, numerator/denominator, known, tolerate}),
            with ``data`` judged by the engine's matchers
  requires  the library's features for its role (gearcheck.interop.registry)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import paths
from ...engine.loader import MirroredFormat, Scenario, load_mirrored_file
from ..registry import ALL_CLIENT, ALL_WORKER
from ..scenarios import BEHAVIOURS, EVENTS

SCRIPT_DIR = paths.INTEROP_DIR / "as-server"
SCHEMA_PATH = paths.MIRRORED_SCHEMA

_payload = {"description": "text, {hex: ..} or {fill: .., size: N}",
            "oneOf": [{"type": "string"},
                      {"type": "object", "additionalProperties": False, "required": ["hex"],
                       "properties": {"hex": {"type": "string"}}},
                      {"type": "object", "additionalProperties": False,
                       "required": ["fill", "size"],
                       "properties": {"fill": {"type": "string", "minLength": 1},
                                      "size": {"type": "integer", "minimum": 0}}}]}
_job = {"type": "object", "additionalProperties": False, "required": ["id", "function"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "function": {"type": "string", "minLength": 1},
            "payload": _payload,
            "priority": {"enum": ["normal", "high", "low"]},
            "background": {"type": "boolean"},
            "unique": {"type": "string"},
            "poll_status": {"type": "object", "additionalProperties": False,
                            "properties": {"interval": {"type": "number", "minimum": 0},
                                           "max": {"type": "integer", "minimum": 1}}}}}
ORDER = {"type": "object", "additionalProperties": False, "minProperties": 1,
         "description": "what the library's driver is told (fixtures/clients/CONTRACT.md): "
                        "functions a worker serves, jobs a client submits",
         "properties": {
             "functions": {"type": "object", "minProperties": 1,
                           "additionalProperties": {"enum": sorted(BEHAVIOURS)}},
             "jobs": {"type": "array", "minItems": 1, "items": _job}}}
_event = {"enum": sorted(EVENTS)}
_row = {"type": "object", "additionalProperties": False, "required": ["event"],
        "properties": {
            "event": _event,
            "data": {"$ref": "#/$defs/matcher"},
            "numerator": {"type": ["integer", "number"]},
            "denominator": {"type": ["integer", "number"]},
            "known": {"type": "boolean"},
            "tolerate": {"type": "array", "items": _event, "minItems": 1,
                         "description": "events accepted instead (NON-STRICT)"}},
        "dependentRequired": {"numerator": ["denominator"], "denominator": ["numerator"]}}
OUTCOME = {"type": "object", "minProperties": 1,
           "description": "per job id, the events the driver must report, in this order "
                          "(others may come between)",
           "additionalProperties": {"type": "array", "minItems": 1, "items": _row}}

FORMAT = MirroredFormat(driver={"order": ORDER, "outcome": OUTCOME}, driver_required=("order",),
                        features={"client": ALL_CLIENT, "worker": ALL_WORKER})


class ScriptError(ValueError):
    """Script files that do not load; the message has a file:line: field: line per problem."""


def schema() -> dict[str, Any]:
    """The mirrored schema, as ``gearcheck schema`` exports it (SCHEMA_PATH)."""
    return FORMAT.schema()


def load_script(path: Path) -> list[Scenario]:
    scenarios, errors = load_mirrored_file(path, FORMAT)
    if errors:
        raise ScriptError("\n".join(map(str, errors)))
    return scenarios


def load_scripts(directory: Path = SCRIPT_DIR) -> list[Scenario]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ScriptError(f"{directory}: no scripts (*.yaml)")
    scripts: list[Scenario] = []
    problems: list[str] = []
    for f in files:
        try:
            scripts.extend(load_script(f))
        except ScriptError as exc:
            problems.append(str(exc))
    seen: dict[str, Scenario] = {}
    for s in scripts:
        if s.id in seen:
            problems.append(f"{s.file}:{s.line}: id: {s.id} is also used by {seen[s.id].file}")
        seen[s.id] = s
    if problems:
        raise ScriptError("\n".join(problems))
    return scripts
