"""Scenario files to ``Scenario`` objects, or errors that name file:line:field.

Strategy: read each file with the position-keeping YAML loader (one case per
YAML document; ``---`` separates several cases in one file), validate the
case's top level against the JSON Schema with a shallow ``steps`` array, then
validate each step against the schema of its own kind (recursing into
``repeat`` and ``alternatives``). Dispatching on the kind first turns
jsonschema's unhelpful "not valid under any of the given schemas" into "send:
needs exactly one of packet, packets, raw, line, malformed". Then the checks
a schema cannot express: argument names per packet type, actors that are
used but never connected, only receiving steps inside alternatives, and
capabilities the probe does not know, and the extra servers of a case
(``servers:``): every server an actor is bound to or a ``restart`` names is
declared, an actor is bound to one server only, and ``main`` is not redeclared.

Mirrored cases (``load_mirrored_file``) go through the same checker with the
mirrored schema: actors are accepted (``accept``) rather than connected,
``requires`` names the library's features for its ``role``, and the keys its
driver reads are validated with the schemas the caller supplies.

A file with errors yields no scenarios and a list of ``LoadError``; the
caller reports them and goes on with the other files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..protocol import SPECS, PacketType
from ..targets.configs import ServerConfig, parse_config
from ..yaml_positions import (
    PosDict,
    PosList,
    field_path,
    line_of,
    load_documents,
    yaml_error_where,
)
from . import schema as S


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass
class Scenario:
    id: str
    title: str
    level: str
    source: str
    steps: list[Any]
    cleanup: list[Any] = field(default_factory=list)  # run after the steps, whatever happened
    file: str = ""
    line: int = 0
    description: str = ""
    tags: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    timeout: float | None = None
    noise: list[str] = field(default_factory=list)
    exclusive: str = ""  # why the case needs the server to itself ("" when it shares it)
    servers: dict[str, ServerConfig] = field(default_factory=dict)  # extra servers by name
    actor_servers: dict[str, str] = field(default_factory=dict)     # actor -> server name
    restarted: list[str] = field(default_factory=list)              # servers a step restarts
    role: str = ""                                       # mirrored: what the library plays
    driver: dict[str, Any] = field(default_factory=dict)  # mirrored: the driver's keys

    @property
    def area(self) -> str:
        return self.id.split("-")[1].lower()


def actor_declarations(body: Any) -> list[tuple[str, str | None, list[Any]]]:
    """(actor, server or None, sub-path) for an ``actors`` list or a ``connect`` body."""
    items = [body] if isinstance(body, (str, dict)) else list(body)
    single = isinstance(body, (str, dict))
    out = []
    for i, item in enumerate(items):
        sub: list[Any] = [] if single else [i]
        if isinstance(item, dict):
            out.append((item["name"], item["server"], sub))
        else:
            out.append((item, None, sub))
    return out


_RESOLVER_ROOT = {"$defs": S.DEFS}
_SHALLOW_STEPS = {"type": "array", "minItems": 1, "items": {"type": "object"}}
_KIND_SCHEMAS = S.step_kind_schemas(_SHALLOW_STEPS)
_VALIDATOR = jsonschema.Draft202012Validator


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return _VALIDATOR({**schema, "$defs": S.DEFS})


@dataclass(frozen=True)
class MirroredFormat:
    """What the code that runs a library adds to the mirrored format."""

    driver: dict[str, Any]                   # top-level key -> JSON Schema (order, outcome)
    driver_required: tuple[str, ...] = ()
    features: dict[str, frozenset[str]] = field(default_factory=dict)  # role -> names

    def schema(self) -> dict[str, Any]:
        return S.mirrored_schema(self.driver, self.driver_required)


@dataclass
class _Format:
    case: jsonschema.Draft202012Validator
    kinds: dict[str, jsonschema.Draft202012Validator]
    mirrored: MirroredFormat | None = None

    @property
    def kind_names(self) -> str:
        return ", ".join(self.kinds)


_CONFORMANCE = _Format(_validator(S.case_schema(_SHALLOW_STEPS)),
                       {kind: _validator(body) for kind, body in _KIND_SCHEMAS.items()})


def _mirrored_format(fmt: MirroredFormat) -> _Format:
    return _Format(
        _validator(S.mirrored_case_schema(_SHALLOW_STEPS, fmt.driver, fmt.driver_required)),
        {kind: _validator(body)
         for kind, body in S.mirrored_step_kind_schemas(_SHALLOW_STEPS).items()}, fmt)


def _message(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "oneOf":
        options = schema.get("oneOf", [])
        required = [o.get("required", [None])[0] for o in options
                    if isinstance(o, dict) and list(o) == ["required"]]
        if required and len(required) == len(options):
            present = [k for k in required if isinstance(error.instance, dict)
                       and k in error.instance]
            if len(present) > 1:
                return f"give only one of {', '.join(required)} (found {', '.join(present)})"
            return f"needs exactly one of {', '.join(required)}"
        if "description" in schema:
            return f"{error.instance!r} is not valid here: expected {schema['description']}"
        # pick the most specific error among the alternatives
        best = jsonschema.exceptions.best_match(error.context) if error.context else None
        if best is not None:
            return _message(best)
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum" and len(schema.get("enum", [])) > 12:
        return f"{error.instance!r} is not a known value (e.g. a packet type name such as " \
               f"SUBMIT_JOB)"
    return error.message


class _FileChecker:
    def __init__(self, file: str, known_capabilities: set[str] | None,
                 fmt: _Format = _CONFORMANCE) -> None:
        self.file = file
        self.known = known_capabilities
        self.fmt = fmt
        self.opens = "accept" if fmt.mirrored else "connect"
        self.errors: list[LoadError] = []

    def error(self, doc: Any, path: list[Any], message: str) -> None:
        self.errors.append(LoadError(self.file, line_of(doc, path), field_path(path), message))

    def schema_errors(self, validator: jsonschema.Draft202012Validator, instance: Any,
                      doc: Any, base: list[Any]) -> bool:
        found = False
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
            found = True
            self.error(doc, base + list(err.absolute_path), _message(err))
        return found

    def check_case(self, doc: Any) -> Scenario | None:
        if not isinstance(doc, PosDict):
            self.error(doc, [], "a scenario is a mapping with id, title, level, source, steps")
            return None
        before = len(self.errors)
        if self.schema_errors(self.fmt.case, doc, doc, []):
            return None
        if self.fmt.mirrored is not None:
            self.known = set(self.fmt.mirrored.features.get(doc["role"], ())) or None
        self.bindings: dict[str, tuple[str, list[Any]]] = {}
        self.restarts: list[tuple[list[Any], str]] = []
        servers = self.check_servers(doc)
        connected = self.declare(doc, doc.get("actors", []), ["actors"])
        used: list[tuple[list[Any], str]] = []
        self.check_steps(doc, doc["steps"], ["steps"], connected, used, in_alternative=False)
        if "cleanup" in doc:
            self.check_steps(doc, doc["cleanup"], ["cleanup"], connected, used,
                             in_alternative=False)
        for path, name in used:
            if name not in connected:
                self.error(doc, path, f"actor {name!r} is never connected: list it under "
                                      f"'actors' or add a '{self.opens}: {name}' step")
        known_servers = {S.MAIN_SERVER, *servers}
        for actor, (server, path) in self.bindings.items():
            if server not in known_servers:
                self.error(doc, path, f"actor {actor!r} is bound to server {server!r}, which "
                           f"is not declared under 'servers' (declared: "
                           f"{', '.join(sorted(known_servers))})")
        for path, server in self.restarts:
            if server == S.MAIN_SERVER:
                self.error(doc, path, "'main' is the server under test, shared with other "
                           "cases: declare a server under 'servers' and restart that one")
            elif server not in servers:
                self.error(doc, path, f"server {server!r} is not declared under 'servers'")
        for i, cap in enumerate(doc.get("requires", [])):
            if self.known is not None and cap not in self.known:
                self.error(doc, ["requires", i], self.unknown_requirement(doc, cap))
        if len(self.errors) > before:
            return None
        return Scenario(
            id=doc["id"], title=doc["title"], level=doc["level"], source=doc["source"],
            steps=doc["steps"], cleanup=doc.get("cleanup") or [], file=self.file,
            line=doc.line,
            description=doc.get("description", ""), tags=list(doc.get("tags", [])),
            requires=list(doc.get("requires", [])),
            actors=[name for name, _, _ in actor_declarations(doc.get("actors", []))],
            timeout=doc.get("timeout"), noise=list(doc.get("noise", [])),
            exclusive=doc.get("exclusive", ""), servers=servers,
            actor_servers={a: s for a, (s, _) in self.bindings.items() if s != S.MAIN_SERVER},
            restarted=sorted({s for _, s in self.restarts}),
            role=doc.get("role", ""),
            driver={k: doc[k] for k in (self.fmt.mirrored.driver if self.fmt.mirrored else ())
                    if k in doc})

    def unknown_requirement(self, doc: Any, name: str) -> str:
        known = sorted(self.known or ())
        if self.fmt.mirrored is not None:
            return f"unknown {doc['role']} feature {name!r}; known: {', '.join(known)}"
        return f"unknown capability {name!r}; the probe knows e.g. {', '.join(known[:6])} ..."

    def check_servers(self, doc: Any) -> dict[str, ServerConfig]:
        servers: dict[str, ServerConfig] = {}
        for name, value in (doc.get("servers") or {}).items():
            if name == S.MAIN_SERVER:
                self.error(doc, ["servers", name], "'main' is the server under test and is "
                           "always there; give the extra server another name")
                continue
            try:
                servers[name] = parse_config(value)
            except ValueError as exc:
                self.error(doc, ["servers", name], str(exc))
        return servers

    def declare(self, doc: Any, body: Any, path: list[Any]) -> set[str]:
        """Record the server each declared actor is bound to; the names declared."""
        names = set()
        for actor, server, sub in actor_declarations(body):
            names.add(actor)
            where = [*path, *sub]
            if server is None:
                if actor not in self.bindings:
                    self.bindings[actor] = (S.MAIN_SERVER, where)
                continue
            first = self.bindings.get(actor)
            if first is not None and first[0] != server:
                self.error(doc, where, f"actor {actor!r} is bound to server {server!r} here "
                           f"but to {first[0]!r} at line {line_of(doc, first[1])}: an actor "
                           f"belongs to one server")
                continue
            self.bindings[actor] = (server, where)
        return names

    def check_steps(self, doc: Any, steps: Any, path: list[Any], connected: set[str],
                    used: list[tuple[list[Any], str]], in_alternative: bool) -> None:
        if not isinstance(steps, PosList):
            self.error(doc, path, "steps must be a list")
            return
        for i, step in enumerate(steps):
            here = [*path, i]
            if not isinstance(step, PosDict):
                self.error(doc, here, f"a step is a mapping with one of: "
                                      f"{self.fmt.kind_names}")
                continue
            kinds = [k for k in step if k != "note"]
            if len(kinds) != 1 or kinds[0] not in self.fmt.kinds:
                unknown = [k for k in kinds if k not in self.fmt.kinds]
                what = (f"unknown step kind {unknown[0]!r}" if unknown
                        else "a step has exactly one kind" if kinds else "empty step")
                self.error(doc, here, f"{what}; step kinds are {self.fmt.kind_names}")
                continue
            kind = kinds[0]
            body = step[kind]
            if self.schema_errors(self.fmt.kinds[kind], body, doc, [*here, kind]):
                continue
            if in_alternative and kind not in ("expect", "expect_all", "expect_silence",
                                               "expect_close", "sleep"):
                self.error(doc, [*here, kind], "inside alternatives only expect, expect_all, "
                           "expect_silence, expect_close and sleep are allowed (a branch that "
                           "fails must not have changed the server)")
            self.check_body(doc, kind, body, [*here, kind], connected, used, in_alternative)

    def check_body(self, doc: Any, kind: str, body: Any, path: list[Any], connected: set[str],
                   used: list[tuple[list[Any], str]], in_alternative: bool) -> None:
        if kind == "connect":
            connected.update(self.declare(doc, body, path))
        elif kind == "accept":
            connected.add(body["name"] if isinstance(body, dict) else body)
        elif kind == "restart":
            self.restarts.append(([*path, "server"], body["server"]))
        elif kind == "repeat":
            self.check_steps(doc, body["steps"], [*path, "steps"], connected, used,
                             in_alternative)
        elif kind == "alternatives":
            for n, branch in enumerate(body):
                self.check_steps(doc, branch["steps"], [*path, n, "steps"], connected, used,
                                 True)
        elif kind == "expect_all":
            for n, item in enumerate(body):
                used.append(([*path, n, "on"], item["on"]))
                self.check_packet_args(doc, item, [*path, n], sending=False)
        elif kind in ("send", "expect", "expect_close", "expect_silence", "admin",
                      "wait_until", "close", "assign", "wait_read"):
            names = body if kind == "close" else body["on"]
            for name in [names] if isinstance(names, str) else names:
                used.append(([*path] if kind == "close" else [*path, "on"], name))
            if kind == "send" and "packets" in body:
                for n, p in enumerate(body["packets"]):
                    self.check_packet_args(doc, p, [*path, "packets", n], sending=True)
            elif kind in ("send", "expect"):
                self.check_packet_args(doc, body, path, sending=kind == "send")

    def check_packet_args(self, doc: Any, body: Any, path: list[Any], sending: bool) -> None:
        if "packet" not in body:
            return
        types = [body["packet"]] if isinstance(body["packet"], str) else body["packet"]
        args = body.get("args")
        for name in types:
            spec = SPECS[PacketType[name]]
            if args is None:
                if sending and spec.args:
                    self.error(doc, [*path, "packet"], f"{name} needs args: "
                               f"{', '.join(spec.args)}")
                continue
            if isinstance(args, list):
                if len(args) != spec.arity:
                    self.error(doc, [*path, "args"], f"{name} takes {spec.arity} argument(s) "
                               f"({', '.join(spec.args) or 'none'}), the list has {len(args)}")
                continue
            allowed = spec.args if sending or len(types) == 1 else {
                a for t in types for a in SPECS[PacketType[t]].args}
            bad = [a for a in args if a not in allowed]
            if bad:
                self.error(doc, [*path, "args", bad[0]], f"{name} has no argument {bad[0]!r}; "
                           f"its arguments are {', '.join(spec.args) or 'none'}")
                break
            if sending:
                missing = [a for a in spec.args if a not in args]
                if missing:
                    self.error(doc, [*path, "args"], f"{name} is missing argument(s) "
                               f"{', '.join(missing)} (write \"\" for an empty one)")


def load_mirrored_file(path: Path | str, fmt: MirroredFormat, display: str | None = None,
                       ) -> tuple[list[Scenario], list[LoadError]]:
    """The mirrored scenarios in one file, or the errors that stop it from loading."""
    return load_file(path, display=display, _fmt=_mirrored_format(fmt))


def load_file(path: Path | str, known_capabilities: set[str] | None = None,
              display: str | None = None, _fmt: _Format = _CONFORMANCE,
              ) -> tuple[list[Scenario], list[LoadError]]:
    """The scenarios in one file, or the errors that stop it from loading."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [LoadError(name, 0, "(file)", f"cannot read: {exc}")]
    try:
        docs = load_documents(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_where(exc)
        return [], [LoadError(name, line, "(yaml)", f"not valid YAML: {problem}")]
    if not docs:
        return [], [LoadError(name, 1, "(file)", "no scenario in this file")]
    checker = _FileChecker(name, known_capabilities, _fmt)
    scenarios = []
    for doc in docs:
        scenario = checker.check_case(doc)
        if scenario is not None:
            scenarios.append(scenario)
    if checker.errors:
        return [], checker.errors
    return scenarios, []


def find_files(paths: list[Path | str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml")))
        elif p.suffix in (".yaml", ".yml"):
            out.append(p)
    return out
