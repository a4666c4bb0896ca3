"""The mirrored scenario format: what the harness, playing the server, expects and sends.

A script (fixtures/interop/as-server/*.yaml; the format is described in
fixtures/interop/README.md) has the case's identity, the role the library
plays (client or worker), the order its driver gets, and ``steps``:

  expect: {packet: NAME or [NAMES], args: {name: matcher}, noise: [NAMES], save_type: var}
  send:   {packet: NAME, args: {name: value}}
  assign: {handle: .., function: .., unique: .., data: ..}   # JOB_ASSIGN or _UNIQ, as the
                                                             # last grab asked (ALL -> UNIQ)
  close: true            # the server hangs up on the current connection
  expect_connection: {within: seconds}   # the library connects again
  sleep: seconds

and ``outcome``: what the driver must report per job (the rows of the
interop scenarios, with ``tolerate``). Values and matchers follow the
conformance engine's shapes: text with ${name} placeholders, {hex: ..},
{fill: .., size: N}; matchers are exact text, {any: true}, {regex: ..},
{len: {min, max}}, {one_of: [...]}, each optionally with {capture: name}.
Housekeeping a real server answers is answered unless a step expects it:
OPTION_REQ -> OPTION_RES, ECHO_REQ -> ECHO_RES, PRE_SLEEP -> NOOP,
SET_CLIENT_ID and RESET_ABILITIES -> nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...protocol import PacketType
from ..registry import ALL_CLIENT, ALL_WORKER

ROOT = Path(__file__).resolve().parents[3]
SCRIPT_DIR = ROOT / "fixtures" / "interop" / "as-server"
STEP_KINDS = {"expect", "send", "assign", "close", "expect_connection", "sleep"}
TOP_KEYS = {"id", "title", "role", "requires", "order", "steps", "outcome", "level",
            "description", "timeout", "source"}
ID_RE = re.compile(r"^LIB-(CLIENT|WORKER)-[0-9]{3}$")


class ScriptError(ValueError):
    """A script file is malformed; the message names the file and the field."""


@dataclass
class ServerScript:
    id: str
    title: str
    role: str
    file: str
    order: dict[str, Any]
    steps: list[dict[str, Any]]
    outcome: dict[str, list[dict[str, Any]]]
    requires: list[str] = field(default_factory=list)
    level: str = "MUST"
    timeout: float = 5.0
    source: str = ""


def _packet_names(value: Any, where: str, path: Path) -> list[str]:
    names = value if isinstance(value, list) else [value]
    for n in names:
        if not isinstance(n, str) or n not in PacketType.__members__:
            raise ScriptError(f"{path}: {where}: {n!r} is not a packet type name")
    return names


def load_script(path: Path) -> ServerScript:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScriptError(f"{path}: top level must be a mapping")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ScriptError(f"{path}: unknown key(s) {sorted(unknown)}; allowed {sorted(TOP_KEYS)}")
    for key in ("id", "title", "role", "order", "steps"):
        if key not in doc:
            raise ScriptError(f"{path}: {key}: missing")
    if not ID_RE.match(str(doc["id"])):
        raise ScriptError(f"{path}: id: {doc['id']!r} does not look like LIB-CLIENT-NNN "
                          "or LIB-WORKER-NNN")
    if doc["role"] not in ("client", "worker"):
        raise ScriptError(f"{path}: role: must be client or worker")
    known = ALL_CLIENT if doc["role"] == "client" else ALL_WORKER
    for feature in doc.get("requires", []) or []:
        if feature not in known:
            raise ScriptError(f"{path}: requires: unknown feature {feature!r}")
    steps = doc["steps"]
    if not isinstance(steps, list) or not steps:
        raise ScriptError(f"{path}: steps: must be a non-empty list")
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in STEP_KINDS:
            raise ScriptError(f"{path}: {where}: must be one of {sorted(STEP_KINDS)} "
                              "(one key per step)")
        kind, body = next(iter(step.items()))
        if kind == "expect":
            if not isinstance(body, dict) or "packet" not in body:
                raise ScriptError(f"{path}: {where}.expect.packet: missing")
            _packet_names(body["packet"], f"{where}.expect.packet", path)
            _packet_names(body.get("noise", []), f"{where}.expect.noise", path)
        elif kind == "send":
            if not isinstance(body, dict) or "packet" not in body:
                raise ScriptError(f"{path}: {where}.send.packet: missing")
            _packet_names(body["packet"], f"{where}.send.packet", path)
    outcome = doc.get("outcome") or {}
    if not isinstance(outcome, dict):
        raise ScriptError(f"{path}: outcome: must map job ids to rows")
    return ServerScript(id=doc["id"], title=doc["title"], role=doc["role"], file=str(path),
                        order=doc["order"], steps=steps, outcome=outcome,
                        requires=list(doc.get("requires", []) or []),
                        level=str(doc.get("level", "MUST")),
                        timeout=float(doc.get("timeout", 5.0)), source=str(doc.get("source", "")))


def load_scripts(directory: Path = SCRIPT_DIR) -> list[ServerScript]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ScriptError(f"{directory}: no scripts (*.yaml)")
    scripts = [load_script(f) for f in files]
    ids: dict[str, str] = {}
    for s in scripts:
        if s.id in ids:
            raise ScriptError(f"{s.file}: id {s.id} is also used by {ids[s.id]}")
        ids[s.id] = s.file
    return scripts
