"""The scenario format as a JSON Schema (draft 2020-12).

Strategy: the schema is plain Python data built from small named pieces
(value, matcher, row, step kinds), so each piece is written once and the
packet-type enum comes from the codec's table. ``gearcheck schema`` writes it
to conformance/scenario.schema.json, where editors (the YAML language
server's ``# yaml-language-server: $schema=...``) pick it up; the loader
validates every document against the same object. Anything the schema
cannot say (argument names per packet type, known step references) is
checked by the loader afterwards with the same file:line:field reporting.

Mirrored scenarios (the harness in the server's place, a library connecting
to it) are built from the same pieces: the same values, matchers and step
bodies, minus the steps that open connections or talk to a server's admin
port, plus ``accept`` and ``assign``; the keys the library's driver reads
(``order``, ``outcome``) are supplied by the code that runs the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..protocol import PacketType
from ..targets.configs import QUEUE_BACKENDS
from .tls_checks import TLS_REFUSED_SCHEMA

SCHEMA_ID = "https://gearcheck.invalid/conformance/scenario.schema.json"
PACKET_NAMES = [t.name for t in PacketType]
ID_PATTERN = r"^GM-[A-Z]+-[0-9]{3}[a-z]?$"
ACTOR_PATTERN = r"^[a-z][a-z0-9_]*$"
LEVELS = ["MUST", "SHOULD", "OBSERVED"]

_actor = {"type": "string", "pattern": ACTOR_PATTERN,
          "description": "the name of a connection in this case (client, worker, admin, ...)"}
_actors = {"oneOf": [_actor, {"type": "array", "items": _actor, "minItems": 1}]}
MAIN_SERVER = "main"
SERVER_SHORTHANDS = ["default", "exceptions_on", "persistent_queue", "fresh"]
_server_name = {"type": "string", "pattern": ACTOR_PATTERN,
                "description": "'main' (the server under test) or a name under 'servers'"}
_bound_actor = {"type": "object", "additionalProperties": False, "required": ["name", "server"],
                "description": "a connection to one of the case's servers",
                "properties": {"name": _actor, "server": _server_name}}
_actor_decl = {"oneOf": [_actor, _bound_actor]}
_connect = {"oneOf": [_actor, _bound_actor,
                      {"type": "array", "items": _actor_decl, "minItems": 1}]}
_server_config = {  # if/then/else, so an error names the exact key and problem
    "if": {"type": "string"},
    "then": {"enum": SERVER_SHORTHANDS},
    "else": {"type": "object", "additionalProperties": False, "minProperties": 1,
             "properties": {"exceptions": {"type": "boolean"},
                            "job_retries": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "persistent_queue": {"type": "boolean"},
                            "queue_backend": {"enum": list(QUEUE_BACKENDS)},
                            "fresh": {"type": "boolean"}}},
}
_servers = {"type": "object", "minProperties": 1,
            "propertyNames": {"pattern": ACTOR_PATTERN},
            "additionalProperties": _server_config,
            "description": "extra servers of the same implementation this case needs, by "
                           "name -> configuration (default, exceptions_on, persistent_queue, "
                           "fresh, or a mapping of exceptions/job_retries/persistent_queue/"
                           "queue_backend/fresh); 'main' (the server under test) is implicit"}
_seconds = {"type": "number", "exclusiveMinimum": 0, "maximum": 120}

_value = {
    "description": "bytes to send: text (UTF-8, ${placeholders}, YAML escapes such as \\0), "
                   "an integer (sent as decimal text), {hex: ...}, or {fill: X, size: N}",
    "oneOf": [
        {"type": "string"},
        {"type": "integer"},
        {"type": "object", "additionalProperties": False, "required": ["hex"],
         "properties": {"hex": {"type": "string"}}},
        {"type": "object", "additionalProperties": False, "required": ["fill", "size"],
         "properties": {"fill": {"type": "string", "minLength": 1},
                        "size": {"type": "integer", "minimum": 0, "maximum": 1 << 26}}},
    ],
}

_length = {"oneOf": [
    {"type": "integer", "minimum": 0},
    {"type": "object", "additionalProperties": False, "minProperties": 1,
     "properties": {"min": {"type": "integer", "minimum": 0},
                    "max": {"type": "integer", "minimum": 0}}},
]}

_matcher_ref = {"$ref": "#/$defs/matcher"}
_matcher = {
    "description": "how a received field is judged: a string or integer (exact, with "
                   "${placeholders}), null (anything), or a mapping combining "
                   "equals/hex/regex/len/any/one_of/not with an optional capture",
    "oneOf": [
        {"type": "string"},
        {"type": "integer"},
        {"type": "null"},
        {"type": "object", "additionalProperties": False, "minProperties": 1,
         "properties": {
             "equals": _value,
             "hex": {"type": "string"},
             "regex": {"type": "string"},
             "len": _length,
             "any": {"const": True},
             "one_of": {"type": "array", "items": _matcher_ref, "minItems": 1},
             "not": _matcher_ref,
             "capture": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
         }},
    ],
}

_packet_name = {"enum": PACKET_NAMES}
_noise = {"type": "array", "items": _packet_name,
          "description": "packet types skipped (and kept in the transcript) while waiting"}

_send = {
    "type": "object", "additionalProperties": False, "required": ["on"],
    "properties": {
        "on": _actor,
        "packet": _packet_name,
        "args": {"oneOf": [{"type": "object", "additionalProperties": _value},
                           {"type": "array", "items": _value}]},
        "magic": {"oneOf": [{"enum": ["REQ", "RES"]}, {"type": "object"}]},
        "packets": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["packet"],
            "properties": {"packet": _packet_name,
                           "args": {"oneOf": [{"type": "object", "additionalProperties": _value},
                                              {"type": "array", "items": _value}]},
                           "magic": {"enum": ["REQ", "RES"]},
                           "times": {"type": "integer", "minimum": 1, "maximum": 100000}}}},
        "raw": {"type": "string", "description": "hex bytes; spaces and newlines ignored"},
        "line": {"type": "string", "description": "an admin text line; \\n is appended "
                                                  "unless it already ends with one"},
        "malformed": {
            "type": "object", "additionalProperties": False,
            "description": "a deliberately broken packet built field by field",
            "properties": {
                "magic": _value,
                "type": {"oneOf": [{"type": "integer", "minimum": 0,
                                    "maximum": 0xFFFFFFFF}, _packet_name]},
                "args": {"type": "array", "items": _value,
                         "description": "fields joined with NUL (drop one to miss a NUL)"},
                "payload": _value,
                "size": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF,
                         "description": "declared size, overriding the real length"},
            }},
        "chunk": {"type": "integer", "minimum": 1,
                  "description": "write the bytes in pieces of this many bytes"},
    },
    "oneOf": [
        {"required": ["packet"]}, {"required": ["packets"]}, {"required": ["raw"]},
        {"required": ["line"]}, {"required": ["malformed"]},
    ],
}

_expect_item = {
    "type": "object", "additionalProperties": False, "required": ["on"],
    "properties": {
        "on": _actor,
        "packet": {"oneOf": [_packet_name, {"type": "array", "items": _packet_name,
                                            "minItems": 1}]},
        "args": {"oneOf": [{"type": "object", "additionalProperties": _matcher_ref},
                           {"type": "array", "items": _matcher_ref}]},
        "magic": {"enum": ["REQ", "RES", "any"]},
        "line": _matcher_ref,
        "noise": _noise,
        "timeout": _seconds,
    },
    "oneOf": [{"required": ["packet"]}, {"required": ["line"]}],
}

_row = {"oneOf": [_matcher_ref, {"type": "array", "items": _matcher_ref}],
        "description": "a whole row (matcher) or its columns (list; '...' ends a prefix match)"}
_reply = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {
        "line": _matcher_ref,
        "rows": {"type": "array", "items": _row},
        "rows_any_order": {"type": "array", "items": _row},
        "contains": {"type": "array", "items": _row},
        "excludes": {"type": "array", "items": _row},
        "count": _length,
        "filter": _matcher_ref,
        "sep": {"type": "string", "minLength": 1},
    },
}
_admin = {
    "type": "object", "additionalProperties": False, "required": ["on", "command"],
    "properties": {
        "on": _actor,
        "command": {"type": "string"},
        "eol": {"enum": ["\n", "\r\n"]},
        "reply": _reply,
        "timeout": _seconds,
    },
}
_wait_until = {
    "type": "object", "additionalProperties": False, "required": ["on", "command", "reply"],
    "properties": {
        "on": _actor, "command": {"type": "string"}, "reply": _reply,
        "within": _seconds, "every": _seconds,
    },
}

_steps_ref = {"$ref": "#/$defs/steps"}


def _step(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": [kind],
            "properties": {kind: body, "note": {"type": "string"}}}


def step_kind_schemas(_steps_ref: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The body schema of each step kind; ``_steps_ref`` is what nested step lists use."""
    return {
        "connect": _connect,
        "close": _actors,
        "send": _send,
        "expect": _expect_item,
        "expect_all": {"type": "array", "items": _expect_item, "minItems": 1},
        "expect_silence": {"type": "object", "additionalProperties": False, "required": ["on"],
                           "properties": {"on": _actors, "for": _seconds}},
        "expect_close": {"type": "object", "additionalProperties": False, "required": ["on"],
                         "properties": {"on": _actor, "timeout": _seconds, "noise": _noise}},
        "admin": _admin,
        "wait_until": _wait_until,
        "sleep": _seconds,
        "restart": {"type": "object", "additionalProperties": False, "required": ["server"],
                    "properties": {"server": _server_name,
                                   "how": {"enum": ["graceful", "kill"],
                                           "description": "graceful: SIGTERM; kill: kill -9 "
                                                          "(a crash)"}}},
        "tls_refused": TLS_REFUSED_SCHEMA,
        "repeat": {"type": "object", "additionalProperties": False, "required": ["times", "steps"],
                   "properties": {"times": {"type": "integer", "minimum": 1, "maximum": 100000},
                                  "as": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                                  "steps": _steps_ref}},
        "alternatives": {"type": "array", "minItems": 2, "items": {
            "type": "object", "additionalProperties": False, "required": ["verdict", "steps"],
            "properties": {"verdict": {"enum": ["PASS", "NON-STRICT"]},
                           "reason": {"type": "string"},
                           "steps": _steps_ref}}},
    }


