"""Known library bugs for the interop matrix: fixtures/baselines/interop.yaml.

Format::

    known_failures:                 # matrix cells
      - scenario: IOP-EXC-001       # glob patterns (fnmatch), a list of them, or "*"
        client: [pygearman, python3-gearman]
        worker: "*"
        server: "*"
        reason: why it fails (one sentence, with where it was seen)
        flaky: true                 # optional: a race in the library; a PASS stays PASS
    as_server:                      # harness-as-server cases, per library
      - library: gearman
        case: LIB-CLIENT-007
        reason: ...

Strategy: an entry turns the FAIL it predicts into XFAIL and a PASS into
XPASS (the entry is stale and must go), except a ``flaky`` entry (a timing
race inside the library, which loses only some runs), whose PASS stays PASS;
NON-STRICT, UNSUPPORTED and ERROR are left alone. The verdict before
the baseline and the reason go into the case's evidence. Every problem
in the file names the entry and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from .. import paths
from ..results import CaseResult, Verdict

BASELINE_PATH = paths.BASELINES_DIR / "interop.yaml"
MATRIX_KEYS = {"scenario", "client", "worker", "server", "reason", "flaky"}
SERVER_KEYS = {"library", "case", "reason", "flaky"}
_NOT_PATTERNS = {"reason", "flaky"}


class InteropBaselineError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    patterns: dict[str, tuple[str, ...]]
    reason: str
    where: str  # "file: known_failures[3]"
    flaky: bool = False

    def matches(self, fields: dict[str, str]) -> bool:
        return all(any(fnmatchcase(fields[k], p) for p in pats)
                   for k, pats in self.patterns.items())


@dataclass
class InteropBaseline:
    path: str
    matrix: list[Entry]
    as_server: list[Entry]


def _patterns(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ("*",)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InteropBaselineError(f"{where}.{key}: must be a name, a glob or a list of them")


def _entries(doc: dict[str, Any], section: str, keys: set[str], path: Path) -> list[Entry]:
    items = doc.get(section) or []
    if not isinstance(items, list):
        raise InteropBaselineError(f"{path}: {section}: must be a list")
    out = []
    for i, item in enumerate(items):
        where = f"{path}: {section}[{i}]"
        if not isinstance(item, dict):
            raise InteropBaselineError(f"{where}: must be a mapping")
        unknown = set(item) - keys
        if unknown:
            raise InteropBaselineError(f"{where}: unknown key(s) {sorted(unknown)}; "
                                       f"allowed {sorted(keys)}")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InteropBaselineError(f"{where}.reason: every known failure needs a reason")
        flaky = item.get("flaky", False)
        if not isinstance(flaky, bool):
            raise InteropBaselineError(f"{where}.flaky: must be true or false")
        pats = {k: _patterns(item.get(k), where, k) for k in keys - _NOT_PATTERNS}
        out.append(Entry(pats, reason.strip(), where, flaky))
    return out


def load(path: Path = BASELINE_PATH) -> InteropBaseline:
    if not path.exists():
        return InteropBaseline(str(path), [], [])
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InteropBaselineError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InteropBaselineError(f"{path}: top level must be a mapping")
    unknown = set(doc) - {"known_failures", "as_server", "notes"}
    if unknown:
        raise InteropBaselineError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    return InteropBaseline(str(path), _entries(doc, "known_failures", MATRIX_KEYS, path),
                           _entries(doc, "as_server", SERVER_KEYS, path))


def apply(result: CaseResult, entries: list[Entry], fields: dict[str, str]) -> CaseResult:
    """Apply the first matching entry to ``result`` in place; returns it."""
    entry = next((e for e in entries if e.matches(fields)), None)
    if entry is None or result.verdict not in (Verdict.FAIL, Verdict.PASS):
        return result
    if entry.flaky and result.verdict is Verdict.PASS:
        result.evidence["baseline"] = {"verdict_before": "PASS", "reason": entry.reason,
                                       "entry": entry.where, "flaky": True}
        return result
    result.evidence["baseline"] = {"verdict_before": result.verdict.value,
                                   "reason": entry.reason, "entry": entry.where}
    if result.verdict is Verdict.FAIL:
        result.verdict = Verdict.XFAIL
        result.message = f"known: {entry.reason} | {result.message}"
    else:
        result.verdict = Verdict.XPASS
        result.message = f"passed, but the baseline expects a failure ({entry.reason})"
    return result
