"""report.json: the one serialised form of a run, checked against a versioned JSON Schema.

Strategy: ``RunReport.to_dict`` gives the data; this module turns values JSON
cannot hold (bytes, sets, enums) into plain ones, validates the result against
``report.schema.json`` (shipped with the package, major version 1) *before*
writing, so a report that reaches disk always satisfies the schema that every
consumer (gate, matrix, HTML) relies on. ``load_report`` is the way back: it
names the file and the JSON path of the first problem instead of raising a
bare ``KeyError`` somewhere in a consumer.

Validation runs the schema compiled to Python by fastjsonschema (a run's
report holds tens of thousands of transcript entries: jsonschema's
interpreter took seconds over them); only when that rejects the data does
jsonschema run too, for its best-match message and JSON path.
"""

from __future__ import annotations

import json
import re
import secrets
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

from ..results import SCHEMA_VERSION, RunReport

SCHEMA_RESOURCE = "report.schema.json"


class ReportFormatError(ValueError):
    """A report cannot be read or does not satisfy the report schema."""


@cache
def report_schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _fast_validator() -> Any:
    return fastjsonschema.compile(report_schema())


@cache
def _explaining_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(report_schema())


def _plain(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def report_to_json_text(report: RunReport) -> str:
    """report.json's text (bytes become hex, unknown objects their repr).

    Indented one space a level, except that each transcript entry is one line.
    ``json.dumps`` with an indent runs the pure-Python encoder, which took
    seconds over a run's tens of thousands of entries; so the entries are
    encoded by the C encoder on their own and put in place of unique
    placeholders in the indented text.
    """
    data = report.to_dict()
    encode = json.JSONEncoder(default=_plain, ensure_ascii=False).encode
    token = f"\0gearcheck-entry-{secrets.token_hex(8)}-"
    entries: list[str] = []
    for result in data["results"]:
        placeholders = []
        for entry in result["transcript"]:
            placeholders.append(f"{token}{len(entries)}")
            entries.append(encode(entry))
        result["transcript"] = placeholders
    text = json.dumps(data, default=_plain, indent=1, ensure_ascii=False)
    marker = re.compile(re.escape(json.dumps(token)[:-1]) + r'(\d+)"')
    return marker.sub(lambda m: entries[int(m.group(1))], text) + "\n"


def report_to_json_data(report: RunReport) -> dict[str, Any]:
    """The report as plain JSON data (bytes become hex, unknown objects their repr)."""
    data: dict[str, Any] = json.loads(report_to_json_text(report))
    return data


def validate_report_data(data: object, *, where: str = "report") -> None:
    """Raise ``ReportFormatError`` naming the JSON path of the first schema violation."""
    if isinstance(data, dict):
        version = str(data.get("schema_version", ""))
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ReportFormatError(
                f"{where}: schema_version {data.get('schema_version')!r} is not compatible with "
                f"this gearcheck (reads {SCHEMA_VERSION.split('.')[0]}.x)")
    try:
        _fast_validator()(data)
        return
    except fastjsonschema.JsonSchemaException as fast_error:
        error = jsonschema.exceptions.best_match(_explaining_validator().iter_errors(data))
        if error is None:  # the two validators disagree: still a rejection
            raise ReportFormatError(f"{where}: {fast_error}") from None
    path = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]"
                         for p in error.absolute_path)
    raise ReportFormatError(f"{where}: {path}: {error.message}")


def write_json(report: RunReport, path: Path | str) -> Path:
    path = Path(path)
    text = report_to_json_text(report)
    validate_report_data(json.loads(text), where=f"report for {report.server.address}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_report(path: Path | str) -> RunReport:
    """Read and validate report.json; every problem is a ``ReportFormatError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportFormatError(f"{path}: cannot read report ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from exc
    validate_report_data(data, where=str(path))
    try:
        return RunReport.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise ReportFormatError(f"{path}: does not fit the report model ({exc})") from exc