STEP_KINDS = tuple(step_kind_schemas(_steps_ref))
DEFS = {"matcher": _matcher}

# -- mirrored scenarios: the harness is the server, a library under test connects to it ------
MIRRORED_SCHEMA_ID = "https://gearcheck.invalid/conformance/mirrored.schema.json"
MIRRORED_ID_PATTERN = r"^LIB-(CLIENT|WORKER)-[0-9]{3}$"
ROLES = ["client", "worker"]
OPENING_ONLY_KINDS = ("connect", "admin", "wait_until", "restart", "tls_refused")  # not mirrored
_accept = {
    "description": "wait for the library's next connection and name it (an actor), or "
                   "{name, within, or_gives_up}",
    "oneOf": [_actor, {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {"name": _actor, "within": _seconds,
                       "or_gives_up": {"type": "boolean",
                                       "description": "instead of connecting, the library "
                                                      "may report that it gave up (NON-STRICT)"}}}],
}
_assign = {
    "type": "object", "additionalProperties": False, "required": ["on", "handle", "function"],
    "description": "a job, as JOB_ASSIGN after GRAB_JOB and as JOB_ASSIGN_UNIQ otherwise",
    "properties": {"on": _actor, "handle": _value, "function": _value, "unique": _value,
                   "data": _value},
}
_wait_read = {
    "type": "object", "additionalProperties": False, "required": ["on"],
    "description": "wait until the library's process has read every byte sent to it on this "
                   "connection (the kernel's socket queues; Linux, a library on this machine), "
                   "so that the next send reaches it in a read of its own",
    "properties": {"on": _actor, "within": _seconds},
}


def mirrored_step_kind_schemas(steps_ref: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The step kinds of a mirrored case: the conformance ones that do not open anything,
    plus ``accept``, ``assign`` and ``wait_read``."""
    kinds = {k: v for k, v in step_kind_schemas(steps_ref).items()
             if k not in OPENING_ONLY_KINDS}
    return {"accept": _accept, **kinds, "assign": _assign, "wait_read": _wait_read}


MIRRORED_STEP_KINDS = tuple(mirrored_step_kind_schemas(_steps_ref))


def case_schema(steps: dict[str, Any]) -> dict[str, Any]:
    """The top-level case schema with ``steps`` as given (full, or a shallow array)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "title", "level", "source", "steps"],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN,
                   "description": "stable requirement ID, GM-AREA-NNN"},
            "title": {"type": "string", "minLength": 3},
            "level": {"enum": LEVELS},
            "source": {"type": "string", "minLength": 1,
                       "description": "the PROTOCOL passage or gearmand source it rests on"},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string",
                                                "pattern": r"^[A-Za-z0-9_-]+$"}},
            "requires": {"type": "array", "items": {"type": "string",
                                                    "pattern": r"^[a-z]+:[A-Za-z0-9_ .-]+$"}},
            "servers": _servers,
            "actors": {"type": "array", "items": _actor_decl,
                       "description": "connections opened before the first step (a name, "
                                      "or {name, server} for one of 'servers')"},
            "timeout": _seconds,
            "noise": _noise,
            "exclusive": {"type": "string", "minLength": 3,
                          "description": "why the case needs the server to itself (it reads "
                                         "or changes state every connection shares); such "
                                         "a case never runs beside another"},
            "steps": steps,
            "cleanup": {**steps, "description": "steps run after the case's own steps, "
                                                "whatever its verdict, to undo what the "
                                                "harness's clean-up cannot (state outside "
                                                "the case's ${fn} names); their failures are "
                                                "evidence, never the verdict"},
        },
    }


def mirrored_case_schema(steps: dict[str, Any], driver: dict[str, Any],
                         driver_required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A mirrored case: the conformance top level without ``servers``, with ``role``, the
    library's features as ``requires``, accepted ``actors``, and the keys its driver reads
    (``driver``: key -> schema, given by the code that runs the library)."""
    schema = case_schema(steps)
    props = {k: v for k, v in schema["properties"].items()
             if k not in ("servers", "exclusive", "cleanup")}
    props.update({
        "id": {"type": "string", "pattern": MIRRORED_ID_PATTERN,
               "description": "stable ID, LIB-CLIENT-NNN or LIB-WORKER-NNN"},
        "role": {"enum": ROLES, "description": "what the library under test plays; the "
                                               "harness plays the server"},
        "requires": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z_]+$"},
                     "description": "library features (a library without one: UNSUPPORTED)"},
        "actors": {"type": "array", "items": _actor, "minItems": 1,
                   "description": "the library's connections, accepted before the first "
                                  "step in the order it opens them"},
        **driver,
    })
    return {**schema, "properties": props,
            "required": [*schema["required"], "role", "actors", *driver_required]}


def _document(schema_id: str, title: str, description: str, case: dict[str, Any],
              kinds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id, "title": title, "description": description,
    }
    schema.update(case)
    schema["$defs"] = {
        "matcher": _matcher,
        "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
        "step": {"oneOf": [_step(kind, body) for kind, body in kinds.items()]},
    }
    return schema


def scenario_schema() -> dict[str, Any]:
    """The full schema, as exported for editors."""
    return _document(SCHEMA_ID, "gearcheck conformance scenario",
                     "One Gearman conformance case: identity, connections (actors) and "
                     "steps. See docs/scenario-format.md.",
                     case_schema(_steps_ref), step_kind_schemas(_steps_ref))


def mirrored_schema(driver: dict[str, Any], driver_required: tuple[str, ...] = ()
                    ) -> dict[str, Any]:
    """The full mirrored schema, as exported for editors."""
    return _document(MIRRORED_SCHEMA_ID, "gearcheck mirrored scenario",
                     "The harness as the server: what a client or worker library must send "
                     "and what the harness answers. See docs/scenario-format.md, "
                     "'Mirrored scenarios'.",
                     mirrored_case_schema(_steps_ref, driver, driver_required),
                     mirrored_step_kind_schemas(_steps_ref))


def write_schema(path: Path, schema: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema or scenario_schema(), indent=2) + "\n")
